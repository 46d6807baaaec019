"""ClientLanes: each client lent to one thread at a time, at most ``lanes`` of them, a bounded wait, close."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from satellite.http_clients import TlsOptions, build_client_lanes, build_http_client
from satellite.http_lanes import ClientLanes
from tests.support import wait_until


class HeldServer:
    """Mock transports whose answers (but to ``/fast``) wait for ``release``; counts requests in flight per client."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.in_flight: Counter[int] = Counter()
        self.most_at_once: Counter[int] = Counter()
        self.made: list[httpx.Client] = []
        self.fast: list[str] = []  # who asked for /fast, in the order they were served
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        lane = len(self.made)

        def answer(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/fast":
                self.fast.append(request.url.params.get("who", ""))
                return httpx.Response(200, json={"lane": lane})
            with self._lock:
                self.in_flight[lane] += 1
                self.most_at_once[lane] = max(self.most_at_once[lane], self.in_flight[lane])
            assert self.release.wait(10), "the test never released the answers"
            with self._lock:
                self.in_flight[lane] -= 1
            return httpx.Response(200, json={"lane": lane})

        client = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://ado.test")
        self.made.append(client)
        return client

    def busy(self) -> int:
        with self._lock:
            return sum(self.in_flight.values())


def run_held(server: HeldServer, requests: int, request) -> None:
    """``requests`` threads each make ``request``; once three answers are held, all are released."""
    threads = [threading.Thread(target=request) for _ in range(requests)]
    for thread in threads:
        thread.start()
    wait_until(lambda: server.busy() == 3, 10, "three requests in flight")
    server.release.set()
    for thread in threads:
        thread.join(10)


def test_no_client_serves_two_threads_at_once_and_no_more_than_lanes_are_made():
    server = HeldServer()
    lanes = ClientLanes(server.client, 3, wait=None)
    answers: list[int] = []
    run_held(server, 7, lambda: answers.append(lanes.get("/x").json()["lane"]))
    lanes.close()
    assert len(answers) == 7 and len(server.made) == 3
    assert max(server.most_at_once.values()) == 1


def test_a_request_waits_for_a_free_lane_at_most_the_pool_timeout():
    server = HeldServer()
    lanes = ClientLanes(server.client, 1, wait=0.05)
    holder = threading.Thread(target=lambda: lanes.get("/slow"))
    holder.start()
    try:
        wait_until(lambda: server.busy() == 1, 10, "the only lane busy")
        with pytest.raises(httpx.PoolTimeout):
            lanes.get("/x")
    finally:
        server.release.set()
        holder.join(10)
    assert lanes.get("/x").status_code == 200  # the lane came back
    lanes.close()


def test_close_closes_idle_lanes_now_and_a_busy_one_when_its_request_ends():
    server = HeldServer()
    lanes = ClientLanes(server.client, 2, wait=None)
    holder = threading.Thread(target=lambda: lanes.get("/slow"))
    holder.start()
    wait_until(lambda: server.busy() == 1, 10, "a request in flight")
    lanes.get("/fast")  # on the second lane, idle afterwards
    busy, idle = server.made
    lanes.close()
    assert idle.is_closed and not busy.is_closed
    server.release.set()
    holder.join(10)
    assert busy.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        lanes.get("/fast")


def test_built_lanes_carry_the_base_url_and_the_headers():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with build_client_lanes(TlsOptions(), proxy=None, timeout=5, lanes=2, base_url="http://ado.test/tfs/C",
                            headers={"X-Test": "1"}, transport=httpx.MockTransport(answer)) as lanes:
        lanes.get("_apis/projects")
    assert str(seen[0].url) == "http://ado.test/tfs/C/_apis/projects"
    assert seen[0].headers["x-test"] == "1" and seen[0].headers["user-agent"].startswith("sei-satellite/")


def test_waiting_requests_get_lanes_in_the_order_they_asked():
    server = HeldServer()
    lanes = ClientLanes(server.client, 1, wait=None)
    holder = threading.Thread(target=lambda: lanes.get("/slow"))
    holder.start()
    wait_until(lambda: server.busy() == 1, 10, "the only lane busy")
    waiters = []
    for name in ("first", "second", "third"):
        waiter = threading.Thread(target=lambda name=name: lanes.get("/fast", params={"who": name}))
        waiter.start()
        waiters.append(waiter)
        wait_until(lambda: len(lanes._waiting) == len(waiters), 10, f"{name} queued")
    server.release.set()
    for thread in (holder, *waiters):
        thread.join(10)
    lanes.close()
    assert server.fast == ["first", "second", "third"]


def test_a_transport_factory_gives_each_lane_a_transport_of_its_own():
    """A real transport is a connection pool: shared by the lanes, they would queue on its lock (and meet
    encode/httpcore#1110), so ``transport_factory`` is called once per lane."""
    server = HeldServer()
    transports: list[httpx.MockTransport] = []

    def make() -> httpx.MockTransport:
        lane = len(transports)

        def answer(request: httpx.Request) -> httpx.Response:
            with server._lock:
                server.in_flight[lane] += 1
            assert server.release.wait(10), "the test never released the answers"
            return httpx.Response(200, json={"lane": lane})

        transports.append(httpx.MockTransport(answer))
        return transports[-1]

    lanes = build_client_lanes(TlsOptions(), proxy=None, timeout=30, lanes=3, base_url="http://ado.test",
                               transport_factory=make)
    run_held(server, 3, lambda: lanes.get("/x"))
    lanes.close()
    assert len(transports) == 3
    assert sorted(server.in_flight) == [0, 1, 2]  # one request on each lane's own transport


def test_a_transport_and_a_transport_factory_are_exclusive():
    with pytest.raises(ValueError, match="not both"):
        build_client_lanes(TlsOptions(), proxy=None, timeout=30, lanes=2, transport=httpx.MockTransport(lambda r: None),
                           transport_factory=lambda: httpx.MockTransport(lambda r: None))


def test_cookies_a_server_sets_are_kept_and_sent_back_and_answers_without_any_skip_the_jar(monkeypatch):
    """httpx's clients (a proxied lane, the uploads' client): answers without Set-Cookie skip httpx's cookie handling (no urllib wrappers, their headers not copied
    for the jar), and a cookie a load balancer sets is still kept: the next request carries it."""
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        if request.url.path == "/login":
            return httpx.Response(200, json={}, headers={"Set-Cookie": "affinity=node-2; Path=/"})
        return httpx.Response(200, json={})

    parsed: list[int] = []
    original = httpx.Cookies.extract_cookies
    monkeypatch.setattr(httpx.Cookies, "extract_cookies", lambda self, response: (parsed.append(1), original(self, response))[1])
    with build_http_client(TlsOptions(), proxy=None, timeout=5, base_url="http://ado.test",
                           transport=httpx.MockTransport(answer)) as client:
        client.get("/plain")
        assert parsed == []  # no Set-Cookie: httpx's cookies were not asked
        client.get("/login")
        client.get("/plain")
    assert parsed == [1]
    assert seen == [None, None, "affinity=node-2"]


def test_a_read_response_is_freed_when_dropped_without_the_cyclic_collector():
    """httpx's response stream refers back to its response; the lanes cut that cycle once the body is read,
    so a response (and its body) goes as soon as nothing holds it, not at the next collection."""
    import gc
    import weakref

    with build_client_lanes(TlsOptions(), proxy=None, timeout=5, lanes=1, base_url="http://ado.test",
                            transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"big": "x" * 1000}))) as lanes:
        enabled = gc.isenabled()
        gc.disable()
        try:
            response = lanes.get("/x")
            assert response.json() == {"big": "x" * 1000} and response.content  # still readable
            gone = weakref.ref(response)
            del response
            assert gone() is None
        finally:
            if enabled:
                gc.enable()

"""Fault injection over real sockets: every fault kind as a client meets it, deterministic per seed,
configurable at start, from the CLI and at run time, and never on the control routes."""

from __future__ import annotations

import argparse
import base64
import json
import socket
import time
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator import command
from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.faults import FaultPlan, FaultRule
from standins.ado_simulator.world.world import World, generate_world

pytestmark = pytest.mark.integration

PAT = "sim-pat"
V = {"api-version": "7.0"}
PROJECTS = "/tfs/DefaultCollection/_apis/projects"


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(7, "tiny")


@contextmanager
def serving(world: World, plan: FaultPlan | None = None) -> Iterator[tuple[str, httpx.Client]]:
    with serve_in_thread(create_app(world, faults=plan)) as server:
        with httpx.Client(base_url=server.url, auth=("", PAT), timeout=10) as client:
            yield server.url, client


def git_path(world: World) -> str:
    repo = world.repositories[0]
    return f"/tfs/DefaultCollection/{repo.project_id}/_apis/git/repositories/{repo.id}/commits"


def raw_exchange(url: str, path: str) -> bytes:
    """Send one GET on a plain socket and read until the server closes (raises on a reset)."""
    host, port = url.removeprefix("http://").split(":")
    auth = base64.b64encode(f":{PAT}".encode()).decode()
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"GET {path}?api-version=7.0 HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {auth}\r\n"
                     "Connection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


# -- each kind -----------------------------------------------------------------------------------


def test_latency_is_fixed_plus_jitter_and_spares_the_control_routes(world):
    with serving(world, FaultPlan(latency_ms=80, jitter_ms=20)) as (_, client):
        timings = []
        for _ in range(6):
            started = time.perf_counter()
            assert client.get(PROJECTS, params=V).status_code == 200
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert client.get("/_sim/truth").status_code == 200
        control = time.perf_counter() - started
    assert all(0.058 <= t < 0.5 for t in timings), timings
    assert max(timings) - min(timings) > 0.002  # jittered, not constant
    assert control < 0.058  # under the smallest injected latency


@pytest.mark.parametrize(("latency_ms", "work_ms"), [(50, 40), (30, 60)])
def test_latency_is_time_to_answer_with_the_servers_own_work_inside_it(world, latency_ms, work_ms):
    """A handler that blocks the loop for ``work_ms`` (a slow route): the answer comes ``latency_ms``
    after arrival, or when the work is done if that is later; never latency + work."""
    app = create_app(world, faults=FaultPlan(latency_ms=latency_ms))
    handle = app.handle

    def slow_handle(*args, **kwargs):
        time.sleep(work_ms / 1000)  # the server's own work, blocking its event loop as CPU would
        return handle(*args, **kwargs)

    app.handle = slow_handle  # type: ignore[method-assign]
    with serve_in_thread(app) as server, httpx.Client(base_url=server.url, auth=("", PAT), timeout=10) as client:
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            assert client.get(PROJECTS, params=V).status_code == 200
            timings.append(time.perf_counter() - started)
    expected = max(latency_ms, work_ms) / 1000
    assert min(timings) >= expected, timings
    assert min(timings) < (latency_ms + work_ms - 15) / 1000, timings  # not latency + work (90 ms)


def test_latency_rule_slows_only_its_route(world):
    plan = FaultPlan((FaultRule("latency", latency_ms=150, route="_apis/projects"),))
    with serving(world, plan) as (_, client):
        started = time.perf_counter()
        client.get(PROJECTS, params=V)
        slow = time.perf_counter() - started
        started = time.perf_counter()
        client.get(f"{PROJECTS}/{world.projects[0].id}", params=V)
        fast = time.perf_counter() - started
    assert slow >= 0.14 and fast < 0.1


def test_429_carries_retry_after_and_the_throttling_error(world):
    plan = FaultPlan((FaultRule("429", path="/_apis/git/", retry_after=7),))
    with serving(world, plan) as (_, client):
        throttled = client.get(git_path(world), params=V)
        spared = client.get(PROJECTS, params=V)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "7"
    body = throttled.json()
    assert body["typeKey"] == "RequestBlockedException" and body["message"].startswith("TF400733")
    assert spared.status_code == 200


def test_503_is_the_http_sys_page_with_retry_after(world):
    with serving(world, FaultPlan((FaultRule("503", retry_after=3),))) as (_, client):
        response = client.get(PROJECTS, params=V)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.headers["content-type"].startswith("text/html")
    assert "HTTP Error 503. The service is unavailable." in response.text


def test_500_is_a_wrapped_internal_error(world):
    with serving(world, FaultPlan((FaultRule("500"),))) as (_, client):
        response = client.get(PROJECTS, params=V)
    assert response.status_code == 500
    assert response.json()["message"].startswith("TF400898: An Internal Error Occurred.")


@pytest.mark.parametrize("kind, status", [("html200", 200), ("html500", 500)])
def test_html_error_pages(world, kind, status):
    with serving(world, FaultPlan((FaultRule(kind),))) as (_, client):
        response = client.get(PROJECTS, params=V)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "Server Error in '/tfs' Application." in response.text


def test_reset_aborts_the_connection_before_any_byte(world):
    with serving(world, FaultPlan((FaultRule("reset", limit=2),))) as (url, client):
        with pytest.raises(ConnectionResetError):
            raw_exchange(url, PROJECTS)
        with pytest.raises(httpx.TransportError):
            client.get(PROJECTS, params=V)
        assert client.get(PROJECTS, params=V).status_code == 200  # limit reached: served again
        log = client.get("/_sim/requests").json()["requests"]
    assert [(r["status"], r["fault"]) for r in log] == [(0, "reset"), (0, "reset"), (200, "")]


def test_truncate_declares_the_full_length_and_sends_half(world):
    with serving(world) as (url, client):
        full = raw_exchange(url, PROJECTS)
        client.put("/_sim/faults", json={"rules": [{"kind": "truncate"}]})
        cut = raw_exchange(url, PROJECTS)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(PROJECTS, params=V)
    head, _, body = cut.partition(b"\r\n\r\n")
    full_body = full.partition(b"\r\n\r\n")[2]
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    assert length == len(full_body) > 100
    assert body == full_body[: length // 2]


def test_slow_body_arrives_in_delayed_chunks_and_complete(world):
    with serving(world) as (_, client):
        expected = client.get(PROJECTS, params=V).json()
        client.put("/_sim/faults", json={"rules": [{"kind": "slow", "chunk_bytes": 200, "chunk_delay_ms": 40}]})
        arrivals, data = [], b""
        with client.stream("GET", PROJECTS, params=V) as response:
            for chunk in response.iter_raw():
                arrivals.append(time.perf_counter())
                data += chunk
    assert json.loads(data) == expected
    pieces = -(-len(data) // 200)
    assert pieces >= 3
    assert arrivals[-1] - arrivals[0] >= 0.04 * (pieces - 1) * 0.9


# -- selection, determinism, control -------------------------------------------------------------


def statuses(client: httpx.Client, path: str, count: int) -> list[int]:
    return [client.get(path, params=V).status_code for _ in range(count)]


def test_the_same_seed_gives_the_same_faults_per_route(world):
    plan = FaultPlan((FaultRule("503", rate=0.4),), seed=3)
    other = f"{PROJECTS}/{world.projects[0].id}"
    with serving(world, plan) as (_, client):
        first = statuses(client, PROJECTS, 30)
    with serving(world, plan) as (_, client):
        interleaved = []
        for _ in range(30):  # requests to another route draw from that route's own stream
            interleaved += statuses(client, PROJECTS, 1)
            client.get(other, params=V)
    with serving(world, FaultPlan(plan.rules, seed=4)) as (_, client):
        reseeded = statuses(client, PROJECTS, 30)
    assert first == interleaved
    assert 5 <= first.count(503) <= 20
    assert reseeded != first


def test_limit_and_route_pattern_select_requests(world):
    plan = FaultPlan((FaultRule("503", route="_apis/projects", limit=2),))
    with serving(world, plan) as (_, client):
        assert client.get(f"{PROJECTS}/{world.projects[0].id}", params=V).status_code == 200
        assert statuses(client, PROJECTS, 4) == [503, 503, 200, 200]


def test_faults_change_at_run_time_and_never_touch_control_routes(world):
    with serving(world) as (_, client):
        assert client.get(PROJECTS, params=V).status_code == 200
        put = client.put("/_sim/faults", json={"seed": 1, "rules": [{"kind": "500", "path": ""}]})
        assert put.status_code == 200 and put.json()["plan"]["rules"][0]["kind"] == "500"
        assert client.get(PROJECTS, params=V).status_code == 500
        assert client.get("/_sim/truth").status_code == 200
        assert client.post("/_sim/advance", json={"steps": 1}).status_code == 200
        assert client.get("/_sim/faults").json()["fired"] == [1]
        assert client.put("/_sim/faults", json={"rules": [{"kind": "teapot"}]}).status_code == 400
        assert client.put("/_sim/faults", content=b"{not json").status_code == 400
        assert client.get(PROJECTS, params=V).status_code == 500  # a bad plan leaves the old one
        assert client.delete("/_sim/faults").json()["plan"]["rules"] == []
        assert client.get(PROJECTS, params=V).status_code == 200


def test_cli_flags_build_the_plan():
    parser = argparse.ArgumentParser()
    command.configure_parser(parser)
    args = parser.parse_args(["--latency-ms", "20", "--latency-jitter-ms", "5", "--fault", "429:0.05:/_apis/git/",
                              "--fault", "reset:0.01", "--fault-seed", "3"])
    assert (args.latency_ms, args.latency_jitter_ms, args.fault_seed) == (20, 5, 3)
    assert args.faults == [FaultRule("429", 0.05, "/_apis/git/"), FaultRule("reset", 0.01, "")]
    with pytest.raises(SystemExit):
        parser.parse_args(["--fault", "418:0.5"])

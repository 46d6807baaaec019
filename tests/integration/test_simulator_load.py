"""The load model on a real simulator (``create_app(load=...)``, ``--capacity N``): a burst from one
identity gets the X-RateLimit headers, then 429 with Retry-After, while another identity is served
as before; ``GET /_sim/load`` reports the probe latency rising with concurrency beyond N."""

from __future__ import annotations

import threading

import httpx
import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.command import configure_parser
from standins.ado_simulator.wire.load import Budget, LoadConfig
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread

from tests.support import COLLECTION, PAT

pytestmark = pytest.mark.integration

OTHER_PAT = "CANARY-OTHER-LOAD-PAT-1b2c3d4e"
PATS = {PAT: frozenset({"full"}), OTHER_PAT: frozenset({"full"})}
RATE_HEADERS = ("x-ratelimit-resource", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=3, scale="tiny")


def projects(client: httpx.Client, base: str, pat: str) -> httpx.Response:
    return client.get(f"{base}{COLLECTION}/_apis/projects", params={"api-version": "7.0"}, auth=("", pat))


def test_a_burst_from_one_identity_gets_rate_limit_headers_then_429_with_retry_after(world):
    budget = Budget(threshold=5, limit=10, window_s=300, max_delay_s=0.02, warn_share=0.6)
    app = create_app(world, pats=PATS, load=LoadConfig(capacity=4, service_ms=1, budget=budget))
    with serve_in_thread(app) as server, httpx.Client(timeout=30) as client:
        answers = [projects(client, server.url, PAT) for _ in range(12)]
        other = projects(client, server.url, OTHER_PAT)
        stats = client.get(f"{server.url}/_sim/load").json()
        logged = client.get(f"{server.url}/_sim/requests").json()["requests"]
    assert [a.status_code for a in answers] == [200] * 10 + [429] * 2
    assert not any(h in a.headers for a in answers[:3] for h in RATE_HEADERS)
    assert [a.headers.get("x-ratelimit-remaining") for a in answers[3:10]] == ["1", "0", "0", "0", "0", "0", "0"]
    assert not any("x-ratelimit-delay" in a.headers for a in answers[:5])  # a countdown before the delays
    for answer in answers[3:10]:
        assert all(h in answer.headers for h in RATE_HEADERS) and answer.headers["x-ratelimit-limit"] == "5"
        assert answer.json()["count"] == 2
    assert [float(a.headers["x-ratelimit-delay"]) for a in answers[5:10]] == [0.004, 0.008, 0.012, 0.016, 0.02]
    for blocked in answers[10:]:
        assert int(blocked.headers["retry-after"]) >= 1 and all(h in blocked.headers for h in RATE_HEADERS)
        assert blocked.json()["typeKey"] == "RequestBlockedException" and "TF400733" in blocked.json()["message"]
    assert other.status_code == 200 and not any(h in other.headers for h in RATE_HEADERS)
    assert (stats["requests"], stats["delayed"], stats["throttled"]) == (11, 5, 2)
    usage = sorted((i["usage"], i["throttled"]) for i in stats["identities"].values())
    assert usage == [(1.0, 0), (10.0, 2)]
    assert not any(PAT in name or OTHER_PAT in name for name in stats["identities"])
    assert [r["fault"] for r in logged if r["status"] == 429] == ["throttled", "throttled"]


def test_the_probe_latency_rises_with_concurrency_beyond_capacity(world):
    capacity, service_ms, clients = 2, 40, 8
    app = create_app(world, pats=PATS, load=LoadConfig(capacity=capacity, service_ms=service_ms, budget=None))
    with serve_in_thread(app) as server, httpx.Client(timeout=30) as control:
        with httpx.Client(timeout=30) as alone:  # one client at a time: a probe would be the second, within N
            for _ in range(5):
                assert projects(alone, server.url, PAT).status_code == 200
        quiet = control.get(f"{server.url}/_sim/load").json()
        control.delete(f"{server.url}/_sim/load")
        start = threading.Barrier(clients)
        failures: list[BaseException] = []

        def burst() -> None:
            try:
                with httpx.Client(timeout=30) as client:
                    start.wait(timeout=30)
                    for _ in range(4):
                        assert projects(client, server.url, OTHER_PAT).status_code == 200
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                failures.append(exc)

        threads = [threading.Thread(target=burst) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        busy = control.get(f"{server.url}/_sim/load").json()
    assert not failures, failures
    assert quiet["probe"]["unloaded_ms"] == service_ms
    assert quiet["probe"]["p95_ms"] == quiet["probe"]["max_ms"] == service_ms and quiet["probe"]["max_in_flight"] == 1
    probe = busy["probe"]
    assert busy["in_flight"] == 0 and busy["requests"] == clients * 4
    assert probe["max_in_flight"] > capacity  # the burst really was concurrent beyond N
    assert probe["max_ms"] == service_ms * (probe["max_in_flight"] + 1) / capacity
    assert probe["p95_ms"] > probe["unloaded_ms"] and probe["now_ms"] == service_ms


def test_the_command_line_builds_the_load_model():
    import argparse

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    args = parser.parse_args(["--capacity", "8", "--service-ms", "5", "--rate-budget", "100:200:60:1"])
    assert (args.capacity, args.service_ms) == (8, 5.0)
    assert args.rate_budget == Budget(threshold=100, limit=200, window_s=60, max_delay_s=1)
    assert parser.parse_args(["--rate-budget", "off"]).rate_budget is None
    assert parser.parse_args([]).capacity is None  # no load model unless asked
    with pytest.raises(SystemExit):
        parser.parse_args(["--rate-budget", "200:100"])


def test_without_a_load_model_the_control_route_says_how_to_get_one(world):
    with serve_in_thread(create_app(world, pats=PATS)) as server:
        answer = httpx.get(f"{server.url}/_sim/load")
    assert answer.status_code == 404 and "--capacity" in answer.json()["error"]

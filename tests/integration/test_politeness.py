"""The satellite against the simulator: the rate cap, a Retry-After pausing the whole server, and
the adaptive limit against the simulator's load model (issue 18, items 1-2)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from satellite.config import load_config
from satellite.politeness import gate_for, server_of
from satellite.politeness.gate import GateSettings
from satellite.retrying import RetryPolicy
from satellite.sync.once import sync_once
from standins.ado_simulator.wire.faults import FaultPlan, FaultRule
from standins.ado_simulator.world.world import generate_world
from tests.support import assert_mirrors_truth, start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)
SMALL_PAGES = {"projects": 2, "commits": 2, "pushes": 2, "changesets": 2, "work_item_revisions": 5, "builds": 5, "default": 5}


@dataclass
class Arrivals:
    """An ASGI wrapper of the simulator: when each API request arrived and how it was answered."""

    app: object
    log: list[tuple[float, str, int | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            return await self.app(scope, receive, send)
        arrived, status = time.monotonic(), {}

        async def answer(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        finally:
            with self.lock:
                self.log.append((arrived, scope["path"], status.get("code")))

    def times(self) -> list[float]:
        with self.lock:
            return sorted(t for t, _, _ in self.log)


def config_with(tmp_path, url: str, receiver, key_files, env, limits: str, page_sizes: dict[str, int] | None = None):
    path = write_config(tmp_path, ado_url=url, endpoint=receiver.url, key_files=key_files, page_sizes=page_sizes)
    path.write_text(path.read_text().replace("limits:\n  concurrency: 4\n", f"limits:\n  concurrency: 4\n{limits}"))
    return load_config(path, env=env)


def test_the_rate_cap_holds_over_every_second_of_a_backfill(tmp_path, receiver, key_files, env):
    world = generate_world(seed=5, scale="tiny")
    arrivals: list[Arrivals] = []
    with start_simulator(world, wrap=lambda app: arrivals.append(Arrivals(app)) or arrivals[0]) as simulator:
        config = config_with(tmp_path, simulator.collection_url, receiver, key_files, env,
                             "  adaptive: false\n  max_requests_per_second: 40\n")
        result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors
    assert_mirrors_truth(receiver, world)
    times = arrivals[0].times()
    assert len(times) > 120, "too few requests to show a rate"
    # a token bucket of 40/s holding one token: in any second at most 40 (+1 for the full bucket at the
    # start of the second, +1 for the arrival order the network may swap)
    busiest = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
    assert busiest <= 42, busiest
    assert (len(times) - 1) / (times[-1] - times[0]) <= 41


def test_a_429_with_retry_after_pauses_every_request_to_the_server(tmp_path, receiver, key_files, env):
    """The 429 meets the first repositories listing while other streams run beside it: for its Retry-After, no request
    of any stream reaches the server (bar those already on their way), then the sync goes on."""
    world = generate_world(seed=5, scale="tiny")
    rule = FaultRule("429", path=r"/_apis/git/repositories$", limit=1, retry_after=3)
    arrivals: list[Arrivals] = []
    with start_simulator(world, faults=FaultPlan(rules=(rule,), latency_ms=20),
                         wrap=lambda app: arrivals.append(Arrivals(app)) or arrivals[0]) as simulator:
        config = config_with(tmp_path, simulator.collection_url, receiver, key_files, env, "  adaptive: false\n",
                             SMALL_PAGES)  # many pages: work goes on beside the 429 for seconds
        result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
        fired = simulator.app.fault_counts()[0]
    assert fired == 1
    assert result.ok, result.errors
    assert_mirrors_truth(receiver, world)
    log = sorted(arrivals[0].log)
    throttled_at = next(t for t, _, status in log if status == 429)
    during = [(round(t - throttled_at, 3), path) for t, path, _ in log if throttled_at + 0.3 < t < throttled_at + 2.9]
    assert during == []
    assert any(t >= throttled_at + 2.9 for t, _, _ in log)  # and then it went on
    assert gate_for(simulator.collection_url, GateSettings(ceiling=4, adaptive=False)).server == server_of(simulator.url)

"""Outage test: the receiver down, then 503 and 429 with Retry-After, then slow; nothing is lost.

1. Nothing listens on the receiver's port: the satellite collects into its outbox and retries.
2. The receiver starts on that same port behind a front door that answers 503 with a Retry-After
   HTTP-date, then 429 with Retry-After in seconds, then passes every upload, slowly.
3. The run ends by itself with everything delivered, and every retry after a 503/429 came no
   sooner than its Retry-After asked (measured at the door, from answer to the next attempt).
"""

from __future__ import annotations

import time

import pytest

from standins.ado_simulator.world.world import generate_world

from tests.support import assert_mirrors_truth, free_port, wait_until

from .conftest import Pass, Refuse, assert_sent_once, http_date, make_receiver, query_store, write_config

pytestmark = pytest.mark.reliability

REFUSED_503 = 4  # uploads answered 503 (Retry-After: an HTTP-date ~2s ahead)
REFUSED_429 = 4  # then uploads answered 429 (Retry-After: 1)
SLOW = 0.1  # then every answer this many seconds late


def test_receiver_down_then_503_then_429_then_slow_loses_nothing_and_honours_retry_after(tmp_path, key_files, receivers, simulators, processes):
    world = generate_world(seed=5, scale="tiny")
    simulator = simulators(world)
    port = free_port()
    receiver = make_receiver(tmp_path / "receiver", key_files)
    receivers.append(receiver)
    directory = tmp_path / "satellite"
    config = write_config(directory, ado_url=simulator.collection_url, endpoint=f"http://127.0.0.1:{port}", key_files=key_files)
    db = directory / "data" / "satellite.db"
    started = time.monotonic()
    satellite = processes.start(config, tmp_path / "run")

    def unreachable_retries() -> int:
        return sum(1 for line in satellite.logs() if line["event"] == "retrying" and "cannot reach the SEI endpoint" in line.get("error", ""))

    wait_until(lambda: unreachable_retries() >= 3 and query_store(db, "SELECT COUNT(*) FROM outbox") >= 5, 30,
               "3 retries of the unreachable endpoint and 5 batches waiting", interval=0.05, context=satellite.stderr)
    waiting = query_store(db, "SELECT COUNT(*) FROM outbox")
    down_for = time.monotonic() - started

    seen = {"n": 0}

    def policy(attempt):
        seen["n"] += 1
        if seen["n"] <= REFUSED_503:
            return Refuse(503, http_date(2), "maintenance")
        if seen["n"] <= REFUSED_503 + REFUSED_429:
            return Refuse(429, "1", "slow down")
        return Pass(delay=SLOW)

    receiver.door.policy = policy
    receiver.start(port=port)
    assert satellite.wait(120) == 0, satellite.stderr()[-3000:]
    total = time.monotonic() - started

    assert_mirrors_truth(receiver, world)
    assert_sent_once(receiver)
    attempts = receiver.door.attempts
    refused = [a for a in attempts if a.status in (503, 429)]
    assert [a.status for a in refused] == [503] * REFUSED_503 + [429] * REFUSED_429
    gaps = []
    for answer in refused:
        following = [a for a in attempts if a.batch_id == answer.batch_id and a.arrived > answer.answered]
        assert following, f"batch {answer.batch_id} was never tried again after {answer.status}"
        gap = min(a.arrived for a in following) - answer.answered
        gaps.append((answer.status, round(answer.min_wait, 2), round(gap, 2)))
        tolerance = 0.05 if answer.status == 503 else 0.0  # an HTTP-date is read against the satellite's clock, a moment later
        assert gap >= answer.min_wait - tolerance, (answer.status, answer.retry_after, gap)
    assert all(a.status == 201 for a in attempts if a.status not in (503, 429))
    print(f"\noutage: receiver down {down_for:.1f}s with {waiting} batch(es) waiting; Retry-After asked vs waited "
          f"(status, s, s): {gaps}; {len(attempts)} upload attempts; total {total:.1f}s")
    beat = receiver.storage.stats()["satellites"]["reliability-satellite"]
    assert beat["outbox"]["batches"] == 0

"""Outbox limit test: a tiny ``limits.outbox_max_bytes`` with slow uploads pauses collection, then it completes.

The smallest limit the config accepts (1MiB) against scale small in batches of 500 records
(~3 MB sealed in all, up to ~110 KB a batch). The receiver's front door first holds every
upload, so the outbox fills; once the satellite logged the pause (and ``satellite outbox list``
shows it), uploads pass, slowed. The outbox is sampled throughout through a read-only connection.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from standins.ado_simulator.world.world import generate_world

from tests.support import assert_mirrors_truth, run_cli, wait_until

from .conftest import Pass, assert_sent_once, make_receiver, query_store, write_config

pytestmark = pytest.mark.reliability

LIMIT = 1024 * 1024


def test_a_full_outbox_pauses_collection_which_resumes_as_uploads_drain(tmp_path, key_files, receivers, simulators, processes):
    world = generate_world(seed=5, scale="small")
    simulator = simulators(world)
    receiver = make_receiver(tmp_path / "receiver", key_files).start()
    receivers.append(receiver)
    receiver.door.gate.clear()  # uploads wait at the door
    receiver.door.policy = lambda attempt: Pass(delay=0.02)
    directory = tmp_path / "satellite"
    config = write_config(directory, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files,
                          batch_records=500, outbox_max_bytes="1MiB")
    db = directory / "data" / "satellite.db"

    samples: list[tuple[int, int]] = []  # (outbox bytes, largest batch in it)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((query_store(db, "SELECT COALESCE(SUM(size), 0) FROM outbox"), query_store(db, "SELECT MAX(size) FROM outbox")))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    satellite = processes.start(config, tmp_path / "run")
    try:
        wait_until(lambda: any(line["event"] == "outbox_full_collection_paused" for line in satellite.logs()), 60,
                   "collection to pause on the full outbox", interval=0.05, context=lambda: satellite.stderr()[-3000:])
        paused_after = time.monotonic() - started
        status = run_cli("outbox", "list", "-c", str(config))
        listed = json.loads(run_cli("outbox", "list", "--json", "-c", str(config)).stdout)
        receiver.door.gate.set()
        assert satellite.wait(120) == 0, satellite.stderr()[-3000:]
    finally:
        receiver.door.gate.set()
        stop.set()
        sampler.join()
    total = time.monotonic() - started

    assert status.returncode == 0 and "collection paused (outbox full)" in status.stdout, status.stdout + status.stderr
    assert listed["collection_paused_since"] and listed["outbox"]["bytes"] > LIMIT * 0.8
    events = [line for line in satellite.logs() if line["event"] in ("outbox_full_collection_paused", "collection_resumed")]
    assert events[0]["event"] == "outbox_full_collection_paused" and events[-1]["event"] == "collection_resumed"
    assert events[0]["limit_bytes"] == LIMIT
    assert query_store(db, "SELECT COUNT(*) FROM agent_state WHERE key='outbox_paused_since'") == 0  # status: no longer paused
    largest = max(receiver.door.attempts, key=lambda a: a.size).size
    peak = max(used for used, _ in samples)
    print(f"\noutbox limit: paused after {paused_after:.1f}s, {len(events)} pause/resume lines, peak {peak} bytes of {LIMIT} "
          f"(+ largest batch {largest}), {len(samples)} samples, {len(receiver.door.attempts)} uploads, total {total:.1f}s")
    assert LIMIT * 0.8 < peak <= LIMIT + largest
    assert_mirrors_truth(receiver, world)
    assert_sent_once(receiver)

"""Crash test: SIGKILL the satellite again and again, at chosen moments; nothing is lost, nothing sent twice.

The satellite runs as a subprocess (``python -m satellite sync --once``) against a simulator
(scale small) and a receiver, both in this process. Each iteration restarts it and kills it with
SIGKILL when a condition observed from outside is met:

| phase | the receiver's front door | killed when |
|---|---|---|
| collect | holds every upload (nothing delivered) | the simulator served k more requests |
| seal | passes | the satellite reserved n more batch sequence numbers (a batch is being sealed) |
| store | holds every upload | the outbox holds n more committed batches (the next is being stored) |
| upload | holds an upload before the receiver sees it | an upload is in flight |
| ack | holds the 201 after the receiver committed | the receiver committed a batch the satellite never heard of |

A condition never reached within its time limit still ends in a kill. Then one run to the end,
and the receiver must equal a clean run's receiver record for record (keys, ops and data), and
the server's truth; no record of an immutable stream may have arrived twice, and no batch was
stored twice. ``SATELLITE_CRASH_ITERATIONS`` (default 20) sets the number of kills,
``SATELLITE_CRASH_SEED`` replays a run.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import pytest

from standins.ado_simulator.world.world import generate_world
from satellite.streams import RECORD_TYPES

from tests.support import assert_mirrors_truth, poll

from .conftest import PhaseTally, assert_sent_once, make_receiver, query_store, write_config

pytestmark = pytest.mark.reliability

ITERATIONS = int(os.environ.get("SATELLITE_CRASH_ITERATIONS", "20"))
PHASES = ("collect", "seal", "store", "upload", "ack")
CONDITION_TIMEOUT = 8.0  # seconds; a condition not met by then: kill anyway
# How far a run may get before its kill: ranges shrink as kills grow, so that the work of scale
# small lasts through every kill (a run with nothing left to do exits before it can be killed).
SHARE = min(1.0, 20 / ITERATIONS)
MAX_REQUESTS, MAX_BATCHES = max(10, int(300 * SHARE)), max(2, int(30 * SHARE))


def kill_plan(rng: random.Random, iterations: int) -> list[str]:
    """The first kill happens before any batch was ever delivered; the rest cover every phase evenly."""
    rest = [PHASES[i % len(PHASES)] for i in range(iterations - 1)]
    rng.shuffle(rest)
    return ["collect", *rest]


def test_sigkill_at_chosen_moments_loses_nothing_and_sends_nothing_twice(tmp_path, key_files, receivers, simulators, processes):
    seed = int(os.environ.get("SATELLITE_CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\ncrash test: seed {seed} (replay with SATELLITE_CRASH_SEED={seed}), {ITERATIONS} kills")
    rng = random.Random(seed)
    world = generate_world(seed=5, scale="small")
    simulator = simulators(world)
    receiver = make_receiver(tmp_path / "receiver", key_files).start()
    receivers.append(receiver)
    door = receiver.door
    directory = tmp_path / "satellite"
    config = write_config(directory, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
    db = directory / "data" / "satellite.db"

    def seq_reserved() -> int:
        return query_store(db, "SELECT SUM(seq) FROM stream_seq")

    def outbox_rows() -> int:
        return query_store(db, "SELECT COUNT(*) FROM outbox")

    tally = PhaseTally()
    started = time.monotonic()
    kills = 0
    for i, phase in enumerate(kill_plan(rng, ITERATIONS)):
        base_requests, base_seq, base_rows = simulator.served.count, seq_reserved(), outbox_rows()
        if phase in ("collect", "store", "upload"):
            door.arm("before")
        elif phase == "ack":
            door.arm("after")
        if phase == "collect":
            n = rng.randint(5, MAX_REQUESTS)
            condition = lambda: simulator.served.count - base_requests >= n  # noqa: E731
        elif phase == "seal":
            n = rng.randint(1, MAX_BATCHES)
            condition = lambda: seq_reserved() >= base_seq + n  # noqa: E731
        elif phase == "store":
            n = rng.randint(1, MAX_BATCHES)
            condition = lambda: outbox_rows() >= base_rows + n  # noqa: E731
        else:
            n = 1
            condition = door.held.is_set
        satellite = processes.start(config, tmp_path / f"run-{i:02d}")
        poll(lambda: condition() or not satellite.alive(), CONDITION_TIMEOUT, interval=0.005)
        reached = condition()
        was_alive = satellite.kill()
        door.disarm()
        kills += was_alive
        outcome = "exited by itself" if not was_alive else "killed at condition" if reached else "killed after timeout"
        tally.add(phase, outcome)
        print(f"  kill {i:2d} {phase:7s} n={n:3d}: {outcome:20s} exit {satellite.proc.returncode}; receiver batches "
              f"{len(receiver.storage.batch_ids())}, outbox {outbox_rows()}, {time.monotonic() - started:5.1f}s")
        if i == 0:
            assert receiver.storage.batch_ids() == [], "the first kill comes before any batch is delivered"
    print(f"crash test: {kills} kills in {time.monotonic() - started:.1f}s; {tally.render()}")
    assert kills >= ITERATIONS * 0.9, tally.render()  # a few may find nothing left to do; most must be real kills

    final = processes.start(config, tmp_path / "run-final")
    assert final.wait(240) == 0, final.stderr()[-3000:]
    assert outbox_rows() == 0 and query_store(db, "SELECT COUNT(*) FROM dead_letters") == 0

    clean = make_receiver(tmp_path / "clean-receiver", key_files).start()
    receivers.append(clean)
    clean_config = write_config(tmp_path / "clean", ado_url=simulator.collection_url, endpoint=clean.url, key_files=key_files)
    clean_run = processes.start(clean_config, tmp_path / "clean-run")
    assert clean_run.wait(240) == 0, clean_run.stderr()[-3000:]
    print(f"crash test: total {time.monotonic() - started:.1f}s with the final and the clean run")

    for record_type in sorted(RECORD_TYPES):  # keys, ops and data: record for record
        assert receiver.records(record_type) == clean.records(record_type), record_type
    assert_mirrors_truth(receiver, world)
    assert_sent_once(receiver)
    assert_sent_once(clean)
    stored = Counter(a.batch_id for a in door.attempts if a.status == 201)
    assert stored and max(stored.values()) == 1  # never stored twice
    assert sorted(stored) == sorted(receiver.storage.batch_ids())
    for held in [a for a in door.attempts if a.held == "after"]:  # committed, then the satellite died: re-sent, 200
        assert any(a.batch_id == held.batch_id and a.status == 200 and a.arrived > held.arrived for a in door.attempts), held.batch_id

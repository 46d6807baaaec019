"""Dead-letter test: batches the endpoint refuses for good (422) are kept, listed, re-sent on request.

The receiver's front door answers 422 to every batch of two streams. The sync exits 1 naming the
dead letters; ``satellite outbox list`` lists each one and exits 1; nothing is deleted (the
sealed bodies stay in the database). Once the cause is fixed, ``satellite outbox retry --all``
and a normal sync deliver them, and the receiver then equals the server's truth.
"""

from __future__ import annotations

import json

import pytest

from satellite.sealing.batch_format import read_header
from standins.ado_simulator.world.world import generate_world

from tests.support import assert_mirrors_truth, run_cli

from .conftest import Pass, Refuse, assert_sent_once, make_receiver, query_store, write_config

pytestmark = pytest.mark.reliability

REFUSED_STREAMS = {"git.commits", "wit.fields"}


def dead_letter_bodies(db) -> dict[str, bytes]:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT batch_id, body FROM dead_letters").fetchall())
    finally:
        conn.close()


def test_refused_batches_become_dead_letters_that_are_listed_kept_and_resent(tmp_path, key_files, receivers, simulators, processes):
    world = generate_world(seed=5, scale="tiny")
    simulator = simulators(world)
    receiver = make_receiver(tmp_path / "receiver", key_files).start()
    receivers.append(receiver)
    refusing = {"on": True}

    def policy(attempt):
        if refusing["on"] and attempt.header and attempt.header.stream in REFUSED_STREAMS:
            return Refuse(422, detail="schema rejected by the test")
        return Pass()

    receiver.door.policy = policy
    directory = tmp_path / "satellite"
    config = write_config(directory, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
    db = directory / "data" / "satellite.db"

    first = processes.start(config, tmp_path / "first")
    assert first.wait(60) == 1
    refused = {a.batch_id for a in receiver.door.answered(422)}
    assert refused and len(refused) == len(receiver.door.answered(422))  # a 422 is final: never retried by itself
    assert "rejected by the SEI endpoint and kept as dead letters" in first.stderr()
    assert {line["batch_id"] for line in first.logs() if line["event"] == "batch_dead_lettered"} == refused
    assert receiver.keys_of("git.commit") == [] and receiver.keys_of("wit.field") == []

    listing = run_cli("outbox", "list", "-c", str(config))
    assert listing.returncode == 1, listing.stderr
    assert f"dead letters: {len(refused)}" in listing.stdout
    assert all(batch_id in listing.stdout for batch_id in refused)
    assert "HTTP 422" in listing.stdout and "schema rejected by the test" in listing.stdout
    as_json = run_cli("outbox", "list", "--json", "-c", str(config))
    assert as_json.returncode == 1
    assert {d["batch_id"] for d in json.loads(as_json.stdout)["dead_letters"]} == refused

    bodies = dead_letter_bodies(db)  # kept whole: the sealed bytes the endpoint refused
    assert set(bodies) == refused
    assert all(read_header(body).stream in REFUSED_STREAMS for body in bodies.values())
    assert query_store(db, "SELECT COUNT(*) FROM outbox") == 0

    again = processes.start(config, tmp_path / "again")  # a normal sync does not re-send dead letters by itself
    assert again.wait(60) == 1
    assert len(receiver.door.answered(422)) == len(refused)
    assert set(dead_letter_bodies(db)) == refused

    refusing["on"] = False  # the cause is fixed on the SEI side
    retry = run_cli("outbox", "retry", "-c", str(config), "--all")
    assert retry.returncode == 0 and f"{len(refused)} batch(es) back in the outbox" in retry.stdout, retry.stdout + retry.stderr
    assert query_store(db, "SELECT COUNT(*) FROM dead_letters") == 0
    assert query_store(db, "SELECT COUNT(*) FROM outbox") == len(refused)

    final = processes.start(config, tmp_path / "final")
    assert final.wait(60) == 0, final.stderr()[-3000:]
    assert {a.batch_id for a in receiver.door.answered(201)} >= refused  # the very batches, re-sent
    assert run_cli("outbox", "list", "-c", str(config)).returncode == 0
    assert_mirrors_truth(receiver, world)
    assert_sent_once(receiver)

"""Rotation to post-quantum sealing (issue 21): SEI publishes a hybrid MLKEM768-X25519 key next to its
X25519 key; no flag day.

1. The satellite knows only the X25519 key; SEI answers 503, so batches sealed to it (format
   version 2) wait in the outbox; the satellite is killed.
2. The config lists both keys, the hybrid one newer (``kem: mlkem768-x25519``); SEI still answers
   503: the new batches, sealed to the hybrid key (version 3, KEM 0x647a in the header), wait in the
   outbox next to the X25519 ones; killed again.
3. SEI is back, holding both private keys: every waiting batch of either kind is delivered, each
   under the key it was sealed to, and whatever is sealed since is hybrid; the receiver mirrors the
   server and nothing arrived twice.
"""

from __future__ import annotations

import sqlite3

import pytest

from satellite.sealing.batch_format import read_header
from satellite.sealing.keys import (
    KEM_HYBRID,
    generate_key_files,
    load_recipient_private,
)
from standins.ado_simulator.world.world import generate_world
from tests.support import assert_mirrors_truth, wait_until

from .conftest import (
    Pass,
    Refuse,
    assert_sent_once,
    make_receiver,
    query_store,
    write_config,
)

pytestmark = pytest.mark.reliability


def outbox_batches(db) -> dict[str, tuple[str, int, str]]:
    """batch id -> (recipient key id, format version, KEM id) of every batch waiting in the outbox."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        found = {}
        for batch_id, body in conn.execute("SELECT batch_id, body FROM outbox"):
            header = read_header(body)
            found[batch_id] = (header.recipient_key_id, body[4], (header.suite or {}).get("kem_id", "0x0020"))
        return found
    finally:
        conn.close()


def test_batches_of_both_kems_waiting_in_the_outbox_are_all_delivered(tmp_path, key_files, receivers, simulators, processes):
    old_id, old_public = key_files.recipient_key_id, key_files.recipient_public
    pq = generate_key_files(tmp_path / "pq-keys", kem=KEM_HYBRID)
    world = generate_world(seed=5, scale="tiny")
    simulator = simulators(world)
    receiver = make_receiver(tmp_path / "receiver", key_files,
                             extra_recipients={pq.recipient_key_id: load_recipient_private(pq.recipient_private.read_bytes())})
    receivers.append(receiver)
    receiver.start()
    door = receiver.door
    directory = tmp_path / "satellite"
    db = directory / "data" / "satellite.db"
    common = {"ado_url": simulator.collection_url, "endpoint": receiver.url, "key_files": key_files}
    only_old = write_config(directory, **common, recipients=[(old_id, old_public, "2025-01-15")], name="old.yml")
    rotated = write_config(directory, **common, name="rotated.yml",
                           recipients=[(old_id, old_public, "2025-01-15"), (pq.recipient_key_id, pq.recipient_public, "2026-02-01", KEM_HYBRID)])

    def park(config, log: str, at_least: int) -> None:
        """Run while SEI answers 503 until ``at_least`` batches wait in the outbox; then kill."""
        door.policy = lambda attempt: Refuse(503, "1", "maintenance")
        satellite = processes.start(config, tmp_path / log)
        wait_until(lambda: query_store(db, "SELECT COUNT(*) FROM outbox") >= at_least, 60, f"{at_least} batches in the outbox",
                   interval=0.02, context=satellite.stderr)
        satellite.kill()

    park(only_old, "old-key", 3)
    x25519_parked = outbox_batches(db)
    assert x25519_parked and set(x25519_parked.values()) == {(old_id, 2, "0x0020")}
    world.advance(3)  # new data: batches sealed after the rotation
    park(rotated, "rotated-503", len(x25519_parked) + 2)
    parked = outbox_batches(db)
    hybrid_parked = {b: v for b, v in parked.items() if b not in x25519_parked}
    assert hybrid_parked and set(hybrid_parked.values()) == {(pq.recipient_key_id, 3, "0x647a")}
    assert x25519_parked.items() <= parked.items()  # both kinds wait side by side

    door.policy = lambda attempt: Pass()
    final = processes.start(rotated, tmp_path / "rotated")
    assert final.wait(90) == 0, final.stderr()[-3000:]
    assert query_store(db, "SELECT COUNT(*) FROM outbox") == 0 and query_store(db, "SELECT COUNT(*) FROM dead_letters") == 0
    delivered = {a.batch_id: a.header.recipient_key_id for a in door.answered(201)}
    assert {b: delivered.get(b) for b in parked} == {b: key for b, (key, _, _) in parked.items()}
    fresh = {b: key for b, key in delivered.items() if b not in parked}
    assert set(fresh.values()) <= {pq.recipient_key_id}  # everything sealed since the rotation: the hybrid key
    assert_mirrors_truth(receiver, world, advanced=True)
    assert_sent_once(receiver)

"""Key rotation test: SEI adds a new recipient key, the satellite seals to the newest, old batches still land.

1. The satellite knows only the old key; the endpoint is unavailable (503), so sealed batches
   wait in the outbox; the satellite is killed.
2. The config lists both keys (the new one first, and newer by ``created``); the receiver holds
   both private keys. New batches are sealed to the new key (read from each upload's header);
   the batches sealed before, still in the outbox, are sealed to the old key and accepted.
3. Documented behaviour when SEI drops the old key too early: batches still sealed to it are
   answered 422 and become dead letters; with the key back, ``outbox retry`` delivers them.
"""

from __future__ import annotations

import sqlite3

import pytest

from satellite.sealing.batch_format import read_header
from satellite.sealing.keys import generate_key_files, load_x25519_private
from standins.ado_simulator.world.world import generate_world

from tests.support import assert_mirrors_truth, run_cli, wait_until

from .conftest import Pass, Refuse, assert_sent_once, make_receiver, query_store, write_config

pytestmark = pytest.mark.reliability


def outbox_recipients(db) -> dict[str, str]:
    """batch id -> recipient key id of every batch waiting in the outbox (from the sealed headers)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {batch_id: read_header(body).recipient_key_id for batch_id, body in conn.execute("SELECT batch_id, body FROM outbox")}
    finally:
        conn.close()


def test_new_batches_use_the_newest_key_and_batches_sealed_before_are_still_accepted(tmp_path, key_files, receivers, simulators, processes):
    old_id, old_public = key_files.recipient_key_id, key_files.recipient_public
    new_keys = generate_key_files(tmp_path / "new-keys")
    new_id = new_keys.recipient_key_id
    world = generate_world(seed=5, scale="tiny")
    simulator = simulators(world)
    receiver = make_receiver(tmp_path / "receiver", key_files,
                             extra_recipients={new_id: load_x25519_private(new_keys.recipient_private.read_bytes())})
    receivers.append(receiver)
    receiver.start()
    door = receiver.door
    directory = tmp_path / "satellite"
    db = directory / "data" / "satellite.db"
    common = dict(ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
    only_old = write_config(directory, **common, recipients=[(old_id, old_public, "2025-01-15")], name="old.yml")
    rotated = write_config(directory, **common, recipients=[(new_id, new_keys.recipient_public, "2026-02-01"),
                                                            (old_id, old_public, "2025-01-15")], name="rotated.yml")

    def park_batches_sealed_to_the_old_key(log: str) -> dict[str, str]:
        """Run with only the old key while SEI answers 503, until batches wait in the outbox; then kill."""
        door.policy = lambda attempt: Refuse(503, "1", "maintenance")
        satellite = processes.start(only_old, tmp_path / log)
        wait_until(lambda: query_store(db, "SELECT COUNT(*) FROM outbox") >= 3, 30, "3 batches waiting in the outbox",
                   interval=0.02, context=satellite.stderr)
        satellite.kill()
        door.policy = lambda attempt: Pass()
        parked = outbox_recipients(db)
        assert parked and set(parked.values()) == {old_id}
        return parked

    parked = park_batches_sealed_to_the_old_key("old-key")
    world.advance(3)  # new data, so that batches are sealed after the rotation too
    rotated_run = processes.start(rotated, tmp_path / "rotated")
    assert rotated_run.wait(60) == 0, rotated_run.stderr()[-3000:]
    delivered = {a.batch_id: a.header.recipient_key_id for a in door.answered(201)}
    assert {b: delivered.get(b) for b in parked} == parked  # sealed before the rotation: accepted under the old key
    fresh = {b: key for b, key in delivered.items() if b not in parked}
    assert fresh and set(fresh.values()) == {new_id}  # everything sealed since: the newest key
    assert_mirrors_truth(receiver, world, advanced=True)
    assert_sent_once(receiver)

    # SEI drops the old key while batches sealed to it still wait: they are refused for good (422).
    world.advance(3)
    parked = park_batches_sealed_to_the_old_key("old-key-again")
    dropped = receiver.recipients.pop(old_id)
    early = processes.start(rotated, tmp_path / "dropped")
    assert early.wait(60) == 1
    refused = {a.batch_id: a for a in door.answered(422)}
    assert set(refused) == set(parked)
    assert all(a.header.recipient_key_id == old_id for a in refused.values())
    listing = run_cli("outbox", "list", "-c", str(rotated))
    assert listing.returncode == 1 and all(b in listing.stdout for b in parked)
    assert f"recipient key {old_id} is unknown to this receiver" in listing.stdout

    receiver.recipients[old_id] = dropped  # SEI restores the key: the dead letters can be re-sent
    assert run_cli("outbox", "retry", "-c", str(rotated), "--all").returncode == 0
    final = processes.start(rotated, tmp_path / "final")
    assert final.wait(60) == 0, final.stderr()[-3000:]
    assert_mirrors_truth(receiver, world, advanced=True)
    assert_sent_once(receiver)

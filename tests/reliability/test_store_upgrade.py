"""Upgrade: a data dir written before the store had versions opens, migrates and delivers its
outbox without loss (the committed fixture: tests/fixtures/store_v0, made by its make_fixture.py)."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from satellite.config import load_config
from satellite.store import Store
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world

from tests.fixtures.store_v0 import DATA, fixture_keys
from tests.support import API_KEY, API_KEY_ENV, assert_mirrors_truth, start_receiver, start_simulator, write_config

pytestmark = pytest.mark.integration


def test_a_data_dir_of_the_release_before_versions_migrates_and_delivers_its_outbox(tmp_path):
    shutil.copytree(DATA, tmp_path / "data")
    keys = fixture_keys(tmp_path / "keys")  # derived from fixed seeds: no private key is committed
    store = Store(tmp_path / "data")
    waiting = {b.batch_id for b in store.pending_batches(limit=1000)}
    dead = {d.batch_id for d in store.dead_letters()}
    store.close()
    assert len(waiting) == 78 and len(dead) == 2
    world = generate_world(seed=3, scale="tiny")  # the fixture's world: its cursors hold
    receiver = start_receiver(tmp_path / "receiver", keys)
    try:
        with start_simulator(world) as simulator:
            config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=keys),
                                 env={API_KEY_ENV: API_KEY})
            first = sync_once(config)
            assert first.drain is not None and first.drain.delivered >= len(waiting)
            assert first.outbox.batches == 0 and first.outbox.dead_letters == 2  # dead letters stay until asked
            resumed = sum(o.records for o in first.collection.outcomes)
            store = Store(tmp_path / "data")
            assert store.retry_dead_letters() == 2
            store.close()
            second = sync_once(config)
        assert second.ok, second.errors
        with sqlite3.connect(tmp_path / "receiver" / "receiver.db") as db:
            stored = {row[0] for row in db.execute("SELECT batch_id FROM batches")}
        assert waiting | dead <= stored  # every batch of the old outbox arrived
        assert_mirrors_truth(receiver, world)
        assert resumed < 1834  # the cursors held: the run did not start over
    finally:
        receiver.close()

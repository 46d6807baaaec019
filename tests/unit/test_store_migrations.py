"""The store's schema version: forward migrations in order, each in its own transaction; a newer
release's store refused untouched."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from satellite.errors import StoreError
from satellite.store import Store
from satellite.store.migrations import LATEST, Migration, migrate, store_version

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v0" / "data"


def version_of(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return store_version(conn)


def test_a_new_store_is_at_the_latest_version(tmp_path):
    Store(tmp_path).close()
    assert version_of(tmp_path / "satellite.db") == LATEST >= 1


def test_migrations_apply_in_order_each_in_its_own_transaction_and_a_failed_one_rolls_back(tmp_path):
    conn = sqlite3.connect(tmp_path / "db", isolation_level=None)
    steps = (
        Migration(1, "first", "CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);"),
        Migration(2, "second", "-- a comment\nALTER TABLE a ADD COLUMN y TEXT;\nUPDATE a SET y = 'two';"),
        Migration(3, "broken", "CREATE TABLE b (z INTEGER);\nINSERT INTO nowhere VALUES (1);"),
    )
    with pytest.raises(StoreError, match="version 3 .*broken.*stays at version 2"):
        migrate(conn, "here", steps)
    assert store_version(conn) == 2
    assert conn.execute("SELECT x, y FROM a").fetchall() == [(1, "two")]
    assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'").fetchall()  # rolled back with it
    assert migrate(conn, "here", steps[:2]) == []  # nothing left to do


def test_todays_data_dir_opens_at_the_latest_version_with_everything_in_it(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "data")
    assert version_of(tmp_path / "data" / "satellite.db") == 0
    store = Store(tmp_path / "data")
    try:
        stats = store.outbox_stats()
        assert stats.batches == 78 and stats.dead_letters == 2
    finally:
        store.close()
    assert version_of(tmp_path / "data" / "satellite.db") == LATEST
    with sqlite3.connect(tmp_path / "data" / "satellite.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM cursors").fetchone()[0] == 50


def test_a_newer_releases_store_is_refused_and_left_untouched(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "data")
    path = tmp_path / "data" / "satellite.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 5}")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(StoreError) as info:
        Store(tmp_path / "data")
    message = str(info.value)
    assert f"store version {LATEST + 5}" in message and "newer release" in message and "nothing was changed" in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert version_of(path) == LATEST + 5


def test_todays_delivered_keys_are_still_found_after_the_upgrade(tmp_path):
    """Rows of delivered keys from before version 2 are unkeyed digests: still looked up, so an
    upgraded satellite sends no immutable record twice."""
    from satellite.store import CursorKey
    from standins.ado_simulator.world.world import generate_world

    shutil.copytree(FIXTURE, tmp_path / "data")
    world = generate_world(seed=3, scale="tiny")  # the fixture's world
    store = Store(tmp_path / "data")
    try:
        found = 0
        for repository in world.repositories:
            keys = [k for k in world.truth()["git.commit"] if k.startswith(repository.id + ":")]
            scope = CursorKey("tfs-main", "git.commits", f"DefaultCollection/{repository.id}")
            found += len(store.delivered_among(scope, keys))
        assert found == 15 + 22 + 23  # every commit the fixture's satellite sealed
        assert store.get_cursor(CursorKey("tfs-main", "tfvc.changesets", "DefaultCollection/")) == '{"last_id":30}'
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "data" / "satellite.db") as conn:
        values = [v for (v,) in conn.execute("SELECT value FROM cursors")]
    assert values and all(v.startswith("s1:") for v in values)  # sealed by the migration


def test_a_lost_store_key_starts_over_instead_of_failing(tmp_path):
    from satellite.store import CursorKey

    store = Store(tmp_path)
    scope = CursorKey("i", "git.refs", "p")
    store.save_cursor(scope, '{"heads": {"refs/heads/secret-branch": "abc"}}')
    store.close()
    (tmp_path / "store.key").unlink()
    store = Store(tmp_path)
    try:
        assert store.get_cursor(scope) is None  # read again from the start
    finally:
        store.close()
    assert (tmp_path / "store.key").stat().st_mode & 0o777 == 0o600

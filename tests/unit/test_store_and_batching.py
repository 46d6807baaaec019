import json
import sqlite3
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.errors import StoreError
from satellite.sealing.batch_format import open_sealed
from satellite.sealing.sealer import Sealer
from satellite.store import CursorKey, OutboxEntry, Store
from satellite.streams.base import Checkpoint, Record, snapshot_diff
from satellite.sync.batching import BatchWriter

KEY = CursorKey("tfs", "git.commits", "DefaultCollection/repo-1")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def keys():
    return X25519PrivateKey.generate(), Ed25519PrivateKey.generate()


@pytest.fixture
def sealer(keys):
    recipient, signer = keys
    return Sealer("sat-1", "acme", "rk-1", recipient.public_key(), signer)


def record(n: int) -> Record:
    return Record("git.commit", f"repo-1:{n:040x}", "upsert", "2026-01-01T00:00:00Z", {"n": n, "secret_text": "CANARY-RECORD-TEXT"})


def test_database_is_wal_with_full_sync(store):
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_batch_and_cursor_commit_together_or_not_at_all(store):
    store.commit_batch(OutboxEntry("b1", "tfs", "git.commits", 1, 1, b"x"), (KEY, '{"heads":{}}'))
    assert store.get_cursor(KEY) == '{"heads":{}}' and store.outbox_stats().batches == 1
    with pytest.raises(StoreError):  # duplicate batch id: the whole transaction rolls back
        store.commit_batch(OutboxEntry("b1", "tfs", "git.commits", 2, 1, b"y"), (KEY, '{"heads":{"a":"b"}}'))
    assert store.get_cursor(KEY) == '{"heads":{}}' and store.outbox_stats().batches == 1


def test_seq_increases_per_stream(store):
    assert [store.next_seq("tfs", "git.commits") for _ in range(3)] == [1, 2, 3]
    assert store.next_seq("tfs", "core.projects") == 1


def test_writer_splits_batches_and_stores_each_with_the_preceding_checkpoint(store, sealer, keys):
    writer = BatchWriter(store, sealer, cursor_key=KEY, service="repos", max_records=3, max_bytes=10**9)
    items = [record(0), record(1), Checkpoint('{"heads":{"a":"1"}}'), record(2), record(3), record(4), Checkpoint('{"heads":{"a":"2"}}')]
    result = writer.write(items)
    assert (result.records, result.batches) == (5, 2)
    batches = store.pending_batches()
    assert [b.record_count for b in batches] == [3, 2] and [b.seq for b in batches] == [1, 2]
    recipient, signer = keys
    opened = [open_sealed(b.body, recipient, signer.public_key()) for b in batches]
    assert [r["key"] for o in opened for r in o.records] == [r.key for r in items if isinstance(r, Record)]
    assert opened[0].header.cursor_from is None and opened[0].header.cursor_to.startswith("sha256:")
    assert opened[1].header.cursor_from == opened[0].header.cursor_to
    assert store.get_cursor(KEY) == '{"heads":{"a":"2"}}'


def test_writer_stores_a_checkpoint_with_no_records(store, sealer):
    BatchWriter(store, sealer, cursor_key=KEY, service="repos", max_records=10, max_bytes=10**9).write([Checkpoint('{"heads":{}}')])
    assert store.get_cursor(KEY) == '{"heads":{}}' and store.outbox_stats().batches == 0


def test_writer_never_advances_the_cursor_past_unstored_records(store, sealer):
    def failing_stream():
        yield record(0)
        yield Checkpoint('{"heads":{"a":"1"}}')
        yield record(1)
        raise RuntimeError("network died mid-page")

    writer = BatchWriter(store, sealer, cursor_key=KEY, service="repos", max_records=100, max_bytes=10**9)
    with pytest.raises(RuntimeError):
        writer.write(failing_stream())
    assert store.get_cursor(KEY) is None and store.outbox_stats().batches == 0


def test_outbox_holds_no_plaintext(store, sealer, tmp_path):
    BatchWriter(store, sealer, cursor_key=KEY, service="repos", max_records=100, max_bytes=10**9).write([record(1), Checkpoint("{}")])
    store.close()
    for file in (tmp_path / "data").iterdir():
        assert b"CANARY-RECORD-TEXT" not in file.read_bytes()


def test_snapshot_diff_emits_changes_and_deletions_only():
    first = list(snapshot_diff("core.project", [("a", {"v": 1}), ("b", {"v": 1, "_links": {"self": 1}})], None))
    assert [(r.key, r.op) for r in first if isinstance(r, Record)] == [("a", "upsert"), ("b", "upsert")]
    assert "_links" not in first[1].data
    cursor = first[-1].cursor
    assert [r for r in snapshot_diff("core.project", [("a", {"v": 1}), ("b", {"v": 1})], cursor) if isinstance(r, Record)] == []
    changed = list(snapshot_diff("core.project", [("a", {"v": 2}), ("c", {"v": 1})], cursor))
    assert [(r.key, r.op) for r in changed if isinstance(r, Record)] == [("a", "upsert"), ("c", "upsert"), ("b", "delete")]
    assert json.loads(changed[-1].cursor)["hashes"].keys() == {"a", "c"}


def test_remembered_keys_are_stored_with_the_batch_and_hashed(store, sealer, tmp_path):
    writer = BatchWriter(store, sealer, cursor_key=KEY, service="repos", max_records=2, max_bytes=10**9, remember_keys=True)
    writer.write([record(1), record(2), record(3), Checkpoint("{}")])
    keys = [record(n).key for n in (1, 2, 3, 4)]
    assert store.delivered_among(KEY, keys) == set(keys[:3])
    other_partition = CursorKey(KEY.integration_id, KEY.stream, "DefaultCollection/repo-2")
    assert store.delivered_among(other_partition, keys) == set()
    store.close()
    raw = b"".join(f.read_bytes() for f in (tmp_path / "data").iterdir())
    assert record(1).key.encode() not in raw

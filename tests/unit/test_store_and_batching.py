import json
import sqlite3
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.errors import StoreError
from satellite.sealing.batch_format import open_sealed
from satellite.sealing.sealer import Sealer
from satellite.store import CursorKey, OutboxEntry
from satellite.streams.base import Checkpoint, Record, snapshot_diff
from satellite.sync.batching import BatchWriter

KEY = CursorKey("tfs", "git.commits", "DefaultCollection/repo-1")


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


def test_writer_asks_for_freed_memory_back_after_each_sealed_batch(store, sealer, monkeypatch):
    import satellite.sync.batching as batching

    stored_when_asked: list[int] = []
    monkeypatch.setattr(batching, "release_freed_memory", lambda: stored_when_asked.append(len(store.pending_batches())))
    writer = BatchWriter(store, sealer, cursor_key=KEY, service="repos", max_records=3, max_bytes=10**9)
    writer.write([record(n) for n in range(5)] + [Checkpoint('{"heads":{"a":"1"}}')])
    assert stored_when_asked == [1, 2]  # once the batch is stored and its buffer dropped
    writer.write([Checkpoint('{"heads":{"a":"2"}}')])  # a cursor alone: nothing was freed, nothing asked
    assert stored_when_asked == [1, 2]


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


# -- live keys of reconciled record types (destroyed work items) -------------------------------------

WIT = CursorKey("tfs", "wit.revisions", "DefaultCollection/")


def item(n: int, op: str = "upsert") -> Record:
    return Record("wit.work_item", f"c1:{n}", op, "2026-01-01T00:00:00Z", {"id": n} if op == "upsert" else None)


def test_live_keys_of_tracked_types_follow_the_batches_that_carry_them(store, sealer):
    writer = BatchWriter(store, sealer, cursor_key=WIT, service="boards", max_records=2, max_bytes=10**9,
                         tracked=("wit.work_item",))
    result = writer.write([item(1), item(2), Checkpoint('{"token":"a"}'), item(3), item(2, "delete"), record(9)])
    assert result.complete and store.live_keys(WIT, "wit.work_item") == {"c1:1", "c1:3"}
    met = writer.seen["wit.work_item"]  # MetKeys: hashes, answers ``in``
    assert list(writer.seen) == ["wit.work_item"] and len(met) == 3
    assert all(k in met for k in ("c1:1", "c1:2", "c1:3")) and "c1:9" not in met
    assert store.unmet_live_keys(WIT, "wit.work_item", met) == [] and store.unmet_live_keys(WIT, "wit.work_item", {"c1:1"}) == ["c1:3"]
    assert store.live_keys(WIT, "git.commit") == set()  # only the tracked types
    store.forget_live_keys(WIT, "wit.work_item", ["c1:3"])
    assert store.live_keys(WIT, "wit.work_item") == {"c1:1"}


def test_a_write_stopped_by_shutdown_is_not_complete(store, sealer):
    writer = BatchWriter(store, sealer, cursor_key=WIT, service="boards", max_records=10, max_bytes=10**9,
                         tracked=("wit.work_item",), should_stop=lambda: True)
    assert writer.write([item(1)]).complete is False


def _complete_read(store, sealer, seen: list[int], backfill: str | None = None) -> list[Record]:
    """A read from no cursor that met ``seen`` and reached its end; what the collector then deletes."""
    from satellite.sync.collector import Collector

    deleted: list[Record] = []
    writer = BatchWriter(store, sealer, cursor_key=WIT, service="boards", max_records=10, max_bytes=10**9,
                         tracked=("wit.work_item",), on_record=deleted.append)
    result = writer.write([item(n) for n in seen])
    deleted.clear()
    Collector._deletes_after_complete_read(SimpleNamespace(store=store), writer, WIT, ("wit.work_item",), backfill, result)
    return deleted


def test_a_complete_re_read_deletes_the_keys_it_no_longer_meets(store, sealer):
    assert _complete_read(store, sealer, [1, 2, 3]) == []  # the first run: nothing known before
    gone = _complete_read(store, sealer, [1, 3])
    assert [(r.type, r.key, r.op) for r in gone] == [("wit.work_item", "c1:2", "delete")]
    assert store.live_keys(WIT, "wit.work_item") == {"c1:1", "c1:3"}
    assert _complete_read(store, sealer, [1, 3]) == []  # deleted once


def test_keys_read_from_another_backfill_start_are_forgotten_not_deleted(store, sealer):
    _complete_read(store, sealer, [1, 2, 3], backfill="2024-01-01T00:00:00Z")
    assert _complete_read(store, sealer, [3], backfill="2025-01-01T00:00:00Z") == []  # older items are not gone
    assert store.live_keys(WIT, "wit.work_item") == {"c1:3"}
    assert [r.key for r in _complete_read(store, sealer, [], backfill="2025-01-01T00:00:00Z")] == ["c1:3"]

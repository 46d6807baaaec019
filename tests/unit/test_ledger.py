"""The delivery ledger: store version 4, the row each acknowledgement writes (in its transaction),
retention, and ``satellite ledger`` (--since, table, CSV, JSON)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import time
from datetime import datetime, timezone

import httpx
import pytest

from satellite.config import load_config
from satellite.delivery import build_delivery
from satellite.delivery.ledger import ledger_entry
from satellite.delivery.ledger_command import parse_since, render_ledger
from satellite.delivery.uploader import Uploader
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from satellite.sealing.batch_format import ndjson_line, read_header
from satellite.sealing.sealer import Sealer
from satellite.sei import SeiEndpoint
from satellite.store import CursorKey, LedgerEntry, OutboxEntry, Store
from satellite.store.at_rest import AtRest
from satellite.store.migrations import LATEST, MIGRATIONS, migrate, store_version
from satellite.streams.base import Record
from satellite.sync.batching import BatchWriter

from tests.support import run_cli, write_config

KEY = CursorKey("tfs", "git.commits", "DefaultCollection/repo-1")
DAY = 86400.0


def commits(count: int) -> list[Record]:
    return [Record("git.commit", f"repo-1:{n:040x}", "upsert", "2026-01-01T00:00:00Z", {"n": n}) for n in range(count)]


def write(store: Store, sealer: Sealer, records: list[Record], max_records: int = 2) -> None:
    BatchWriter(store, sealer, cursor_key=KEY, service="git", max_records=max_records, max_bytes=1 << 20,
                remember_keys=True).write(records)


def entry(batch_id: str, acknowledged_at: float, **fields) -> LedgerEntry:
    values = dict(batch_id=batch_id, integration_id="tfs", stream="git.commits", seq=1, record_count=3,
                  plaintext_sha256="a" * 64, sealed_sha256="b" * 64, policy=None, sealed_at=acknowledged_at - 1,
                  acknowledged_at=acknowledged_at, answer="stored")
    return LedgerEntry(**{**values, **fields})


# --- store version 4 ---------------------------------------------------------------------------------


def test_a_store_at_version_3_migrates_and_keeps_its_waiting_batches_and_dead_letters(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    conn = sqlite3.connect(data / "satellite.db", isolation_level=None)
    migrate(conn, "here", MIGRATIONS[:3], context=AtRest.of_data_dir(data, create=True))
    assert store_version(conn) == 3
    conn.execute("INSERT INTO outbox VALUES ('old-1', 'tfs', 'git.commits', 1, 2, 1.0, 4, x'53454942')")
    conn.execute("INSERT INTO dead_letters VALUES ('old-2', 'tfs', 'git.commits', 2, 2, 1.0, 4, x'53454942', 2.0, 422,"
                 " 'refused')")
    conn.close()
    store = Store(data)
    try:
        assert LATEST >= 4 and store_version(store._conn) == LATEST  # version 4, and those after it
        [waiting] = store.pending_batches()
        assert waiting.batch_id == "old-1" and waiting.plaintext_sha256 is None  # sealed before the ledger
        store.acknowledge(waiting, ledger_entry(waiting, "stored", time.time()))
        [row] = store.ledger()
        assert row.batch_id == "old-1" and row.plaintext_sha256 is None and row.sealed_sha256 == hashlib.sha256(b"SEIB").hexdigest()
        assert store.retry_dead_letters() == 1
        assert [b.batch_id for b in store.pending_batches()] == ["old-2"]
    finally:
        store.close()


def test_a_dead_letter_keeps_its_plaintext_digest_through_a_retry(store, sealer):
    write(store, sealer, commits(2))
    [batch] = store.pending_batches()
    assert batch.plaintext_sha256 is not None
    store.dead_letter(batch.batch_id, 422, "refused")
    assert store.retry_dead_letters() == 1
    assert store.pending_batches()[0].plaintext_sha256 == batch.plaintext_sha256


# --- the row of an acknowledgement --------------------------------------------------------------------


def test_the_row_holds_the_plaintext_and_sealed_digests_the_header_and_no_content(store, sealer):
    records = commits(3)
    write(store, sealer, records, max_records=10)
    [batch] = store.pending_batches()
    now = time.time()
    row = ledger_entry(batch, "stored", now)
    header = read_header(batch.body)
    plaintext = b"".join(ndjson_line(r.to_json()) for r in records)
    assert row.plaintext_sha256 == hashlib.sha256(plaintext).hexdigest()  # the NDJSON lines before gzip
    assert row.sealed_sha256 == hashlib.sha256(batch.body).hexdigest()
    assert (row.batch_id, row.integration_id, row.stream, row.seq, row.record_count) == (header.batch_id, "tfs", "git.commits", 1, 3)
    assert row.sealed_at == datetime.fromisoformat(header.created_at).timestamp() <= now
    assert row.policy == (getattr(header, "policy", None) or None)
    store.acknowledge(batch, row)
    assert store.ledger() == [row] and store.outbox_stats().batches == 0
    everything = json.dumps([str(v) for v in store._conn.execute("SELECT * FROM delivery_ledger").fetchone()])
    assert "repo-1" not in everything and "0000000000" not in everything  # ids and digests only


def test_the_row_is_written_once_and_only_with_the_acknowledgement(store, sealer):
    write(store, sealer, commits(2))
    [batch] = store.pending_batches()
    store.acknowledge(batch, ledger_entry(batch, "stored", 100.0))
    store.acknowledge(batch, ledger_entry(batch, "duplicate", 200.0))  # acknowledged again: the batch is gone already
    assert [(r.answer, r.acknowledged_at) for r in store.ledger()] == [("stored", 100.0)]


def test_a_failed_acknowledgement_writes_no_row(store, sealer):
    write(store, sealer, commits(2))
    [batch] = store.pending_batches()
    store._conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON delivery_stats BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(Exception, match="disk full"):
        store.acknowledge(batch, ledger_entry(batch, "stored", time.time()))
    assert store.ledger() == [] and store.outbox_stats().batches == 1  # one transaction: nothing of it


def test_the_uploader_writes_a_row_per_acknowledged_batch_with_the_digest_of_the_bytes_sent(store, sealer):
    write(store, sealer, commits(5))  # 3 batches
    sent: dict[str, bytes] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        sent[request.headers["Idempotency-Key"]] = request.content
        return httpx.Response(201 if len(sent) < 3 else 200)  # the last one SEI had already

    uploader = Uploader(store, SeiEndpoint("https://sei.test"), Secret("k"), retry=RetryPolicy(max_attempts=None, initial_wait=0.01),
                        concurrency=1, transport=httpx.MockTransport(answer), ledger_retention=DAY)
    with uploader:
        report = uploader.drain()
    assert report.delivered == 2 and report.duplicates == 1
    rows = store.ledger()
    assert {r.batch_id: r.sealed_sha256 for r in rows} == {k: hashlib.sha256(v).hexdigest() for k, v in sent.items()}
    assert sorted(r.answer for r in rows) == ["duplicate", "stored", "stored"]
    assert sum(r.record_count for r in rows) == 5


# --- retention -----------------------------------------------------------------------------------------


def test_rows_older_than_the_retention_go_at_an_acknowledgement(store, sealer):
    now = time.time()
    store.acknowledge(OutboxEntry("gone", "tfs", "s", 1, 1, b""), None)  # nothing to acknowledge: no row
    with store._transaction() as conn:
        for batch_id, at in (("old", now - 91 * DAY), ("recent", now - 89 * DAY)):
            conn.execute("INSERT INTO delivery_ledger VALUES (?, 'tfs', 's', 1, 1, NULL, 'x', NULL, ?, ?, 'stored')",
                         (batch_id, at, at))
    write(store, sealer, commits(1))
    [batch] = store.pending_batches()
    store.acknowledge(batch, ledger_entry(batch, "stored", now), prune_before=now - 90 * DAY)
    assert [r.batch_id for r in store.ledger()] == ["recent", batch.batch_id]
    assert store.prune_ledger(now - 10 * DAY) == 1
    assert [r.batch_id for r in store.ledger()] == [batch.batch_id]


def test_the_retention_is_applied_when_delivery_starts(tmp_path, key_files, env):
    config = load_config(write_config(tmp_path, ado_url="http://127.0.0.1:9/tfs/DefaultCollection", endpoint="http://127.0.0.1:9",
                                      key_files=key_files, delivery={"ledger_retention": "7d"}), env=env)
    assert config.delivery.ledger_retention.total_seconds() == 7 * DAY
    store = Store(config.satellite.data_dir)
    try:
        now = time.time()
        with store._transaction() as conn:
            conn.execute("INSERT INTO delivery_ledger VALUES ('old', 'tfs', 's', 1, 1, NULL, 'x', NULL, ?, ?, 'stored')",
                         (now - 8 * DAY, now - 8 * DAY))
            conn.execute("INSERT INTO delivery_ledger VALUES ('new', 'tfs', 's', 1, 1, NULL, 'x', NULL, ?, ?, 'stored')",
                         (now - 6 * DAY, now - 6 * DAY))
        with build_delivery(config, store, started_at=now):
            pass
        assert [r.batch_id for r in store.ledger()] == ["new"]
    finally:
        store.close()


def test_the_default_retention_is_90_days(tmp_path, key_files, env):
    config = load_config(write_config(tmp_path, ado_url="http://127.0.0.1:9/tfs/DefaultCollection", endpoint="http://127.0.0.1:9",
                                      key_files=key_files), env=env)
    assert config.delivery.ledger_retention.total_seconds() == 90 * DAY


# --- satellite ledger ------------------------------------------------------------------------------------


def test_since_reads_a_date_a_date_time_or_a_duration():
    assert parse_since("2026-11-30") == datetime(2026, 11, 30, tzinfo=timezone.utc).timestamp()
    assert parse_since("2026-11-30T12:00:00Z") == datetime(2026, 11, 30, 12, tzinfo=timezone.utc).timestamp()
    assert parse_since("2026-11-30T12:00:00+01:00") == datetime(2026, 11, 30, 11, tzinfo=timezone.utc).timestamp()
    assert parse_since("7d", now=10 * DAY) == 3 * DAY and parse_since("12h", now=DAY) == DAY / 2
    with pytest.raises(ValueError, match="a date"):
        parse_since("last tuesday")


def test_the_three_formats():
    rows = [entry("b-1", 1_796_000_000.0, policy="sha256:abc"), entry("b-2", 1_796_000_060.5, plaintext_sha256=None, answer="duplicate")]
    as_json = json.loads(render_ledger(rows, "json"))
    assert [r["batch_id"] for r in as_json] == ["b-1", "b-2"]
    assert as_json[0]["acknowledged_at"] == "2026-11-30T00:53:20.000Z" and as_json[1]["plaintext_sha256"] is None
    assert as_json[0]["sealed_sha256"] == "b" * 64 and as_json[0]["policy"] == "sha256:abc"
    as_csv = list(csv.DictReader(io.StringIO(render_ledger(rows, "csv"))))
    assert [r["batch_id"] for r in as_csv] == ["b-1", "b-2"] and as_csv[1]["plaintext_sha256"] == ""
    assert as_csv[0]["record_count"] == "3" and as_csv[1]["answer"] == "duplicate" and as_csv[0]["sealed_sha256"] == "b" * 64
    table = render_ledger(rows, "table").splitlines()
    assert table[0].split()[:3] == ["acknowledged", "batch", "integration"]
    assert "b-1" in table[1] and "sha256:abc" in table[1] and "b" * 12 + "…" in table[1] and "b" * 13 not in table[1]
    assert table[-1].startswith("2 batch(es), 6 record(s)")
    assert render_ledger([], "json") == "[]" and render_ledger([], "csv").count("\n") == 0


def test_the_command_prints_the_rows_since_a_date_in_each_format(tmp_path, key_files, env):
    path = write_config(tmp_path, ado_url="http://127.0.0.1:9/tfs/DefaultCollection", endpoint="http://127.0.0.1:9",
                        key_files=key_files)
    store = Store(load_config(path, env=env).satellite.data_dir)
    try:
        for batch_id, day in (("nov-28", 28), ("nov-30", 30), ("dec-01", 31)):
            at = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp() + (day - 1) * DAY
            with store._transaction() as conn:
                conn.execute("INSERT INTO delivery_ledger VALUES (?, 'tfs', 's', 1, 2, NULL, 'x', NULL, ?, ?, 'stored')",
                             (batch_id, at, at))
    finally:
        store.close()
    as_json = run_cli("ledger", "-c", str(path), "--since", "2026-11-30", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert [r["batch_id"] for r in json.loads(as_json.stdout)] == ["nov-30", "dec-01"]
    as_csv = run_cli("ledger", "-c", str(path), "--format", "csv")
    assert [r["batch_id"] for r in csv.DictReader(io.StringIO(as_csv.stdout))] == ["nov-28", "nov-30", "dec-01"]
    table = run_cli("ledger", "-c", str(path), "--since", "2026-12-01T00:00:00Z")
    assert "dec-01" in table.stdout and "nov-30" not in table.stdout and "1 batch(es), 2 record(s)" in table.stdout
    assert "kept 90d" in table.stdout
    wrong = run_cli("ledger", "-c", str(path), "--since", "someday")
    assert wrong.returncode == 2 and "a date (2026-11-30)" in wrong.stderr

"""The reference receiver's SQLite store: batches seen (for de-duplication) and the latest record per (type, key)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from satellite import json_codec
from satellite.sealing.batch_format import OpenedBatch
from satellite.streams import NESTED_TYPES

__all__ = ["ReceiverStorage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    batch_id       TEXT PRIMARY KEY,
    satellite_id   TEXT NOT NULL,
    tenant         TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    record_count   INTEGER NOT NULL,
    received_at    REAL NOT NULL,
    policy         TEXT
);
CREATE TABLE IF NOT EXISTS heartbeats (
    satellite_id TEXT PRIMARY KEY,
    received_at  REAL NOT NULL,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    type        TEXT NOT NULL,
    key         TEXT NOT NULL,
    op          TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    data        TEXT,
    batch_id    TEXT NOT NULL,
    PRIMARY KEY (type, key)
);
"""


class ReceiverStorage:
    """Thread-safe; ``store_batch`` is one transaction and returns False for a batch seen before.

    ``clock`` (epoch seconds) stamps ``received_at``: the demo runs it on the simulator's clock, so that
    freshness (server change -> receiver) is measured on one clock.
    """

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = data_dir / "receiver.db"
        self._clock = clock
        self._conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(batches)")}
        if "policy" not in columns:  # a receiver.db of an older release
            self._conn.execute("ALTER TABLE batches ADD COLUMN policy TEXT")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def store_batch(self, batch: OpenedBatch) -> bool:
        h = batch.header
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO batches (batch_id, satellite_id, tenant, integration_id, stream, seq, record_count,"
                    " received_at, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (h.batch_id, h.satellite_id, h.tenant, h.integration_id, h.stream, h.seq, h.record_count, self._clock(),
                     h.policy),
                ).rowcount
                if inserted:
                    conn.executemany(
                        "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (type, key) DO UPDATE SET"
                        " op=excluded.op, observed_at=excluded.observed_at, data=excluded.data, batch_id=excluded.batch_id"
                        " WHERE excluded.observed_at >= records.observed_at",
                        [
                            (r["type"], r["key"], r["op"], r["observed_at"], json_codec.dumps(r.get("data")).decode(), h.batch_id)
                            for r in batch.records
                        ],
                    )
                    self._delete_nested(conn, [r for r in batch.records if r["op"] == "delete"], h.batch_id)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return bool(inserted)

    @staticmethod
    def _delete_nested(conn: sqlite3.Connection, deletes: list[dict], batch_id: str) -> None:
        """A deleted record takes its nested records with it (the contract: ``NESTED_TYPES``, keys
        ``<its key>:<id>``), those stored before the delete."""
        for record in deletes:
            for nested_type in NESTED_TYPES.get(record["type"], ()):
                prefix = record["key"] + ":"
                conn.execute(
                    "UPDATE records SET op='delete', observed_at=?, data='null', batch_id=? WHERE type=? AND op='upsert'"
                    " AND key >= ? AND key < ? AND observed_at <= ?",
                    (record["observed_at"], batch_id, nested_type, prefix, prefix + "\U0010ffff", record["observed_at"]))

    def store_heartbeat(self, satellite_id: str, body: dict) -> None:
        """Keep the latest heartbeat of each satellite."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO heartbeats VALUES (?, ?, ?)", (satellite_id, self._clock(), json.dumps(body)))

    def stats(self) -> dict:
        with self._lock:
            batches, records_in_batches = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(record_count), 0) FROM batches"
            ).fetchone()
            rows = self._conn.execute("SELECT type, op, COUNT(*) FROM records GROUP BY type, op").fetchall()
            beats = self._conn.execute("SELECT satellite_id, received_at, body FROM heartbeats").fetchall()
        types: dict[str, dict[str, int]] = {}
        for record_type, op, count in rows:
            entry = types.setdefault(record_type, {"live": 0, "deleted": 0})
            entry["live" if op == "upsert" else "deleted"] += count
        satellites = {sid: {"received_at": at, **json.loads(body)} for sid, at, body in beats}
        return {"batches": batches, "records_received": records_in_batches, "types": types, "satellites": satellites}

    def batch_policies(self) -> dict[str, str | None]:
        """The policy fingerprint of every batch stored, by batch id (None: a batch without one)."""
        with self._lock:
            return dict(self._conn.execute("SELECT batch_id, policy FROM batches").fetchall())

    def records(self, record_type: str, include_data: bool = False) -> list[dict]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, op, observed_at, data FROM records WHERE type=? ORDER BY key", (record_type,)
            ).fetchall()
        return [
            {"key": k, "op": op, "observed_at": seen, **({"data": json.loads(d)} if include_data else {})}
            for k, op, seen, d in rows
        ]

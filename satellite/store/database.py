"""The satellite's one local database: cursors, per-stream sequence numbers and the outbox.

SQLite in WAL mode with ``synchronous=FULL``: a committed transaction survives power loss.
The outbox holds sealed (encrypted, signed) batches only; cursors hold ids and hashes.
``commit_batch`` stores a batch and advances its cursor in ONE transaction: this is the
invariant that makes a crash anywhere lose nothing.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from satellite.errors import StoreError

__all__ = ["Store", "CursorKey", "OutboxEntry", "OutboxStats", "DATABASE_NAME"]

DATABASE_NAME = "satellite.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    partition      TEXT NOT NULL,
    value          TEXT NOT NULL,
    updated_at     REAL NOT NULL,
    PRIMARY KEY (integration_id, stream, partition)
);
CREATE TABLE IF NOT EXISTS stream_seq (
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    PRIMARY KEY (integration_id, stream)
);
CREATE TABLE IF NOT EXISTS outbox (
    batch_id       TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    record_count   INTEGER NOT NULL,
    created_at     REAL NOT NULL,
    body           BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (created_at, stream, seq);
CREATE TABLE IF NOT EXISTS delivered_keys (
    integration_id TEXT NOT NULL,
    stream         TEXT NOT NULL,
    partition      TEXT NOT NULL,
    key_hash       BLOB NOT NULL,
    PRIMARY KEY (integration_id, stream, partition, key_hash)
) WITHOUT ROWID;
"""


def _key_hash(key: str) -> bytes:
    """Keys of immutable records are remembered as 16-byte hashes, not in the clear."""
    return hashlib.sha256(key.encode()).digest()[:16]


@dataclass(frozen=True, slots=True)
class CursorKey:
    """Identifies one cursor: an integration's stream over one partition (e.g. a repository)."""

    integration_id: str
    stream: str
    partition: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    batch_id: str
    integration_id: str
    stream: str
    seq: int
    record_count: int
    body: bytes


@dataclass(frozen=True, slots=True)
class OutboxStats:
    batches: int
    bytes: int
    records: int
    oldest_created_at: float | None


class Store:
    """Thread-safe access to the database at ``data_dir/satellite.db``."""

    def __init__(self, data_dir: Path) -> None:
        data_dir = Path(data_dir)
        try:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path = data_dir / DATABASE_NAME
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.executescript(_SCHEMA)
            os.chmod(self.path, 0o600)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store in {data_dir}: {exc}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"store write failed ({self.path}): {exc}") from None

    # cursors -------------------------------------------------------------------------------

    def get_cursor(self, key: CursorKey) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM cursors WHERE integration_id=? AND stream=? AND partition=?",
                (key.integration_id, key.stream, key.partition),
            ).fetchone()
        return row[0] if row else None

    def save_cursor(self, key: CursorKey, value: str) -> None:
        """Advance a cursor with no batch (e.g. only deletions of branches already handled)."""
        with self._transaction() as conn:
            self._upsert_cursor(conn, key, value)

    @staticmethod
    def _upsert_cursor(conn: sqlite3.Connection, key: CursorKey, value: str) -> None:
        conn.execute(
            "INSERT INTO cursors VALUES (?, ?, ?, ?, ?) ON CONFLICT (integration_id, stream, partition)"
            " DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
            (key.integration_id, key.stream, key.partition, value, time.time()),
        )

    # batches -------------------------------------------------------------------------------

    def next_seq(self, integration_id: str, stream: str) -> int:
        """Reserve the next sequence number of a stream (gaps after a crash are harmless)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO stream_seq VALUES (?, ?, 1) ON CONFLICT (integration_id, stream)"
                " DO UPDATE SET seq = seq + 1",
                (integration_id, stream),
            )
            return conn.execute(
                "SELECT seq FROM stream_seq WHERE integration_id=? AND stream=?", (integration_id, stream)
            ).fetchone()[0]

    def commit_batch(
        self,
        entry: OutboxEntry,
        cursor: tuple[CursorKey, str] | None,
        delivered: tuple[CursorKey, Iterable[str]] | None = None,
    ) -> None:
        """Store a sealed batch, advance its cursor and remember its immutable keys, atomically."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?)",
                (entry.batch_id, entry.integration_id, entry.stream, entry.seq, entry.record_count, time.time(), entry.body),
            )
            if cursor is not None:
                self._upsert_cursor(conn, *cursor)
            if delivered is not None:
                scope, keys = delivered
                conn.executemany(
                    "INSERT OR IGNORE INTO delivered_keys VALUES (?, ?, ?, ?)",
                    [(scope.integration_id, scope.stream, scope.partition, _key_hash(k)) for k in keys],
                )

    def delivered_among(self, scope: CursorKey, keys: list[str]) -> set[str]:
        """Which of ``keys`` were already stored for delivery in this partition (immutable records only)."""
        by_hash = {_key_hash(k): k for k in keys}
        found: set[str] = set()
        hashes = list(by_hash)
        with self._lock:
            for start in range(0, len(hashes), 500):
                chunk = hashes[start : start + 500]
                rows = self._conn.execute(
                    "SELECT key_hash FROM delivered_keys WHERE integration_id=? AND stream=? AND partition=?"
                    f" AND key_hash IN ({','.join('?' * len(chunk))})",
                    (scope.integration_id, scope.stream, scope.partition, *chunk),
                ).fetchall()
                found.update(by_hash[row[0]] for row in rows)
        return found

    def pending_batches(self, limit: int = 100) -> list[OutboxEntry]:
        """Oldest first, and in seq order within a stream."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT batch_id, integration_id, stream, seq, record_count, body FROM outbox"
                " ORDER BY created_at, integration_id, stream, seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [OutboxEntry(*row) for row in rows]

    def delete_batch(self, batch_id: str) -> None:
        """Forget a batch once the receiver acknowledged it."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM outbox WHERE batch_id=?", (batch_id,))

    def outbox_stats(self) -> OutboxStats:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0), COALESCE(SUM(record_count), 0), MIN(created_at) FROM outbox"
            ).fetchone()
        return OutboxStats(*row)

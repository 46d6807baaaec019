"""The satellite's one local database: cursors, per-stream sequence numbers and the outbox.

SQLite in WAL mode with ``synchronous=FULL``: a committed transaction survives power loss.
The outbox holds sealed (encrypted, signed) batches only; cursors and the keys of live records are
sealed with the data dir's store key, delivered keys are keyed hashes (``at_rest``): no names.
``commit_batch`` stores a batch and advances its cursor in ONE transaction: this is the
invariant that makes a crash anywhere lose nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Container, Iterable, Iterator

import structlog

from satellite.errors import StoreError
from satellite.store.access import data_dir_hint
from satellite.store.at_rest import KEY_FILE, AtRest
from satellite.store.ledger import Forgotten, LedgerEntry
from satellite.store.migrations import (
    LEGACY_DELIVERED,
    migrate,
    refuse_newer,
    store_version,
)

__all__ = ["Store", "CursorKey", "OutboxEntry", "OutboxStats", "DeadLetter", "StreamStatus", "LedgerEntry", "Forgotten",
           "DATABASE_NAME"]

DATABASE_NAME = "satellite.db"

log = structlog.get_logger(__name__)



def _legacy_key_hash(key: str) -> bytes:
    """How releases before store version 2 remembered delivered keys (unkeyed): still looked up."""
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
    plaintext_sha256: str | None = None  # of the NDJSON lines before gzip (the delivery ledger); None before store version 4


@dataclass(frozen=True, slots=True)
class OutboxStats:
    batches: int
    bytes: int
    records: int
    oldest_created_at: float | None
    dead_letters: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    batch_id: str
    integration_id: str
    stream: str
    seq: int
    record_count: int
    size: int
    created_at: float
    rejected_at: float
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """One stream of one integration, its partitions (projects, repositories...) folded together."""

    integration_id: str
    stream: str
    partitions: int
    last_success_at: float | None
    last_error: str | None
    last_error_at: float | None
    records_collected: int
    batches_collected: int
    batches_delivered: int
    records_delivered: int
    last_delivered_at: float | None
    failing_partitions: int
    quarantined: int = 0  # items skipped as unreadable in the latest run of each partition


def _digest(sealed: str | None) -> bytes | None:
    """16 bytes that tell two sealed cursors apart (None for none)."""
    return None if sealed is None else hashlib.blake2b(sealed.encode(), digest_size=16).digest()


class Store:
    """Thread-safe access to the database at ``data_dir/satellite.db``."""

    def __init__(self, data_dir: Path) -> None:
        data_dir = Path(data_dir)
        try:
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.path = data_dir / DATABASE_NAME
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store in {data_dir}: {exc}{data_dir_hint(data_dir)}") from None
        try:
            refuse_newer(self._conn, str(data_dir))  # before any write: a newer release's store stays untouched
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._at_rest = self._store_key(data_dir)
            migrate(self._conn, str(data_dir), context=self._at_rest)
            self._legacy_delivered = bool(self._conn.execute("SELECT 1 FROM agent_state WHERE key=?", (LEGACY_DELIVERED,)).fetchone())
            os.chmod(self.path, 0o600)
        except (sqlite3.Error, OSError, StoreError) as exc:
            self._conn.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open the store in {data_dir}: {exc}{data_dir_hint(data_dir)}") from None
        self._lock = threading.Lock()
        self._room = threading.Condition()
        # each cursor as this process last read or wrote it (a digest of its sealed value; None: none):
        # a cursor found otherwise when it is saved was forgotten meanwhile (``forget``,
        # ``reset_cursors``), and the run that read it before does not bring it back. A digest, not the
        # value: a sealed cursor is 1-7 KB and a sync of a big collection meets thousands of them
        self._cursor_seen: dict[CursorKey, bytes | None] = {}
        self._stale_logged: set[CursorKey] = set()

    def _store_key(self, data_dir: Path) -> AtRest:
        """The data dir's store key; made with a new store. A store sealed with a key since lost
        cannot read its cursors: it starts over (a full re-read) and says so."""
        at_rest = AtRest.of_data_dir(data_dir, create=False)
        if at_rest is None:
            if store_version(self._conn) >= 2 and self._conn.execute("SELECT COUNT(*) FROM cursors").fetchone()[0]:
                log.warning("store_key_missing", key=str(Path(data_dir) / KEY_FILE),
                            hint="the cursors cannot be read without it: every stream reads again from the start")
                for table in ("cursors", "live_keys", "delivered_keys"):
                    self._conn.execute(f"DELETE FROM {table}")
            at_rest = AtRest.of_data_dir(data_dir, create=True)
        return at_rest

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _transaction(self, notify: bool = False) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction; ``notify`` wakes threads waiting on the outbox afterwards."""
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
        if notify:
            with self._room:
                self._room.notify_all()

    # cursors -------------------------------------------------------------------------------

    def get_cursor(self, key: CursorKey) -> str | None:
        with self._lock:
            sealed = self._sealed_cursor(self._conn, key)
            self._cursor_seen[key] = _digest(sealed)
        return None if sealed is None else self._at_rest.open(sealed)

    @staticmethod
    def _sealed_cursor(conn: sqlite3.Connection, key: CursorKey) -> str | None:
        row = conn.execute(
            "SELECT value FROM cursors WHERE integration_id=? AND stream=? AND partition=?",
            (key.integration_id, key.stream, key.partition),
        ).fetchone()
        return row[0] if row else None

    def save_cursor(self, key: CursorKey, value: str) -> None:
        """Advance a cursor with no batch (e.g. only deletions of branches already handled)."""
        with self._transaction() as conn:
            self._upsert_cursor(conn, key, value)

    def _upsert_cursor(self, conn: sqlite3.Connection, key: CursorKey, value: str) -> None:
        """Advance a cursor, unless it was forgotten (or changed) since this process read it: a run
        that began before ``satellite resync`` or a reconciliation then leaves it forgotten, and
        the next run reads its partition again from the start."""
        if key in self._cursor_seen and _digest(self._sealed_cursor(conn, key)) != self._cursor_seen[key]:
            if key not in self._stale_logged:
                self._stale_logged.add(key)
                log.info("cursor_not_advanced", integration=key.integration_id, stream=key.stream, partition=key.partition,
                         reason="forgotten meanwhile (satellite resync or a reconciliation): the next run reads it again")
            return
        sealed = self._at_rest.seal(value)
        conn.execute(
            "INSERT INTO cursors VALUES (?, ?, ?, ?, ?) ON CONFLICT (integration_id, stream, partition)"
            " DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
            (key.integration_id, key.stream, key.partition, sealed, time.time()),
        )
        self._cursor_seen[key] = _digest(sealed)
        self._stale_logged.discard(key)

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
        live: tuple[CursorKey, Iterable[tuple[str, str, bool]]] | None = None,
    ) -> None:
        """Store a sealed batch, advance its cursor and remember its immutable keys, atomically.
        ``live``: (record type, key, alive) of the batch's records of reconciled types."""
        with self._transaction(notify=True) as conn:
            conn.execute(
                f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (entry.batch_id, entry.integration_id, entry.stream, entry.seq, entry.record_count, time.time(),
                 len(entry.body), entry.body, entry.plaintext_sha256),
            )
            if cursor is not None:
                self._upsert_cursor(conn, *cursor)
            if delivered is not None:
                scope, keys = delivered
                conn.executemany(
                    "INSERT OR IGNORE INTO delivered_keys VALUES (?, ?, ?, ?)",
                    [(scope.integration_id, scope.stream, scope.partition, self._at_rest.key_hash(k)) for k in keys],
                )
            if live is not None:
                scope, changes = live
                for record_type, key, alive in changes:
                    row = (scope.integration_id, scope.stream, scope.partition, record_type, self._at_rest.seal(key))
                    if alive:
                        conn.execute("INSERT OR IGNORE INTO live_keys VALUES (?, ?, ?, ?, ?)", row)
                    else:
                        conn.execute("DELETE FROM live_keys WHERE integration_id=? AND stream=? AND partition=?"
                                     " AND record_type=? AND key=?", row)

    def live_keys(self, scope: CursorKey, record_type: str) -> set[str]:
        """The keys of ``record_type`` delivered live in this partition (reconciled types only)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key FROM live_keys WHERE integration_id=? AND stream=? AND partition=? AND record_type=?",
                (scope.integration_id, scope.stream, scope.partition, record_type),
            ).fetchall()
        return {self._at_rest.open(row[0]) for row in rows}

    def unmet_live_keys(self, scope: CursorKey, record_type: str, met: Container[str]) -> list[str]:
        """The keys of ``record_type`` delivered live in this partition and not in ``met``, read a
        chunk of rows at a time (after a backfill they are every key it wrote: never all in memory)."""
        unmet: list[str] = []
        with self._lock:
            rows = self._conn.execute(
                "SELECT key FROM live_keys WHERE integration_id=? AND stream=? AND partition=? AND record_type=?",
                (scope.integration_id, scope.stream, scope.partition, record_type),
            )
            while chunk := rows.fetchmany(1000):
                unmet.extend(key for key in (self._at_rest.open(row[0]) for row in chunk) if key not in met)
        return unmet

    def forget_live_keys(self, scope: CursorKey, record_type: str, keys: Iterable[str]) -> None:
        """Stop tracking ``keys`` without a delete (they were read under another backfill start)."""
        with self._transaction() as conn:
            conn.executemany(
                "DELETE FROM live_keys WHERE integration_id=? AND stream=? AND partition=? AND record_type=? AND key=?",
                [(scope.integration_id, scope.stream, scope.partition, record_type, self._at_rest.seal(k)) for k in keys],
            )

    def delivered_among(self, scope: CursorKey, keys: list[str]) -> set[str]:
        """Which of ``keys`` were already stored for delivery in this partition (immutable records only)."""
        by_hash = {self._at_rest.key_hash(k): k for k in keys}
        if self._legacy_delivered:  # rows of a release before store version 2
            by_hash |= {_legacy_key_hash(k): k for k in keys}
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

    def pending_batches(self, limit: int = 100, *, bodies: bool = True) -> list[OutboxEntry]:
        """Oldest first, and in seq order within a stream. ``bodies=False``: each with an empty body,
        read with ``outbox_body`` when it is sent (a window of sealed bodies read at once is held at
        once: megabytes per window, more as the batches waiting grow)."""
        body = "body" if bodies else "X''"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT batch_id, integration_id, stream, seq, record_count, {body}, plaintext_sha256 FROM outbox"
                " ORDER BY created_at, integration_id, stream, seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [OutboxEntry(*row) for row in rows]

    def outbox_body(self, batch_id: str) -> bytes | None:
        """The sealed body of a batch still in the outbox; None once it is gone (acknowledged, dead-lettered)."""
        with self._lock:
            row = self._conn.execute("SELECT body FROM outbox WHERE batch_id=?", (batch_id,)).fetchone()
        return None if row is None else row[0]

    def acknowledge(self, entry: OutboxEntry, ledger: LedgerEntry | None = None, prune_before: float | None = None) -> None:
        """Forget a batch the receiver acknowledged, count it as delivered and append ``ledger`` to
        the delivery ledger, in one transaction; ``prune_before``: ledger rows acknowledged before
        then go (retention)."""
        with self._transaction(notify=True) as conn:
            if conn.execute("DELETE FROM outbox WHERE batch_id=?", (entry.batch_id,)).rowcount:
                conn.execute(
                    "INSERT INTO delivery_stats VALUES (?, ?, 1, ?, ?) ON CONFLICT (integration_id, stream) DO UPDATE SET"
                    " batches_delivered = batches_delivered + 1, records_delivered = records_delivered + excluded.records_delivered,"
                    " last_delivered_at = excluded.last_delivered_at",
                    (entry.integration_id, entry.stream, entry.record_count, time.time()),
                )
                if ledger is not None:
                    conn.execute(f"INSERT OR REPLACE INTO delivery_ledger ({_LEDGER_COLUMNS}) VALUES"
                                 f" ({', '.join('?' * len(_LEDGER_FIELDS))})",
                                 tuple(getattr(ledger, name) for name in _LEDGER_FIELDS))
            if prune_before is not None:
                conn.execute("DELETE FROM delivery_ledger WHERE acknowledged_at < ?", (prune_before,))

    def ledger(self, since: float | None = None) -> list[LedgerEntry]:
        """The delivery ledger, oldest acknowledgement first (``since``: acknowledged then or later)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_LEDGER_COLUMNS} FROM delivery_ledger WHERE ?1 IS NULL OR acknowledged_at >= ?1"
                " ORDER BY acknowledged_at, batch_id", (since,),
            ).fetchall()
        return [LedgerEntry(*row) for row in rows]

    def prune_ledger(self, before: float) -> int:
        """Drop the ledger rows acknowledged before ``before``; returns how many."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM delivery_ledger WHERE acknowledged_at < ?", (before,)).rowcount

    def dead_letter(self, batch_id: str, status: int, reason: str) -> None:
        """Move a batch the endpoint refused for good to the dead letters (never deleted)."""
        with self._transaction(notify=True) as conn:
            conn.execute(
                f"INSERT INTO dead_letters ({_OUTBOX_COLUMNS}, rejected_at, status, reason) SELECT {_OUTBOX_COLUMNS},"
                " ?, ?, ? FROM outbox WHERE batch_id=?",
                (time.time(), status, reason[:1000], batch_id),
            )
            conn.execute("DELETE FROM outbox WHERE batch_id=?", (batch_id,))

    def dead_letters(self) -> list[DeadLetter]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT batch_id, integration_id, stream, seq, record_count, size, created_at, rejected_at, status, reason"
                " FROM dead_letters ORDER BY rejected_at"
            ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def retry_dead_letters(self, batch_ids: list[str] | None = None) -> int:
        """Put dead letters (all, or those named) back in the outbox; returns how many."""
        where, args = ("", ()) if batch_ids is None else (f" WHERE batch_id IN ({','.join('?' * len(batch_ids))})", tuple(batch_ids))
        with self._transaction(notify=True) as conn:
            moved = conn.execute(
                f"INSERT OR IGNORE INTO outbox ({_OUTBOX_COLUMNS}) SELECT batch_id, integration_id, stream, seq, record_count,"
                f" ?, size, body, plaintext_sha256 FROM dead_letters{where}",
                (time.time(), *args),
            ).rowcount
            conn.execute(f"DELETE FROM dead_letters{where}", args)
        return moved

    def outbox_stats(self) -> OutboxStats:
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(record_count), 0), MIN(created_at) FROM outbox"
            ).fetchone()
            dead = self._conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()[0]
        return OutboxStats(*row, dead_letters=dead)

    def wait_for_room(self, size: int, limit: int, should_stop: Callable[[], bool] = lambda: False) -> float:
        """Block while adding ``size`` bytes would take the outbox past ``limit`` (backpressure).

        A batch larger than the limit is let through once the outbox is empty. Returns the
        seconds waited.

        Raises:
            StoreError: ``should_stop`` turned true while waiting.
        """
        started = time.monotonic()
        with self._room:
            while True:
                used = self.outbox_stats().bytes
                if used == 0 or used + size <= limit:
                    return time.monotonic() - started
                if should_stop():
                    raise StoreError("stopped while the outbox was full")
                self._room.wait(timeout=0.5)

    def wait_for_batches(self, timeout: float) -> None:
        """Sleep until a batch is added or removed (or ``timeout`` passes)."""
        with self._room:
            self._room.wait(timeout=timeout)

    # status ---------------------------------------------------------------------------------

    def record_outcome(self, key: CursorKey, *, records: int = 0, batches: int = 0, error: str | None = None,
                       quarantined: int = 0) -> None:
        """How one run of a stream over a partition went (for status, metrics and heartbeats);
        ``quarantined``: items it skipped as unreadable this run (the count shows the latest run's)."""
        now = time.time()
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO stream_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (integration_id, stream, partition)"
                " DO UPDATE SET last_success_at = COALESCE(excluded.last_success_at, last_success_at),"
                " last_error = excluded.last_error, last_error_at = COALESCE(excluded.last_error_at, last_error_at),"
                " records_collected = records_collected + excluded.records_collected,"
                " batches_collected = batches_collected + excluded.batches_collected,"
                " quarantined = CASE WHEN excluded.last_error IS NULL THEN excluded.quarantined ELSE quarantined END",
                (key.integration_id, key.stream, key.partition, None if error else now, error, now if error else None,
                 records, batches, quarantined),
            )

    def stream_statuses(self) -> list[StreamStatus]:
        """Per stream (partitions folded together): last success, last error, counts, delivery."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT s.integration_id, s.stream, COUNT(*), MAX(s.last_success_at),"
                " (SELECT last_error FROM stream_status e WHERE e.integration_id = s.integration_id AND e.stream = s.stream"
                "  AND e.last_error IS NOT NULL ORDER BY e.last_error_at DESC LIMIT 1),"
                " MAX(CASE WHEN s.last_error IS NOT NULL THEN s.last_error_at END),"
                " SUM(s.records_collected), SUM(s.batches_collected),"
                " COALESCE(d.batches_delivered, 0), COALESCE(d.records_delivered, 0), d.last_delivered_at,"
                " (SELECT COUNT(*) FROM stream_status f WHERE f.integration_id = s.integration_id AND f.stream = s.stream"
                "  AND f.last_error IS NOT NULL),"
                " SUM(s.quarantined)"
                " FROM stream_status s LEFT JOIN delivery_stats d ON d.integration_id = s.integration_id AND d.stream = s.stream"
                " GROUP BY s.integration_id, s.stream ORDER BY s.integration_id, s.stream"
            ).fetchall()
        return [StreamStatus(*row) for row in rows]

    def cursor_summaries(self) -> dict[tuple[str, str], tuple[int, float, str]]:
        """(integration, stream) -> (partitions with a cursor, last cursor update, newest cursor, shortened)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT integration_id, stream, COUNT(*), MAX(updated_at),"
                " (SELECT value FROM cursors c2 WHERE c2.integration_id = c.integration_id AND c2.stream = c.stream"
                "  ORDER BY updated_at DESC LIMIT 1)"
                " FROM cursors c GROUP BY integration_id, stream"
            ).fetchall()
        return {(i, s): (n, at, _cursor_summary(self._at_rest.open(v))) for i, s, n, at, v in rows}

    def held_deletes(self) -> dict[tuple[str, str], int]:
        """(integration, stream) -> keys whose deletion a snapshot listing holds (the delete guard)."""
        with self._lock:
            rows = self._conn.execute("SELECT integration_id, stream, value FROM cursors").fetchall()
        held: dict[tuple[str, str], int] = {}
        for integration_id, stream, value in rows:
            text = self._at_rest.open(value)
            if text.startswith('{"deletes_held":'):
                count = len(json.loads(text)["deletes_held"])
                held[(integration_id, stream)] = held.get((integration_id, stream), 0) + count
        return held

    def forget(self, integration_id: str | None = None, streams: Collection[str] | None = None,
               partitions: Collection[str] | None = None) -> list[Forgotten]:
        """Forget the cursors and delivered keys of a selection (None: any), in one transaction:
        its next run reads it again from the start and sends everything it reads (``satellite
        resync``). The live keys stay: that complete re-read from no cursor also deletes the records
        the server no longer has, as a reconciliation does (forgetting them would lose those
        deletions for good). Safe beside a running agent: a run that read a cursor before does not
        bring it back (``_upsert_cursor``). Returns the counts per integration and stream."""
        where, args = ["1=1"], []
        for column, values in (("integration_id", None if integration_id is None else [integration_id]),
                               ("stream", streams), ("partition", partitions)):
            if values is not None:
                values = sorted(set(values))
                where.append(f"{column} IN ({','.join('?' * len(values))})" if values else "0=1")
                args.extend(values)
        condition = " AND ".join(where)
        counts: dict[tuple[str, str], dict[str, int]] = {}
        with self._transaction() as conn:
            for table in ("cursors", "delivered_keys"):
                rows = conn.execute(f"SELECT integration_id, stream, COUNT(*) FROM {table} WHERE {condition}"
                                    " GROUP BY integration_id, stream", args).fetchall()
                for integration, stream, count in rows:
                    counts.setdefault((integration, stream), {})[table] = count
                conn.execute(f"DELETE FROM {table} WHERE {condition}", args)
        return [Forgotten(i, s, c.get("cursors", 0), c.get("delivered_keys", 0))
                for (i, s), c in sorted(counts.items())]

    def partitions(self, integration_id: str | None = None) -> set[tuple[str, str, str]]:
        """(integration, stream, partition) of every cursor, delivered key or live key held."""
        with self._lock:
            rows = self._conn.execute(
                " UNION ".join(f"SELECT DISTINCT integration_id, stream, partition FROM {t} WHERE ?1 IS NULL OR integration_id = ?1"
                               for t in ("cursors", "delivered_keys", "live_keys")), (integration_id,)).fetchall()
        return {tuple(row) for row in rows}  # type: ignore[misc]

    def reset_cursors(self, integration_id: str) -> int:
        """Forget an integration's cursors (a full reconciliation re-reads everything); returns how many."""
        with self._transaction() as conn:
            return conn.execute("DELETE FROM cursors WHERE integration_id=?", (integration_id,)).rowcount

    def set_state(self, key: str, value: str | None) -> None:
        with self._transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM agent_state WHERE key=?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO agent_state VALUES (?, ?, ?)", (key, value, time.time()))

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM agent_state WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def get_states(self, prefix: str) -> dict[str, str]:
        """Every state whose key starts with ``prefix``."""
        with self._lock:
            rows = self._conn.execute("SELECT key, value FROM agent_state WHERE substr(key, 1, ?)=?", (len(prefix), prefix)).fetchall()
        return dict(rows)


_OUTBOX_COLUMNS = "batch_id, integration_id, stream, seq, record_count, created_at, size, body, plaintext_sha256"
_LEDGER_FIELDS = tuple(LedgerEntry.__dataclass_fields__)
_LEDGER_COLUMNS = ", ".join(_LEDGER_FIELDS)


def _cursor_summary(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"

"""Service hook events in the store (store version 6): the event ids received (de-duplication) and
the partitions they marked due, which the agent's event job collects (``satellite.events``).

An event and the partitions it marks are written in ONE transaction; a duplicate id marks nothing.
A due partition holds the sequence number of the latest event that marked it: the event job takes
the due rows, collects them, and then clears only the rows no later event marked meanwhile.
Received ids are kept ``KEEP_IDS_S`` after they were collected (a server retries for minutes,
not days). Only ids are stored (event ids, GUIDs of projects and repositories), never names.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the migrations import this module's schema, and the store imports the migrations
    from satellite.store.database import Store

__all__ = ["EVENTS_SCHEMA", "KEEP_IDS_S", "DuePartition", "EventJournal", "Recorded"]

EVENTS_SCHEMA = """
CREATE TABLE events_received (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    integration_id TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    received_at    REAL NOT NULL,
    collected      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (integration_id, event_id)
);
CREATE INDEX events_received_waiting ON events_received (integration_id, collected);
CREATE TABLE events_due (
    integration_id TEXT NOT NULL,
    collection_id  TEXT NOT NULL,
    stream         TEXT NOT NULL,
    parent_id      TEXT NOT NULL,
    project_id     TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    marked_at      REAL NOT NULL,
    PRIMARY KEY (integration_id, collection_id, stream, parent_id)
);
"""

KEEP_IDS_S = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class DuePartition:
    """One unit an event asks for: ``stream`` over ``parent_id`` (a repository or project id, "" for a
    collection-wide stream) in the collection ``collection_id``; ``project_id`` is the project the
    parent lives in ("" for collection-wide streams)."""

    collection_id: str
    stream: str
    parent_id: str
    project_id: str


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording one event did: ``new`` False for an id seen before; ``waiting``: the
    integration's events received and not yet collected, this one included."""

    new: bool
    waiting: int


class EventJournal:
    """The event tables of one ``Store`` (its connection and lock)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def waiting(self, integration_id: str) -> int:
        """Events received and not yet collected."""
        with self._store._lock:
            return self._store._conn.execute(
                "SELECT COUNT(*) FROM events_received WHERE integration_id=? AND collected=0", (integration_id,)).fetchone()[0]

    def record(self, integration_id: str, event_id: str, event_type: str, due: Iterable[DuePartition],
               now: float | None = None) -> Recorded:
        """Remember the event id and mark its partitions due, in one transaction (nothing for a duplicate)."""
        now = time.time() if now is None else now
        with self._store._transaction() as conn:
            cursor = conn.execute("INSERT OR IGNORE INTO events_received (integration_id, event_id, event_type, received_at)"
                                  " VALUES (?, ?, ?, ?)", (integration_id, event_id, event_type, now))
            new = bool(cursor.rowcount)
            if new:
                seq = cursor.lastrowid
                conn.executemany(
                    "INSERT INTO events_due VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT"
                    " (integration_id, collection_id, stream, parent_id) DO UPDATE SET seq=excluded.seq,"
                    " marked_at=excluded.marked_at",
                    [(integration_id, d.collection_id, d.stream, d.parent_id, d.project_id, seq, now) for d in set(due)])
            waiting = conn.execute("SELECT COUNT(*) FROM events_received WHERE integration_id=? AND collected=0",
                                   (integration_id,)).fetchone()[0]
        return Recorded(new, waiting)

    def due(self, integration_id: str) -> tuple[int, list[DuePartition]]:
        """The highest event seq so far and the partitions marked due (oldest mark first)."""
        with self._store._lock:
            top = self._store._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events_received WHERE integration_id=?",
                                            (integration_id,)).fetchone()[0]
            rows = self._store._conn.execute(
                "SELECT collection_id, stream, parent_id, project_id FROM events_due WHERE integration_id=? AND seq<=?"
                " ORDER BY marked_at", (integration_id, top)).fetchall()
        return top, [DuePartition(*row) for row in rows]

    def collected(self, integration_id: str, upto: int, keep: Iterable[DuePartition] = (), now: float | None = None) -> None:
        """The due rows read by ``due`` (seq up to ``upto``) were collected: clear them, unless a later
        event marked them again or they are in ``keep`` (not run: another job was running them); their
        events count as collected; old ids go."""
        now = time.time() if now is None else now
        kept = {(d.collection_id, d.stream, d.parent_id) for d in keep}
        with self._store._transaction() as conn:
            rows = conn.execute("SELECT collection_id, stream, parent_id FROM events_due WHERE integration_id=? AND seq<=?",
                                (integration_id, upto)).fetchall()
            conn.executemany("DELETE FROM events_due WHERE integration_id=? AND collection_id=? AND stream=? AND parent_id=?"
                             " AND seq<=?", [(integration_id, *row, upto) for row in rows if tuple(row) not in kept])
            conn.execute("UPDATE events_received SET collected=1 WHERE integration_id=? AND seq<=? AND collected=0",
                         (integration_id, upto))
            conn.execute("DELETE FROM events_received WHERE collected=1 AND received_at<?", (now - KEEP_IDS_S,))

    def last_received_at(self, integration_id: str) -> float | None:
        """When the integration's latest event arrived (None: none kept)."""
        with self._store._lock:
            return self._store._conn.execute("SELECT MAX(received_at) FROM events_received WHERE integration_id=?",
                                             (integration_id,)).fetchone()[0]

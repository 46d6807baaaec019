"""The reference receiver's issuing side of SEI commands (ingest protocol v1.1): a queue of signed
command envelopes per satellite id, handed out in heartbeat answers until an outcome for the
command comes back or it expires, and the outcomes the satellites report.

Its own SQLite file (``commands.db`` beside ``receiver.db``), opened per operation, so that
``satellite receiver command`` (another process) can queue while the receiver runs.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from satellite.remote.verify import peek

__all__ = ["COMMANDS_DB", "CommandQueue"]

COMMANDS_DB = "commands.db"
MAX_OUTCOMES_PER_HEARTBEAT = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS commands (
    command_id      TEXT NOT NULL,
    satellite_id    TEXT NOT NULL,
    name            TEXT,
    envelope        TEXT NOT NULL,
    expires_at      REAL NOT NULL,
    queued_at       REAL NOT NULL,
    handed_out      INTEGER NOT NULL DEFAULT 0,
    last_handed_out REAL,
    PRIMARY KEY (satellite_id, command_id)
);
CREATE TABLE IF NOT EXISTS outcomes (
    satellite_id TEXT NOT NULL,
    command_id   TEXT,
    name         TEXT,
    outcome      TEXT NOT NULL,
    reason       TEXT,
    detail       TEXT,
    verified     INTEGER,
    finished_at  REAL,
    reported_at  REAL NOT NULL,
    UNIQUE (satellite_id, command_id, outcome, reason, finished_at)
);
"""


class CommandQueue:
    """Commands per satellite id and the outcomes reported; thread- and process-safe (SQLite)."""

    def __init__(self, data_dir: Path, clock: Callable[[], float] = time.time) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / COMMANDS_DB
        self._clock = clock
        self._lock = threading.Lock()
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
        finally:
            conn.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                conn.close()

    def enqueue(self, satellite_id: str, envelope: object, *, expires_at: float | None = None) -> str:
        """Queue an envelope for a satellite (as given: tests queue forged ones too); its command id
        (as its payload claims, or a new one for the queue if it claims none)."""
        command_id, name = peek(envelope)
        command_id = command_id or f"unnamed-{uuid.uuid4()}"
        if expires_at is None:
            expires_at = self._claimed_expiry(envelope)
        with self._connection() as conn:
            conn.execute("INSERT OR REPLACE INTO commands (command_id, satellite_id, name, envelope, expires_at, queued_at)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         (command_id, satellite_id, name, json.dumps(envelope), expires_at, self._clock()))
        return command_id

    def _claimed_expiry(self, envelope: object) -> float:
        import base64

        from satellite.remote.commands import parse_time

        try:
            payload = json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[index]
            return parse_time(payload["expires_at"], "expires_at").timestamp()
        except Exception:  # noqa: BLE001 - a forged envelope: hand it out for an hour
            return self._clock() + 3600

    def hand_out(self, satellite_id: str) -> list[object]:
        """The envelopes for a heartbeat answer: queued, unexpired, and with no outcome reported yet."""
        now = self._clock()
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT command_id, envelope FROM commands c WHERE satellite_id=? AND expires_at > ? AND NOT EXISTS"
                " (SELECT 1 FROM outcomes o WHERE o.satellite_id = c.satellite_id AND o.command_id = c.command_id)"
                " ORDER BY queued_at", (satellite_id, now)).fetchall()
            conn.executemany("UPDATE commands SET handed_out = handed_out + 1, last_handed_out=? WHERE satellite_id=?"
                             " AND command_id=?", [(now, satellite_id, command_id) for command_id, _ in rows])
        return [json.loads(envelope) for _, envelope in rows]

    def record_outcomes(self, satellite_id: str, outcomes: object) -> int:
        """Keep the ``command_outcomes`` of a heartbeat (a repeat of one already kept is ignored)."""
        if not isinstance(outcomes, list):
            return 0
        rows = [(satellite_id, _text(o.get("id")), _text(o.get("name")), _text(o.get("outcome")) or "?",
                 _text(o.get("reason")), _text(o.get("detail")), int(bool(o.get("verified", True))),
                 o.get("finished_at") if isinstance(o.get("finished_at"), (int, float)) else None, self._clock())
                for o in outcomes[:MAX_OUTCOMES_PER_HEARTBEAT] if isinstance(o, dict)]
        with self._connection() as conn:
            return sum(conn.execute("INSERT OR IGNORE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row).rowcount
                       for row in rows)

    def stats(self) -> dict[str, Any]:
        """Every command queued with its reports (the first is its outcome), and reports of commands not queued."""
        with self._connection() as conn:
            commands = conn.execute("SELECT command_id, satellite_id, name, expires_at, queued_at, handed_out FROM commands"
                                    " ORDER BY queued_at").fetchall()
            reports = conn.execute("SELECT satellite_id, command_id, name, outcome, reason, detail, verified, finished_at,"
                                   " reported_at FROM outcomes ORDER BY rowid").fetchall()
        by_command: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        for sid, command_id, name, outcome, reason, detail, verified, finished_at, reported_at in reports:
            by_command.setdefault((sid, command_id), []).append(
                {"name": name, "outcome": outcome, "reason": reason, "detail": detail, "verified": bool(verified),
                 "finished_at": finished_at, "reported_at": reported_at})
        listed = []
        for command_id, sid, name, expires_at, queued_at, handed_out in commands:
            got = by_command.pop((sid, command_id), [])
            listed.append({"id": command_id, "satellite_id": sid, "name": name, "queued_at": queued_at,
                           "expires_at": expires_at, "handed_out": handed_out,
                           "outcome": got[0]["outcome"] if got else None, "reason": got[0]["reason"] if got else None,
                           "detail": got[0]["detail"] if got else None, "reports": got})
        others = [{"id": command_id, "satellite_id": sid, "reports": got} for (sid, command_id), got in by_command.items()]
        return {"commands": listed, "unqueued_reports": others}


def _text(value: object) -> str | None:
    return value[:2000] if isinstance(value, str) else None

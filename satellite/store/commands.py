"""SEI's commands in the store (store version 5): the ids taken, so each runs at most once, and the
outcomes waiting to be reported in a heartbeat (then kept a while for ``satellite status``).

A command id is claimed in its own transaction BEFORE the command runs: a crash while it runs
leaves it claimed (reported ``interrupted`` at the next start), never run twice. Ids are kept until
a day after the command expires (an expired command is refused anyway).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the migrations import this module's schema, and the store imports the migrations
    from satellite.store.database import Store

__all__ = ["COMMANDS_SCHEMA", "KEEP_REPORTED", "CommandJournal", "CommandRow"]

COMMANDS_SCHEMA = """
CREATE TABLE remote_commands (
    command_id TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    expires_at REAL NOT NULL,
    claimed_at REAL NOT NULL
);
CREATE TABLE command_outcomes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    command_id  TEXT,
    name        TEXT,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    verified    INTEGER NOT NULL DEFAULT 1,
    received_at REAL NOT NULL,
    finished_at REAL,
    reported_at REAL
);
"""

KEEP_REPORTED = 200  # reported outcomes kept for satellite status
ID_GRACE_S = 86400.0  # an id is remembered this long after its command expires (clocks apart)
RUNNING = "running"


@dataclass(frozen=True, slots=True)
class CommandRow:
    """One outcome row (``outcome`` "running" while the command runs)."""

    seq: int
    command_id: str | None
    name: str | None
    outcome: str
    reason: str | None
    detail: str
    verified: bool
    received_at: float
    finished_at: float | None
    reported_at: float | None


_COLUMNS = "seq, command_id, name, outcome, reason, detail, verified, received_at, finished_at, reported_at"


class CommandJournal:
    """The command tables of one ``Store`` (its connection and lock)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def claim(self, command_id: str, name: str, key_id: str, expires_at: float, received_at: float) -> int | None:
        """Take a command id and open its outcome row ("running"); None if the id was taken before."""
        now = time.time()
        with self._store._transaction() as conn:
            conn.execute("DELETE FROM remote_commands WHERE expires_at < ?", (now - ID_GRACE_S,))
            taken = conn.execute("INSERT OR IGNORE INTO remote_commands VALUES (?, ?, ?, ?, ?)",
                                 (command_id, name, key_id, expires_at, now)).rowcount
            if not taken:
                return None
            return conn.execute("INSERT INTO command_outcomes (command_id, name, outcome, received_at) VALUES (?, ?, ?, ?)",
                                (command_id, name, RUNNING, received_at)).lastrowid

    def finish(self, seq: int, outcome: str, reason: str | None, detail: str, finished_at: float) -> None:
        with self._store._transaction() as conn:
            conn.execute("UPDATE command_outcomes SET outcome=?, reason=?, detail=?, finished_at=? WHERE seq=?",
                         (outcome, reason, detail[:2000], finished_at, seq))

    def record(self, command_id: str | None, name: str | None, outcome: str, reason: str | None, detail: str,
               verified: bool, received_at: float, finished_at: float) -> None:
        """An outcome of a command not claimed (a refusal)."""
        with self._store._transaction() as conn:
            conn.execute("INSERT INTO command_outcomes (command_id, name, outcome, reason, detail, verified, received_at,"
                         " finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (command_id, name, outcome, reason, detail[:2000], int(verified), received_at, finished_at))

    def interrupt_running(self, detail: str) -> int:
        """Rows left running by a process that ended: ``interrupted`` (call while holding the data dir)."""
        with self._store._transaction() as conn:
            return conn.execute("UPDATE command_outcomes SET outcome='interrupted', reason=NULL, detail=?, finished_at=?"
                                " WHERE outcome=?", (detail, time.time(), RUNNING)).rowcount

    def unreported(self, limit: int = 100) -> list[CommandRow]:
        """Finished outcomes not yet in an accepted heartbeat, oldest first."""
        with self._store._lock:
            rows = self._store._conn.execute(
                f"SELECT {_COLUMNS} FROM command_outcomes WHERE reported_at IS NULL AND outcome != ? ORDER BY seq LIMIT ?",
                (RUNNING, limit)).fetchall()
        return [_row(r) for r in rows]

    def mark_reported(self, seqs: list[int], at: float) -> None:
        if not seqs:
            return
        with self._store._transaction() as conn:
            conn.execute(f"UPDATE command_outcomes SET reported_at=? WHERE seq IN ({','.join('?' * len(seqs))})", (at, *seqs))
            conn.execute("DELETE FROM command_outcomes WHERE reported_at IS NOT NULL AND seq <="
                         " (SELECT MAX(seq) FROM command_outcomes) - ?", (KEEP_REPORTED,))

    def recent(self, limit: int = 10) -> list[CommandRow]:
        """The latest outcomes, newest first (``satellite status``)."""
        with self._store._lock:
            rows = self._store._conn.execute(f"SELECT {_COLUMNS} FROM command_outcomes ORDER BY seq DESC LIMIT ?",
                                             (limit,)).fetchall()
        return [_row(r) for r in rows]

    def taken(self, command_id: str) -> bool:
        with self._store._lock:
            return self._store._conn.execute("SELECT 1 FROM remote_commands WHERE command_id=?",
                                             (command_id,)).fetchone() is not None


def _row(row: tuple) -> CommandRow:
    seq, command_id, name, outcome, reason, detail, verified, received_at, finished_at, reported_at = row
    return CommandRow(seq, command_id, name, outcome, reason, detail, bool(verified), received_at, finished_at, reported_at)

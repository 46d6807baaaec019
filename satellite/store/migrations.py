"""The store's schema versions: ``PRAGMA user_version`` and the forward migrations to reach the latest.

Version 0 is a database of a release before versions (or a new, empty file); migration 1 is
the schema those releases created (``CREATE ... IF NOT EXISTS``, so both reach version 1 the
same way). A release that changes a table appends a migration; each one runs in its own
transaction with the version it reaches, so a crash mid-way leaves the previous version whole.
A database of a newer release (a version this one does not know) is refused untouched.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from satellite.errors import StoreError
from satellite.store.at_rest import SEALED_PREFIX
from satellite.store.commands import COMMANDS_SCHEMA
from satellite.store.events import EVENTS_SCHEMA
from satellite.store.schema import LEDGER_SCHEMA, SCHEMA

__all__ = ["Migration", "MIGRATIONS", "LATEST", "LEGACY_DELIVERED", "migrate", "refuse_newer", "store_version"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int  # the version the database has after it
    description: str
    sql: str = ""  # statements separated by ";", run in one transaction
    step: Callable[[sqlite3.Connection, Any], None] | None = None  # then this, in the same transaction (context given)


LEGACY_DELIVERED = "store_legacy_delivered_keys"  # agent_state: delivered keys of before version 2 exist


def _seal_names(conn: sqlite3.Connection, at_rest: Any) -> None:
    """Cursors and live keys written in the clear by earlier releases, sealed with the store key."""
    if conn.execute("SELECT 1 FROM delivered_keys LIMIT 1").fetchone():
        conn.execute("INSERT OR REPLACE INTO agent_state VALUES (?, '1', strftime('%s', 'now'))", (LEGACY_DELIVERED,))
    for rowid, value in conn.execute("SELECT rowid, value FROM cursors").fetchall():
        if not value.startswith(SEALED_PREFIX):
            conn.execute("UPDATE cursors SET value=? WHERE rowid=?", (at_rest.seal(value), rowid))
    rows = conn.execute("SELECT integration_id, stream, partition, record_type, key FROM live_keys").fetchall()
    for integration_id, stream, partition, record_type, key in rows:
        if not key.startswith(SEALED_PREFIX):
            conn.execute("UPDATE live_keys SET key=? WHERE integration_id=? AND stream=? AND partition=? AND record_type=?"
                         " AND key=?", (at_rest.seal(key), integration_id, stream, partition, record_type, key))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the schema of the releases before versions", SCHEMA),
    # Delivered keys written before version 2 are unkeyed SHA-256 digests: they stay, and are still
    # looked up (``Store.delivered_among``); new ones are keyed hashes.
    Migration(2, "no names in the clear: cursors and live keys sealed with the store key", step=_seal_names),
    Migration(3, "items quarantined per stream and partition",
              "ALTER TABLE stream_status ADD COLUMN quarantined INTEGER NOT NULL DEFAULT 0;"),
    # A batch sealed before version 4 has no plaintext digest: its ledger row says none (NULL).
    Migration(4, "the delivery ledger, and the plaintext digest of each batch waiting for it", LEDGER_SCHEMA),
    Migration(5, "SEI's commands: the ids taken (each runs at most once) and their outcomes", COMMANDS_SCHEMA),
    Migration(6, "service hook events: the ids received (de-duplication) and the partitions they marked due",
              EVENTS_SCHEMA),
)
LATEST = MIGRATIONS[-1].version


def store_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def refuse_newer(conn: sqlite3.Connection, where: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """The database's version; StoreError if it is above every migration's (a newer release's store)."""
    current, latest = store_version(conn), migrations[-1].version
    if current > latest:
        raise StoreError(
            f"the store in {where} was written by a newer release of the satellite (store version {current}; this"
            f" release knows up to {latest}): run that release or a newer one, or point data_dir at a new directory;"
            " nothing was changed")
    return current


def migrate(conn: sqlite3.Connection, where: str, migrations: tuple[Migration, ...] = MIGRATIONS,
            context: Any = None) -> list[int]:
    """Apply, in order, the migrations above the database's version; returns the versions reached
    (``context``: what a migration's ``step`` needs, the store's ``AtRest``).

    Raises:
        StoreError: the database is of a newer release (left untouched), or a migration failed
            (rolled back: the database keeps the version before it).
    """
    current = refuse_newer(conn, where, migrations)
    applied = []
    for migration in migrations:
        if migration.version <= current:
            continue
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in _statements(migration.sql):
                conn.execute(statement)
            if migration.step is not None:
                migration.step(conn, context)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot migrate the store in {where} to version {migration.version}"
                             f" ({migration.description}): {exc}; it stays at version {store_version(conn)}") from None
        applied.append(migration.version)
    return applied


def _statements(sql: str) -> list[str]:
    """The statements of a script (complete ones, as SQLite splits them), comments dropped."""
    statements, pending = [], ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements

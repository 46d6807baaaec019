"""Local durable state: cursors and the outbox of sealed batches (one SQLite database)."""

from satellite.store.database import CursorKey, OutboxEntry, OutboxStats, Store

__all__ = ["Store", "CursorKey", "OutboxEntry", "OutboxStats"]

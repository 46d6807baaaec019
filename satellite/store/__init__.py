"""Local durable state: cursors and the outbox of sealed batches (one SQLite database)."""

from satellite.store.database import CursorKey, OutboxEntry, OutboxStats, Store
from satellite.store.ledger import Forgotten, LedgerEntry
from satellite.store.lock import DataDirLock
from satellite.store.schema import INTEGRATION_VERSION, OUTBOX_PAUSED_SINCE

__all__ = ["Store", "DataDirLock", "CursorKey", "OutboxEntry", "OutboxStats", "LedgerEntry", "Forgotten", "OUTBOX_PAUSED_SINCE", "INTEGRATION_VERSION"]

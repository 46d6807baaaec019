"""Backpressure: when the outbox reaches its byte limit, collection waits for uploads to drain.

Azure DevOps is pulled, so pausing loses nothing: the cursor simply stays where it is. The pause
is logged once when it starts and once when it ends, and recorded in the store for ``status``.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import structlog

from satellite.store import OUTBOX_PAUSED_SINCE, Store

__all__ = ["Backpressure"]

log = structlog.get_logger(__name__)


class Backpressure:
    """Shared by every writer of a run; ``admit(size)`` returns once ``size`` more bytes fit."""

    def __init__(self, store: Store, limit: int, should_stop: Callable[[], bool] = lambda: False) -> None:
        self._store = store
        self._limit = limit
        self._should_stop = should_stop
        self._waiting = 0
        self._since = 0.0
        self._lock = threading.Lock()

    def admit(self, size: int) -> None:
        used = self._store.outbox_stats().bytes
        if used == 0 or used + size <= self._limit:
            return
        with self._lock:
            self._waiting += 1
            if self._waiting == 1:
                self._since = time.monotonic()
                log.warning("outbox_full_collection_paused", outbox_bytes=used, limit_bytes=self._limit)
                self._store.set_state(OUTBOX_PAUSED_SINCE, str(time.time()))
        try:
            self._store.wait_for_room(size, self._limit, self._should_stop)
        finally:
            with self._lock:
                self._waiting -= 1
                if self._waiting == 0:
                    log.info("collection_resumed", paused_s=round(time.monotonic() - self._since, 3))
                    self._store.set_state(OUTBOX_PAUSED_SINCE, None)

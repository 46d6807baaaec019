"""SIGTERM and SIGINT: one stop event for the whole process (the edge where signals arrive).

The first signal sets the event: work stops at the next record boundary and commits. A second
one exits at once (status 130 or 143). ``caught`` tells which signal arrived, for the exit code.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

import structlog

__all__ = ["StopSignals", "stop_on_signals", "EXIT_INTERRUPTED"]

log = structlog.get_logger(__name__)

EXIT_INTERRUPTED = 130  # 128 + SIGINT: what shells report for Ctrl-C


class StopSignals:
    """Which signal (if any) set the stop event."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.caught: signal.Signals | None = None

    def handle(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            log.warning("second_signal_exiting_now")
            raise SystemExit(128 + signum)
        self.caught = signal.Signals(signum)
        log.info("shutdown_requested", signal=self.caught.name)
        self.stop.set()


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[StopSignals]:
    """SIGTERM and SIGINT set ``stop`` while the block runs (main thread only); the previous
    handlers come back after it. The block must wait with timeouts (``event.wait(0.2)``): Python
    runs handlers in the main thread, between bytecodes."""
    signals = StopSignals(stop)
    previous = {sig: signal.signal(sig, signals.handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield signals
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

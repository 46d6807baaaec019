"""Progress of long runs: a ``stream_progress`` log event per busy stream every ``interval`` seconds
(records so far and rate), and on a terminal a one-line progress display for ``sync --once``.

Azure DevOps list APIs give no totals, so no remaining-time estimate is shown for them.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

import structlog

from satellite.streams.base import Record

__all__ = ["Progress"]

log = structlog.get_logger(__name__)


class Progress:
    """Counts records per stream; ``record`` is the ``on_record`` hook of the collectors."""

    def __init__(self, interval: float = 10.0, terminal: TextIO | None = None) -> None:
        self._interval = interval
        self._terminal = terminal
        self._counts: dict[str, int] = {}
        self._logged: dict[str, tuple[float, int]] = {}
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    @classmethod
    def for_stdout(cls) -> "Progress":
        """With a progress line on stderr when it is a terminal."""
        return cls(terminal=sys.stderr if sys.stderr.isatty() else None)

    def __enter__(self) -> "Progress":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        if self._terminal is not None:
            self._terminal.write("\n")
            self._terminal.flush()

    def record(self, record: Record) -> None:
        with self._lock:
            self._counts[record.type] = self._counts.get(record.type, 0) + 1

    def _loop(self) -> None:
        tick = 0.5 if self._terminal is not None else self._interval
        while not self._done.wait(tick):
            now = time.monotonic()
            with self._lock:
                counts = dict(self._counts)
            if self._terminal is not None:
                total = sum(counts.values())
                busiest = ", ".join(f"{t} {n}" for t, n in sorted(counts.items(), key=lambda kv: -kv[1])[:3])
                rate = total / max(now - self._started, 1e-9)
                self._terminal.write(f"\r{total} records ({rate:,.0f}/s) {busiest}"[:160].ljust(100))
                self._terminal.flush()
            for record_type, count in counts.items():
                last_at, last_count = self._logged.get(record_type, (self._started, 0))
                if count > last_count and now - last_at >= self._interval:
                    log.info("stream_progress", record_type=record_type, records=count,
                             rate_per_s=round((count - last_count) / (now - last_at), 1))
                    self._logged[record_type] = (now, count)

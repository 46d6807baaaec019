"""Parent lists shared by the agent's jobs of one sweep: a collection's projects and a project's teams.

``satellite run`` runs one job per service group (core, repos, tfvc, pipelines, boards), each a
collector of its own. Each needs the projects, and the core and boards jobs each need every
project's teams: in a quiet sweep of a collection of 300 projects and 900 teams that was 624
requests more than one ``sync --once`` (docs/benchmarks.md). Here a list read by one job is kept
for ``max_age`` (half the sweep interval, at most ``MAX_AGE_S``) and given to the others; while one
job reads a list, another asking for the same one waits for it rather than asking the server too.

Each caller gets objects of its own (the list is kept as JSON bytes): the records of a delivered
list are trimmed in place. A list is never kept from a read that failed; a waiting caller then
reads it itself. A list up to ``max_age`` old is as if the sweep had started that much earlier: a
project it no longer names is only a departure after the server answers 404 for it
(sync/departed.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from satellite import json_codec
from satellite.metrics import LISTINGS_SHARED

__all__ = ["SHARED_STREAMS", "MAX_AGE_S", "ListingKey", "SharedListings", "max_age_for"]

SHARED_STREAMS = frozenset({"core.projects", "core.teams"})
MAX_AGE_S = 300.0


def max_age_for(sweep_every_s: float) -> float:
    """How long a list is shared: half the sweep interval (the next sweep reads anew), at most ``MAX_AGE_S``."""
    return min(sweep_every_s / 2, MAX_AGE_S)


@dataclass(frozen=True, slots=True)
class ListingKey:
    integration_id: str
    stream: str
    partition: str  # "<collection>/<parent id>" as a cursor's ("<collection>/" for the projects)


@dataclass(frozen=True, slots=True)
class _Kept:
    read_at: float
    body: bytes


class SharedListings:
    """The lists of ``SHARED_STREAMS`` read in the last ``max_age`` seconds; thread-safe."""

    def __init__(self, max_age: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._kept: dict[ListingKey, _Kept] = {}
        self._reading: dict[ListingKey, threading.Event] = {}
        self._pruned_at = clock()

    def list(self, key: ListingKey, read: Callable[[], list[dict]]) -> list[dict]:
        """The list kept under ``key`` if fresh, else ``read()``'s (kept for the others); a copy of its own
        for each caller. ``read`` raising: raised here, nothing kept."""
        while True:
            with self._lock:
                kept = self._kept.get(key)
                if kept is not None and self._clock() - kept.read_at < self._max_age:
                    LISTINGS_SHARED.labels(key.stream).inc()
                    return json_codec.loads(kept.body)
                reading = self._reading.get(key)
                if reading is None:
                    reading = self._reading[key] = threading.Event()
                    break
            reading.wait()  # another job is reading it: its list, or (it failed) a read of our own
        try:
            items = read()
            body = json_codec.dumps(items)
        except BaseException:
            with self._lock:
                del self._reading[key]
            reading.set()
            raise
        with self._lock:
            now = self._clock()
            if now - self._pruned_at >= self._max_age:  # what is stale goes, at most once per max_age
                self._kept = {k: v for k, v in self._kept.items() if now - v.read_at < self._max_age}
                self._pruned_at = now
            self._kept[key] = _Kept(now, body)
            del self._reading[key]
        reading.set()
        return items

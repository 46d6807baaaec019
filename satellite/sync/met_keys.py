"""The keys a complete read met, about 8 bytes each instead of a string each.

After a read from no cursor (a backfill, a reconciliation) the collector deletes the live keys it
no longer met (``Collector._deletes_after_complete_read``). A backfill of a big collection meets
hundreds of thousands of them in one unit (every work item of the collection, every build of a
project), most of them many times (a work item once per batch of its revisions): held as a set of
strings they were the largest thing the satellite kept that grew with the collection. Here each is
its 64-bit string hash (``hash``: SipHash, per process, which is all this needs) in sorted arrays
of machine integers, merged as they fill (each hash takes part in O(log n) merges; no Python object
per key is kept). Two keys with the same hash would make an unmet key look met: one delete left for
the next reconciliation, never a wrong one.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable
from heapq import merge

__all__ = ["MetKeys"]

_RUN = 4096  # hashes gathered in a list before they are sorted into an array
_GROWTH = 2  # a run is merged into the one before it once that one is at most this many times longer


def _merged(first: array, second: array) -> array:
    out, last = array("q"), None
    for value in merge(first, second):
        if value != last:
            out.append(value)
            last = value
    return out


class MetKeys:
    """A set of keys that only grows and answers ``in``."""

    __slots__ = ("_pending", "_runs")

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._pending: list[int] = []
        self._runs: list[array] = []  # sorted, distinct; each more than _GROWTH times as long as the next
        for key in keys:
            self.add(key)

    def add(self, key: str) -> None:
        self._pending.append(hash(key))
        if len(self._pending) >= _RUN:
            self._flush()

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        self._flush()
        wanted = hash(key)
        for run in self._runs:
            at = bisect_left(run, wanted)
            if at < len(run) and run[at] == wanted:
                return True
        return False

    def __len__(self) -> int:
        """Distinct keys (merges every run into one)."""
        self._flush()
        while len(self._runs) > 1:
            last = self._runs.pop()
            self._runs[-1] = _merged(self._runs[-1], last)
        return len(self._runs[0]) if self._runs else 0

    def _flush(self) -> None:
        if not self._pending:
            return
        run = array("q", sorted(set(self._pending)))
        self._pending.clear()
        while self._runs and len(self._runs[-1]) <= _GROWTH * len(run):
            run = _merged(self._runs.pop(), run)
        self._runs.append(run)

"""A number per work item, in a dense array indexed by id: a few bytes an item instead of a dict entry.

Work item ids count up from 1 across a collection, so a walk of its revisions meets ids that fill a
range: an array indexed by id is the compact map (2 to 4 bytes an item against about 100 for a dict
entry with its int objects), which matters for the walks of a backfill of a big collection that
note something for each of hundreds of thousands of work items. Ids past ``DENSE_LIMIT`` (none on a
real server; a garbled answer) go to a dict, so no id can make the array huge.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

__all__ = ["DENSE_LIMIT", "WorkItemTable"]

DENSE_LIMIT = 1 << 24  # ids below it are array slots


class WorkItemTable:
    """``id -> int`` for work item ids; ``none`` (a value of the typecode's range) marks an id not set."""

    __slots__ = ("_none", "_sparse", "_values")

    def __init__(self, typecode: str, none: int = 0) -> None:
        self._values = array(typecode)
        self._none = none
        self._sparse: dict[int, int] = {}

    def get(self, work_item_id: int, default: int | None = None) -> int | None:
        if 0 <= work_item_id < len(self._values):
            value = self._values[work_item_id]
            return default if value == self._none else value
        return self._sparse.get(work_item_id, default) if self._sparse else default

    def __setitem__(self, work_item_id: int, value: int) -> None:
        if 0 <= work_item_id < DENSE_LIMIT:
            if work_item_id >= len(self._values):
                grow = max(work_item_id + 1 - len(self._values), len(self._values) // 2, 1024)
                self._values.extend(array(self._values.typecode, [self._none]) * grow)
            self._values[work_item_id] = value
        else:
            self._sparse[work_item_id] = value

    def discard(self, work_item_id: int) -> None:
        if 0 <= work_item_id < len(self._values):
            self._values[work_item_id] = self._none
        else:
            self._sparse.pop(work_item_id, None)

    def items(self) -> Iterator[tuple[int, int]]:
        """(id, value) of every id set, by id."""
        none = self._none
        for work_item_id, value in enumerate(self._values):
            if value != none:
                yield work_item_id, value
        yield from sorted(self._sparse.items())

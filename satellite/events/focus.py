"""The due partitions one event-driven run collects (``Collector(focus=...)``), by collection."""

from __future__ import annotations

from dataclasses import dataclass

from satellite.store.events import DuePartition

__all__ = ["Focus"]


@dataclass(frozen=True, slots=True)
class Focus:
    """What an event-driven run reads: only these units, each from its normal cursor."""

    due: tuple[DuePartition, ...]

    @property
    def streams(self) -> frozenset[str]:
        return frozenset(d.stream for d in self.due)

    def in_collection(self, collection_id: str) -> tuple[DuePartition, ...]:
        """The due partitions of a collection (an event naming no collection: any of them)."""
        wanted = collection_id.lower()
        return tuple(d for d in self.due if d.collection_id in ("", wanted))

    def streams_of(self, due: tuple[DuePartition, ...], parent_id: str) -> frozenset[str]:
        """The streams due over one parent ("" for collection-wide, a project or a repository id)."""
        return frozenset(d.stream for d in due if d.parent_id == parent_id.lower())

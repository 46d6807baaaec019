"""Projects deleted on the server: what was delivered under them becomes deletes.

A deleted project's units never run again, so no listing of theirs can say what went. A project
held by the projects snapshot before this run, not listed now, and answering 404 when asked alone
by id (never inferred from a listing: one renamed out of the scope, or a server answering a
partial list, is not gone) is departed. For each project-scope stream, a unit under that project
delivers, as deletes:

- a snapshot stream: every key of its last snapshot (its cursor), which then holds none; the
  repositories stream leaves out a repository that answers alone in another project (moved);
- an incremental stream: the live keys the store kept for it (``reconciled`` and ``held`` types),
  those of ``reconciled`` types first confirmed gone by the stream's ``gone`` (a PR of a
  repository moved out before is not).

What is nested in those records (a repository's refs, pushes, commits and PRs, a team's members and
iterations, a build's timeline, an environment's deployment records) goes with them at the
receiver (``NESTED_TYPES``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from satellite.ado.client import AdoClient, segment
from satellite.streams import IncrementalStream, SnapshotStream, StreamContext
from satellite.streams.base import StreamItem, delete
from satellite.streams.cursors import SnapshotHashes
from satellite.streams.git import moved_repositories

__all__ = ["DepartedProject", "departed_projects"]


def departed_projects(client: AdoClient, held: set[str], listed: set[str]) -> list[str]:
    """Of the project ids ``held`` before and not ``listed`` now, those that answer 404 alone."""
    candidates = sorted(held - listed)
    if not candidates:
        return []
    answers = client.get_many((f"_apis/projects/{segment(p)}" for p in candidates), missing_ok=True)
    return [project_id for project_id, found in zip(candidates, answers) if found is None]


@dataclass
class DepartedProject(IncrementalStream):
    """A project-scope stream's unit under a departed project: its deletes (run as any unit)."""

    stream: SnapshotStream | IncrementalStream
    live_keys: Callable[[str], set[str]]  # record type -> the live keys the store kept for this unit

    def __post_init__(self) -> None:
        stream = self.stream
        self.name, self.record_type, self.service, self.scope = stream.name, stream.record_type, stream.service, stream.scope
        self.reconciled, self.held, self.immutable = stream.reconciled, stream.held, False

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        stream = self.stream
        if isinstance(stream, SnapshotStream):
            held = sorted(SnapshotHashes.from_text(ctx.cursor).hashes)
            moved = moved_repositories(ctx, parent["id"], held) if held and stream.name == "git.repositories" else set()
            yield from (delete(stream.record_type, key) for key in held if key not in moved)
            yield SnapshotHashes({}).checkpoint()
            return
        for record_type in stream.reconciled:
            keys = sorted(self.live_keys(record_type))
            yield from (delete(record_type, key) for key in (stream.gone(ctx, parent, record_type, keys) if keys else []))
        for record_type in stream.held:
            yield from (delete(record_type, key) for key in sorted(self.live_keys(record_type)))

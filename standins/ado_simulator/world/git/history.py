"""The git history of one repository: commits in creation order, pushes, branches and tags.

Commits are appended in creation order, and a commit's parents always exist before it, so
the position in ``commits`` is a topological order and, because committer times strictly
increase with it, also committer-date order. ``git log X ^Y`` is therefore a sweep down
the positions, no sorting needed. Not thread-safe: the World's lock guards every call.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace

from standins.ado_simulator.world.model import ZERO_ID, Commit, Push, Ref

__all__ = ["RepoHistory", "Tag"]


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag (``refs/tags/...``); an annotated tag has its own object id, a lightweight one is the commit's."""

    name: str
    object_id: str
    commit_id: str
    tagger: int
    time: int
    date: str
    message: str  # "" for a lightweight tag

    @property
    def annotated(self) -> bool:
        return self.object_id != self.commit_id


class RepoHistory:
    """Mutable history of one repository (guarded by the World's lock)."""

    __slots__ = ("repository_id", "commits", "positions", "parent_positions", "pushes", "refs", "ref_names",
                 "tags", "tag_names", "merged_heads", "pull_requests", "_ancestry_cache")

    def __init__(self, repository_id: str) -> None:
        self.repository_id = repository_id
        self.commits: list[Commit] = []
        self.positions: dict[str, int] = {}
        self.parent_positions: list[tuple[int, ...]] = []
        self.pushes: list[Push] = []  # pushId n is pushes[n - 1]
        self.refs: dict[str, Ref] = {}
        self.ref_names: tuple[str, ...] = ()  # branches, sorted ordinally, as the server lists them
        self.tags: dict[str, Tag] = {}  # created through the server (no push), never moved
        self.tag_names: tuple[str, ...] = ()
        self.merged_heads: dict[str, str] = {}  # branch -> its head when last merged into the default branch
        self.pull_requests = 0
        self._ancestry_cache: dict[tuple[str, str | None], tuple[int, ...]] = {}

    # -- writing -------------------------------------------------------------------------

    def add_commit(self, commit: Commit) -> None:
        self.positions[commit.commit_id] = len(self.commits)
        self.parent_positions.append(tuple(self.positions[p] for p in commit.parents))
        self.commits.append(commit)

    def add_push(self, push: Push) -> None:
        if push.push_id != len(self.pushes) + 1:
            raise ValueError(f"push {push.push_id} out of order")
        self.pushes.append(push)
        created = False
        for update in push.ref_updates:
            if update.new_object_id == ZERO_ID:
                self.refs.pop(update.name, None)
                created = True
            elif update.old_object_id == ZERO_ID or update.name not in self.refs:
                self.refs[update.name] = Ref(update.name, update.new_object_id, push.pusher)
                created = True
            else:
                self.refs[update.name] = Ref(update.name, update.new_object_id, self.refs[update.name].creator)
        if created:
            self.ref_names = tuple(sorted(self.refs))

    def add_tag(self, tag: Tag) -> None:
        self.tags[tag.name] = tag
        self.tag_names = tuple(sorted(self.tags))

    def reword(self, commit_id: str, message: str) -> None:
        """Replace a commit's message (merge commits get their collection-wide pull request number)."""
        pos = self.positions[commit_id]
        self.commits[pos] = replace(self.commits[pos], message=message)

    # -- reading -------------------------------------------------------------------------

    @property
    def all_ref_names(self) -> tuple[str, ...]:
        """Branches then tags: sorted ordinally, since ``refs/heads/`` < ``refs/tags/``."""
        return self.ref_names + self.tag_names

    def resolve(self, ref_name: str) -> str | None:
        """The commit a branch or tag points at."""
        tag = self.tags.get(ref_name)
        return tag.commit_id if tag else self.head(ref_name)

    def head(self, ref_name: str) -> str | None:
        ref = self.refs.get(ref_name)
        return ref.object_id if ref else None

    def commit(self, commit_id: str) -> Commit | None:
        pos = self.positions.get(commit_id)
        return None if pos is None else self.commits[pos]

    def log(self, head: str, exclude: str | None = None) -> tuple[int, ...]:
        """Positions reachable from ``head`` and not from ``exclude``, newest first (``git log exclude..head``).

        Cached by (head, exclude): commits never change, so an entry stays right forever.
        """
        key = (head, exclude)
        hit = self._ancestry_cache.get(key)
        if hit is not None:
            return hit
        start = self.positions[head]
        marks = self._reachable(start, start + 1)
        blocked = self._reachable(self.positions[exclude], start + 1) if exclude else None
        if blocked is not None:
            result = tuple(p for p in range(start, -1, -1) if marks[p] and not blocked[p])
        else:
            result = tuple(p for p in range(start, -1, -1) if marks[p])
        if len(self._ancestry_cache) >= 256:
            self._ancestry_cache.clear()
        self._ancestry_cache[key] = result
        return result

    def between(self, head: str, exclude: str | None) -> list[int]:
        """``git log exclude..head`` as positions, newest first, walking only the commits between them
        (a paint walk down the positions: cheap when ``head`` is a few commits past ``exclude``)."""
        start = self.positions[head]
        flags: dict[int, int] = {start: 1}
        heap = [-start]
        if exclude is not None:
            other = self.positions[exclude]
            flags[other] = flags.get(other, 0) | 2
            if other != start:
                heap.append(-other)
            heapq.heapify(heap)
        parents = self.parent_positions
        result: list[int] = []
        wanted = 0 if flags[start] & 2 else 1  # queued positions not reachable from ``exclude``
        while heap and wanted:
            pos = -heapq.heappop(heap)
            mark = flags[pos]
            if mark == 1:
                wanted -= 1
                result.append(pos)
            for parent in parents[pos]:
                before = flags.get(parent)
                after = (before or 0) | mark
                if before is None:
                    heapq.heappush(heap, -parent)
                    wanted += after == 1
                elif before != after:
                    wanted -= before == 1
                flags[parent] = after
        return result

    def merge_base(self, first: str, second: str) -> str | None:
        """The newest common ancestor of two commits (positions are topological, so no descendant is also common)."""
        theirs = self._reachable(self.positions[second], len(self.commits))
        return next((self.commits[p].commit_id for p in self.log(first) if theirs[p]), None)

    def updates_of(self, ref_name: str) -> list[tuple[Push, str]]:
        """Every push that moved ``ref_name``, oldest first, with the object id it set (ZERO_ID: deleted)."""
        return [(push, u.new_object_id) for push in self.pushes for u in push.ref_updates if u.name == ref_name]

    def _reachable(self, start: int, size: int) -> bytearray:
        """Marks (over positions ``0..size-1``) of the commits reachable from position ``start``."""
        marks = bytearray(max(size, start + 1))
        marks[start] = 1
        parents = self.parent_positions
        for pos in range(start, -1, -1):
            if marks[pos]:
                for parent in parents[pos]:
                    marks[parent] = 1
        return marks

    def reachable_ids(self) -> set[str]:
        """Ids of every commit reachable from some current ref."""
        if not self.commits:
            return set()
        marks = bytearray(len(self.commits))
        for ref in self.refs.values():
            pos = self.positions.get(ref.object_id)
            if pos is not None:
                marks[pos] = 1
        parents = self.parent_positions
        for pos in range(len(marks) - 1, -1, -1):
            if marks[pos]:
                for parent in parents[pos]:
                    marks[parent] = 1
        return {self.commits[p].commit_id for p in range(len(marks)) if marks[p]}

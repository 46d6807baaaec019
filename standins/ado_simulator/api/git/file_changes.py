"""File-level changes of a commit, derived deterministically from the commit (the world models only counts).

The world records per commit how many files it adds, edits and deletes (``Commit.adds/edits/deletes``,
what ``changeCounts`` reports), not which. Routes that list files derive them here, the same way
every time, from the commit id alone:

- an added file is new to that commit: ``/src/<dir>/<word>_<first 8 of the commit id>_<n>.<ext>``;
- an edited file comes from a fixed pool of long-lived files of the repository
  (``/src/<dir>/module<NN>.py``, 48 of them), distinct within one commit;
- a deleted file is one that predates the modelled history: ``/legacy/<first 8 of the commit id>_<n>.txt``.

So the changes of a commit number exactly its ``changeCounts``, and a diff across several commits
folds them per path: only edits meet on the same path (an edit then another edit stays one edit).
Object ids are SHA-1 hashes of (commit, path): stable, and different per version of a file.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass

from standins.ado_simulator.world.model import Commit

__all__ = ["EDIT_POOL", "FileChange", "change_counts", "commit_file_changes", "fold_changes", "invert", "pool_paths"]

EDIT_POOL = 48
_DIRS = ("api", "core", "model", "util", "web", "jobs")
_WORDS = ("handler", "service", "schema", "client", "helper", "view", "task", "report")
_EXTS = ("py", "ts", "cs", "md", "json")
_COUNT_NAMES = {"add": "Add", "edit": "Edit", "delete": "Delete"}


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file's change: ``object_id`` is the blob after the change (before it, for a delete)."""

    path: str
    change_type: str  # "add" | "edit" | "delete"
    object_id: str
    original_object_id: str | None  # the blob before an edit


def _blob(commit_id: str, path: str) -> str:
    return hashlib.sha1(f"{commit_id}:{path}".encode()).hexdigest()


def _pool_path(n: int) -> str:
    return f"/src/{_DIRS[n % len(_DIRS)]}/module{n:02d}.py"


def pool_paths() -> tuple[str, ...]:
    """The long-lived files edits pick from (every repository has them from the start)."""
    return tuple(_pool_path(n) for n in range(EDIT_POOL))


def commit_file_changes(commit: Commit) -> tuple[FileChange, ...]:
    """The commit's changed files, sorted by path: ``adds`` adds, ``edits`` edits, ``deletes`` deletes."""
    cid = commit.commit_id
    rng = random.Random(cid)
    short = cid[:8]
    parent = commit.parents[0] if commit.parents else ""
    out: list[FileChange] = []
    for n in range(commit.adds):
        path = f"/src/{rng.choice(_DIRS)}/{rng.choice(_WORDS)}_{short}_{n}.{rng.choice(_EXTS)}"
        out.append(FileChange(path, "add", _blob(cid, path), None))
    for n in rng.sample(range(EDIT_POOL), min(commit.edits, EDIT_POOL)):
        path = _pool_path(n)
        out.append(FileChange(path, "edit", _blob(cid, path), _blob(parent, path)))
    for n in range(commit.deletes):
        path = f"/legacy/{short}_{n}.txt"
        out.append(FileChange(path, "delete", _blob(parent, path), None))
    return tuple(sorted(out, key=lambda c: c.path))


def fold_changes(commits: Iterable[Commit]) -> list[FileChange]:
    """The net change of applying ``commits`` (oldest first) in turn, sorted by path."""
    net: dict[str, FileChange] = {}
    for commit in commits:
        for change in commit_file_changes(commit):
            before = net.get(change.path)
            if before is None:
                net[change.path] = change
            elif change.change_type == "delete":
                if before.change_type == "add":
                    del net[change.path]
                else:
                    net[change.path] = FileChange(change.path, "delete", before.original_object_id or change.object_id, None)
            else:  # an edit after an add stays an add, after an edit stays one edit
                net[change.path] = FileChange(change.path, before.change_type, change.object_id,
                                              before.original_object_id)
    return [net[p] for p in sorted(net)]


def invert(changes: Iterable[FileChange]) -> list[FileChange]:
    """The changes that undo ``changes`` (adds become deletes, deletes adds, edits swap their blobs)."""
    swap = {"add": "delete", "delete": "add", "edit": "edit"}
    out = []
    for c in changes:
        if c.change_type == "edit":
            out.append(FileChange(c.path, "edit", c.original_object_id or c.object_id, c.object_id))
        else:
            out.append(FileChange(c.path, swap[c.change_type], c.object_id, None))
    return out


def change_counts(changes: Iterable[FileChange]) -> dict[str, int]:
    """``{"Add": n, "Edit": n, "Delete": n}`` as ``changeCounts`` spells them."""
    counts = {"Add": 0, "Edit": 0, "Delete": 0}
    for c in changes:
        counts[_COUNT_NAMES[c.change_type]] += 1
    return counts

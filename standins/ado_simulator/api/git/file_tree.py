"""The file tree of a repository at a commit, replayed from the derived file changes (``file_changes``).

The tree at commit ``C`` is what the changes of ``C``'s ancestors (``git log C``, oldest first) leave
of the files that predate the modelled history:

- the edit pool (``/src/<dir>/moduleNN.py``), present from the start, each at a base blob until an
  ancestor edits it;
- the ``/legacy/...`` files, each there until the ancestor that deletes it (its blob is the one that
  delete reports); a legacy file whose deleting commit is not an ancestor of ``C`` is still in ``C``'s
  tree, so the tree of an old commit knows the legacy files of every commit the repository has now;
- every file an ancestor added (adds never meet a later delete: deletes only touch legacy files).

A file's blob is the one its newest change wrote, and its latest change that commit; files no
ancestor touched are dated to ``C``'s root commit. A folder's object id hashes its entries (the root's
is the commit's ``treeId``), and its latest change is the newest of its descendants' and of the
deletes below it. Folders exist only
where files are (git has no empty folders). The changes of a commit list an edit's
``originalObjectId`` as a hash at the parent commit, not the blob this tree shows there: a known
simplification of ``file_changes``.

Trees are cached per (repository history, commit, number of commits): cheap to recompute, and
right forever for one commit while the history does not grow. Callers hold the world's lock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from standins.ado_simulator.api.git.file_changes import commit_file_changes, pool_paths
from standins.ado_simulator.world.git.history import RepoHistory

__all__ = ["ROOT", "FileTree", "TreeItem", "file_tree"]

ROOT = "/"
_CACHE_SIZE = 64


@dataclass(frozen=True, slots=True)
class TreeItem:
    """One file or folder of a tree; ``changed_by`` is the position of the newest commit that changed it."""

    path: str
    object_id: str
    is_folder: bool
    changed_by: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class FileTree:
    """The tree of one commit: items by path, and every path in depth-first order (names compared ordinally)."""

    commit_id: str
    items: dict[str, TreeItem]
    order: tuple[str, ...]  # "/" first; a folder's descendants follow it contiguously
    index: dict[str, int]
    children: dict[str, tuple[str, ...]]

    def get(self, path: str) -> TreeItem | None:
        return self.items.get(path)

    def listing(self, path: str, depth: str) -> list[TreeItem]:
        """The item at ``path`` and, for a folder, its children (``one``) or all its descendants (``full``)."""
        item = self.items[path]
        if not item.is_folder or depth == "none":
            return [item]
        if depth == "one":
            return [item, *(self.items[p] for p in self.children[path])]
        start = self.index[path]
        prefix = "/" if path == ROOT else path + "/"
        out = [item]
        for p in self.order[start + 1 :]:
            if not p.startswith(prefix):
                break
            out.append(self.items[p])
        return out


def _hash(*parts: str) -> str:
    return hashlib.sha1(":".join(parts).encode()).hexdigest()


def _parent(path: str) -> str:
    head = path.rsplit("/", 1)[0]
    return head or ROOT


def _sort_key(path: str) -> tuple[str, ...]:
    return () if path == ROOT else tuple(path[1:].split("/"))


def _legacy(history: RepoHistory) -> list[tuple[int, str, str]]:
    """(deleting position, path, blob) of every legacy file a commit of the history deletes."""
    out = []
    for position, commit in enumerate(history.commits):
        if commit.deletes:
            out += [(position, c.path, c.object_id) for c in commit_file_changes(commit) if c.change_type == "delete"]
    return out


_trees: dict[tuple[str, str, int], tuple[RepoHistory, FileTree]] = {}
_legacies: dict[tuple[str, int], tuple[RepoHistory, list[tuple[int, str, str]]]] = {}


def _legacy_cached(history: RepoHistory) -> list[tuple[int, str, str]]:
    key = (history.repository_id, len(history.commits))
    hit = _legacies.get(key)
    if hit is not None and hit[0] is history:
        return hit[1]
    found = _legacy(history)
    if len(_legacies) >= _CACHE_SIZE:
        _legacies.clear()
    _legacies[key] = (history, found)
    return found


def file_tree(history: RepoHistory, commit_id: str) -> FileTree:
    """The tree at ``commit_id`` (a commit of ``history``); cached."""
    key = (history.repository_id, commit_id, len(history.commits))
    hit = _trees.get(key)
    if hit is not None and hit[0] is history:
        return hit[1]
    tree = _build(history, commit_id)
    if len(_trees) >= _CACHE_SIZE:
        _trees.clear()
    _trees[key] = (history, tree)
    return tree


def _build(history: RepoHistory, commit_id: str) -> FileTree:
    ancestors = history.log(commit_id)  # newest first
    mine = set(ancestors)
    root = ancestors[-1]
    files: dict[str, tuple[str, int]] = {path: (_hash("base", path), root) for path in pool_paths()}
    for position, path, blob in _legacy_cached(history):
        if position not in mine:
            files[path] = (blob, root)
    emptied: dict[str, int] = {}  # folder -> the newest ancestor that deleted a file below it
    for position in reversed(ancestors):
        for change in commit_file_changes(history.commits[position]):
            if change.change_type == "delete":
                files.pop(change.path, None)
                folder = change.path
                while folder != ROOT:
                    folder = _parent(folder)
                    emptied[folder] = position
            else:
                files[change.path] = (change.object_id, position)
    items: dict[str, TreeItem] = {p: TreeItem(p, blob, False, at) for p, (blob, at) in files.items()}
    members: dict[str, list[str]] = {ROOT: []}
    for path in files:
        child = path
        while child != ROOT:
            folder = _parent(child)
            known = folder in members
            members.setdefault(folder, []).append(child)
            if known:
                break
            child = folder
    for folder in sorted(members, key=lambda p: -len(_sort_key(p))):  # deepest first: children are done
        names = sorted(members[folder], key=lambda p: p.rsplit("/", 1)[-1])
        members[folder] = names
        entries = [items[n] for n in names]
        object_id = (history.commits[ancestors[0]].tree_id if folder == ROOT
                     else _hash("tree", *(f"{e.name}={e.object_id}" for e in entries)))
        items[folder] = TreeItem(folder, object_id, True, max([emptied.get(folder, root), *(e.changed_by for e in entries)]))
    order = tuple(sorted(items, key=_sort_key))
    return FileTree(commit_id, items, order, {p: i for i, p in enumerate(order)},
                    {folder: tuple(names) for folder, names in members.items()})

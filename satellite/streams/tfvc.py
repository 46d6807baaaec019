"""TFVC streams: changesets with their changes, branches, labels.

Changeset ids increase across the collection, so the cursor is the last delivered id. Each run
first asks the newest changeset (``$top=1`` in the default order: "Results are sorted by ID in
descending order by default"), then walks the ids after the cursor up to it in ascending windows
``searchCriteria.fromId``..``searchCriteria.toId`` with a ``$top`` as wide as the window
(``IdWindows``). Whether the server applies ``$top`` before or after ``$orderby=id asc`` is not
documented (no example combines them); if before, ``fromId`` + ``$top`` alone gives the newest
``$top`` changesets and skips the range between. A window of N ids holds at most N changesets,
so ``$top`` = N cuts nothing in either order; a window answered short is checked against the page
cap learned (paging.py). Nothing already read shifts a window (keyset paging). Where nothing was
checked in, a run costs the one request for the newest id. Changesets never change: their
changes are read once, page by page; the first pages of changes of the changesets are read
concurrently, ahead across the pages of changesets.
"""

from __future__ import annotations

from collections import deque
from typing import Iterator

from satellite.ado.client import segment
from satellite.ado.paging import SERVER_CAPS, IdWindows, PageCap, TopSkip, items
from satellite.streams.base import (
    IncrementalStream,
    KeyFormat,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    nested,
    upsert,
)
from satellite.streams.cursors import IdHighWater

__all__ = ["ChangesetsStream", "TfvcBranchesStream", "TfvcLabelsStream"]


class ChangesetsStream(IncrementalStream):
    name = "tfvc.changesets"
    record_type = "tfvc.changeset"
    also_emits = ("tfvc.change",)
    nested_types = also_emits
    key_format = KeyFormat("{collectionId}:{changesetId}")
    cursor = IdHighWater
    service = "tfvc"
    scope = Scope.COLLECTION
    immutable = True  # a batch may end inside a changeset's changes: after a crash there, what it stored is not sent again

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: IdHighWater) -> Iterator[StreamItem]:
        newest = ctx.client.get_list("_apis/tfvc/changesets", {"$top": 1})  # the default order: newest first
        if not newest or newest[0]["changesetId"] <= cursor.last_id:
            return
        walk = IdWindows("changesetId", ctx.page_sizes.changesets, after=cursor.last_id, upto=newest[0]["changesetId"])
        # one cap for every changeset's changes: a short page ends a list once a longer one was seen
        changes = TopSkip(ctx.page_sizes.default, cap=PageCap(SERVER_CAPS["tfvc.changes"].cap))
        listed: deque[dict] = deque()  # changesets whose first page of changes is asked, in order

        def changes_paths() -> Iterator[str]:
            for page in ctx.client.pages("_apis/tfvc/changesets", walk, {"$orderby": "id asc", "maxCommentLength": 4000}):
                for changeset in page.items:
                    listed.append(changeset)
                    yield _changes_path(changeset)

        # the first page of changes of every changeset, read concurrently (in order) and ahead across the
        # pages of changesets: a page holds as few as 20 (a server's cap), and waiting for each page's
        # last changes before asking the next page made this stream a chain at the end of a backfill
        for first in ctx.client.get_many(changes_paths(), {changes.top_param: changes.page_size, changes.skip_param: 0}):
            changeset = listed.popleft()
            key = self.key(ctx, changeset, parent)  # its id pages the walk: present
            yield upsert(self.record_type, key, changeset)
            pages = ctx.client.pages(_changes_path(changeset), changes, first=first)
            yield from nested("tfvc.change", key, items(pages), "item.path")
            yield IdHighWater(changeset["changesetId"]).checkpoint()


def _changes_path(changeset: dict) -> str:
    return f"_apis/tfvc/changesets/{changeset['changesetId']}/changes"


class TfvcBranchesStream(SnapshotStream):
    """Branches of a project's TFVC tree (deleted ones included, children flattened)."""

    name = "tfvc.branches"
    record_type = "tfvc.branch"
    key_format = KeyFormat("{collectionId}:{path}")
    service = "tfvc"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        params = {"includeChildren": "true", "includeDeleted": "true", "includeParent": "true"}
        branches: list[dict] = []
        stack = list(ctx.client.get_list(f"{segment(parent['id'])}/_apis/tfvc/branches", params))
        while stack:
            branch = stack.pop()
            children = branch.get("children") or []
            stack.extend(children)
            branches.append({**branch, "children": [{"path": c.get("path")} for c in children]})  # one without: quarantined
        return branches


class TfvcLabelsStream(SnapshotStream):
    """Labels of a project's TFVC tree."""

    name = "tfvc.labels"
    record_type = "tfvc.label"
    key_format = KeyFormat("{collectionId}:{labelId}", {"labelId": "id"})
    service = "tfvc"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        pages = ctx.client.pages(f"{segment(parent['id'])}/_apis/tfvc/labels", TopSkip(ctx.page_sizes.default, cap=SERVER_CAPS["tfvc.labels"].cap),
                                 {"requestData.labelScope": f"$/{parent['name']}"})
        return list(items(pages))

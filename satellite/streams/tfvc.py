"""TFVC streams: changesets with their changes, branches, labels.

Changeset ids increase across the collection, so the cursor is the last delivered id and each
page asks ``searchCriteria.fromId = last + 1`` in ascending order (keyset paging: a changeset
checked in during the walk cannot shift a page). Changesets never change: their changes are
read once, page by page, the first pages of a page of changesets concurrently.
"""

from __future__ import annotations

import json
from typing import Iterator

from satellite.ado.client import segment
from satellite.ado.paging import iter_top_skip_pages
from satellite.errors import AdoResponseError
from satellite.streams.base import IncrementalStream, Scope, SnapshotStream, StreamContext, StreamItem, cursor_json, upsert

__all__ = ["ChangesetsStream", "TfvcBranchesStream", "TfvcLabelsStream"]


class ChangesetsStream(IncrementalStream):
    name = "tfvc.changesets"
    record_type = "tfvc.changeset"
    also_emits = ("tfvc.change",)
    key_format = "{collectionId}:{changesetId}"
    cursor = "last changeset id"
    service = "tfvc"
    scope = Scope.COLLECTION
    immutable = True

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        last = json.loads(ctx.cursor)["last_id"] if ctx.cursor else 0
        size = ctx.page_sizes.changesets
        while True:
            body = ctx.client.get(
                "_apis/tfvc/changesets",
                {"searchCriteria.fromId": last + 1, "$orderby": "id asc", "$top": size, "maxCommentLength": 4000},
            )
            page = [c for c in body.get("value", []) if c["changesetId"] > last]
            # A batch may end inside a changeset's changes, and the cursor only moves past a whole
            # changeset: after a crash there, what that batch already stored is not sent again.
            known = ctx.already_delivered([f"{ctx.collection_id}:{c['changesetId']}" for c in page])
            ordered = sorted(page, key=lambda c: c["changesetId"])
            # the first page of changes of every changeset, read concurrently (in order)
            firsts = ctx.client.get_many((self._changes_path(c["changesetId"]) for c in ordered),
                                         {"$top": ctx.page_sizes.default, "$skip": 0})
            for changeset, first in zip(ordered, firsts):
                cid = changeset["changesetId"]
                key = f"{ctx.collection_id}:{cid}"
                if key not in known:
                    yield upsert(self.record_type, key, changeset)
                for changes in self._changes(ctx, cid, first):
                    stored = ctx.already_delivered([f"{key}:{c['item']['path']}" for c in changes]) if key in known else set()
                    for change in changes:
                        if f"{key}:{change['item']['path']}" not in stored:
                            yield upsert("tfvc.change", f"{key}:{change['item']['path']}", change)
                last = cid
                yield cursor_json({"last_id": last})
            if len(body.get("value", [])) < size:
                return
            if not page:  # a full page and nothing after `last`: the server ignored fromId
                raise AdoResponseError(f"pagination loop at {ctx.client.target.url}/_apis/tfvc/changesets:"
                                       f" searchCriteria.fromId={last + 1} returned only changesets already read")

    @staticmethod
    def _changes_path(changeset_id: int) -> str:
        return f"_apis/tfvc/changesets/{changeset_id}/changes"

    def _changes(self, ctx: StreamContext, changeset_id: int, first: object) -> Iterator[list[dict]]:
        """The changes of a changeset page by page: ``first`` (read ahead), then more while pages are full."""
        path, size = self._changes_path(changeset_id), ctx.page_sizes.default

        def fetch(skip: int) -> list[dict]:
            body = first if skip == 0 else ctx.client.get(path, {"$top": size, "$skip": skip})
            if not isinstance(body, dict) or not isinstance(body.get("value"), list):
                raise AdoResponseError(f"{ctx.client.target.url}: expected a {{count, value}} list from {path}")
            return body["value"]

        return iter_top_skip_pages(fetch, size, where=f"{ctx.client.target.url}/{path}")


class TfvcBranchesStream(SnapshotStream):
    """Branches of a project's TFVC tree (deleted ones included, children flattened)."""

    name = "tfvc.branches"
    record_type = "tfvc.branch"
    key_format = "{collectionId}:{path}"
    service = "tfvc"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        body = ctx.client.get(
            f"{segment(parent['id'])}/_apis/tfvc/branches",
            {"includeChildren": "true", "includeDeleted": "true", "includeParent": "true"},
        )
        branches: list[dict] = []
        stack = list(body.get("value", []))
        while stack:
            branch = stack.pop()
            children = branch.get("children") or []
            stack.extend(children)
            branches.append({**branch, "children": [{"path": c["path"]} for c in children]})
        return branches

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{ctx.collection_id}:{item['path']}"


class TfvcLabelsStream(SnapshotStream):
    """Labels of a project's TFVC tree."""

    name = "tfvc.labels"
    record_type = "tfvc.label"
    key_format = "{collectionId}:{labelId}"
    service = "tfvc"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        params = {"requestData.labelScope": f"$/{parent['name']}"}
        return [
            label
            for page in ctx.client.pages_by_offset(f"{segment(parent['id'])}/_apis/tfvc/labels", params, page_size=ctx.page_sizes.default)
            for label in page
        ]

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{ctx.collection_id}:{item['id']}"

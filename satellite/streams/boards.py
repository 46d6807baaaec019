"""Boards streams: work item revisions, links and comments (reporting APIs), fields, work item
types, area and iteration trees, team iterations (sprints).

The reporting APIs are built for this: their continuation token is a watermark the server keeps
valid, so it is the cursor, stored after every page. The first run starts at the configured
backfill date (or at the beginning). Deleted work items are included.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

from satellite.ado.client import segment
from satellite.errors import AdoResponseError
from satellite.streams.base import (
    IncrementalStream,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    cursor_json,
    delete,
    upsert,
)

__all__ = [
    "WorkItemRevisionsStream",
    "WorkItemLinksStream",
    "WorkItemCommentsStream",
    "FieldsStream",
    "WorkItemTypesStream",
    "ClassificationNodesStream",
    "TeamIterationsStream",
]


def reporting_batches(ctx: StreamContext, path: str, params: dict[str, Any]) -> Iterator[tuple[list[dict], str]]:
    """(values, continuation token) per batch of a reporting API, from the stored cursor on.

    The walk is a chain (each batch needs the previous batch's token): the next batch is asked for
    as soon as its token is known, while the caller handles the current one.
    """
    token = json.loads(ctx.cursor)["token"] if ctx.cursor else None
    seen: set[str] = set()

    def fetch(token: str | None) -> dict:
        query = dict(params)
        if token:
            query["continuationToken"] = token
        elif ctx.backfill_start:
            query["startDateTime"] = ctx.backfill_start
        body = ctx.client.get(path, query)
        if not isinstance(body, dict) or not isinstance(body.get("values"), list):
            raise AdoResponseError(f"{ctx.client.target.url}: expected a reporting batch from {path}")
        return body

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reporting") as ahead:
        body = fetch(token)
        while True:
            next_token = body.get("continuationToken") or token
            last = body.get("isLastBatch", True) or not next_token
            looping = not last and next_token in seen
            following = None if last or looping else ahead.submit(fetch, next_token)
            yield body["values"], next_token
            if last:
                return
            if looping:
                raise AdoResponseError(f"pagination loop at {ctx.client.target.url}/{path}: continuation token repeated")
            seen.add(next_token)
            token = next_token
            assert following is not None
            body = following.result()


class WorkItemRevisionsStream(IncrementalStream):
    """Every revision of every work item; the latest revision also updates ``wit.work_item``."""

    name = "wit.revisions"
    record_type = "wit.work_item_revision"
    also_emits = ("wit.work_item",)
    key_format = "{collectionId}:{workItemId}:{rev}"
    cursor = "reporting continuation token"
    service = "boards"
    scope = Scope.COLLECTION

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        params = {
            "includeDeleted": "true",
            "includeIdentityRef": "true",
            "includeLatestOnly": "false",
            "includeTagRef": "true",
            "$expand": "fields",
            "$maxPageSize": ctx.page_sizes.work_item_revisions,
        }
        for values, token in reporting_batches(ctx, "_apis/wit/reporting/workitemrevisions", params):
            latest: dict[int, dict] = {}
            for revision in values:
                key = f"{ctx.collection_id}:{revision['id']}"
                yield upsert(self.record_type, f"{key}:{revision['rev']}", revision)
                if revision["rev"] >= latest.get(revision["id"], {}).get("rev", 0):
                    latest[revision["id"]] = revision
            for work_item_id, revision in latest.items():
                yield self._current(ctx, work_item_id, revision)
            yield cursor_json({"token": token})

    @staticmethod
    def _current(ctx: StreamContext, work_item_id: int, revision: dict) -> Record:
        key = f"{ctx.collection_id}:{work_item_id}"
        fields = revision["fields"]  # asked for ($expand=fields): without them a deletion looks like an update
        if fields.get("System.IsDeleted") is True:
            return delete("wit.work_item", key)
        return upsert("wit.work_item", key, revision)


class WorkItemLinksStream(IncrementalStream):
    """Work item links as they are added and removed (``isActive: false`` becomes ``op: delete``)."""

    name = "wit.links"
    record_type = "wit.work_item_link"
    key_format = "{collectionId}:{sourceId}:{rel}:{targetId}"
    cursor = "reporting continuation token"
    service = "boards"
    scope = Scope.COLLECTION

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        for values, token in reporting_batches(ctx, "_apis/wit/reporting/workitemlinks", {}):
            for link in values:
                key = f"{ctx.collection_id}:{link['sourceId']}:{link['rel']}:{link['targetId']}"
                yield upsert(self.record_type, key, link) if link.get("isActive", True) else delete(self.record_type, key)
            yield cursor_json({"token": token})


class WorkItemCommentsStream(IncrementalStream):
    """Comments of the work items whose discussion changed since the last run (Server 2020+)."""

    name = "wit.comments"
    record_type = "wit.comment"
    key_format = "{collectionId}:{workItemId}:{commentId}"
    cursor = "reporting continuation token (discussion changes only)"
    service = "boards"
    scope = Scope.COLLECTION
    min_version = "6.0"

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        """Walk the discussion changes to the end, then read the comments of each changed work item
        once, in the order of its last change (the comments API answers with all of an item's
        comments, and a backfill meets most items in several batches). The cursor moves to a batch's
        token once every item last changed in or before that batch is read: an item also changed in
        a later batch is read after that change, which a walk resumed from the token meets again."""
        params = {"includeDiscussionChangesOnly": "true", "includeDeleted": "true", "fields": "System.Id,System.TeamProject",
                  "$maxPageSize": ctx.page_sizes.work_item_revisions}
        tokens: list[str] = []  # the token after each batch
        # work item id -> batch of its last change << 16 | its project's index: one int per item,
        # since a backfill of a big collection holds hundreds of thousands of them
        last_change: dict[int, int] = {}
        projects: dict[str, int] = {}
        for values, token in reporting_batches(ctx, "_apis/wit/reporting/workitemrevisions", params):
            for revision in values:
                # fields were asked for: a revision without them is the server's error, not "no discussion"
                project = revision["fields"].get("System.TeamProject")
                if project:
                    last_change[revision["id"]] = len(tokens) << 16 | projects.setdefault(project, len(projects))
            tokens.append(token)
        names = sorted(projects, key=projects.__getitem__)
        order = sorted(last_change, key=lambda i: (last_change[i] >> 16) << 32 | i)

        def path(work_item_id: int) -> str:
            return f"{segment(names[last_change[work_item_id] & 0xFFFF])}/_apis/wit/workItems/{work_item_id}/comments"

        first_pages = ctx.client.get_many(map(path, order), {"includeDeleted": "true", "$top": self.PAGE}, preview=True,
                                          missing_ok=True)
        read = 0  # batches whose items are all read
        for work_item_id, body in zip(order, first_pages):
            batch = last_change[work_item_id] >> 16
            if batch > read:
                yield cursor_json({"token": tokens[batch - 1]})
                read = batch
            if body is not None:  # None: the work item was deleted
                yield from self._comments(ctx, path(work_item_id), work_item_id, body)
        if tokens:
            yield cursor_json({"token": tokens[-1]})

    PAGE = 200

    def _comments(self, ctx: StreamContext, path: str, work_item_id: int, body: dict) -> Iterator[Record]:
        seen: set[str] = set()
        while True:
            for comment in body.get("comments", []):
                key = f"{ctx.collection_id}:{work_item_id}:{comment['id']}"
                yield delete(self.record_type, key) if comment.get("isDeleted") else upsert(self.record_type, key, comment)
            token = body.get("continuationToken")
            if not token:
                return
            if token in seen:
                raise AdoResponseError(f"pagination loop at {ctx.client.target.url}/{path}: continuation token repeated")
            seen.add(token)
            body = ctx.client.get(path, {"includeDeleted": "true", "$top": self.PAGE, "continuationToken": token}, preview=True)


class FieldsStream(SnapshotStream):
    name = "wit.fields"
    record_type = "wit.field"
    key_format = "{collectionId}:{referenceName}"
    service = "boards"
    scope = Scope.COLLECTION

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        return ctx.client.get("_apis/wit/fields").get("value", [])

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{ctx.collection_id}:{item['referenceName']}"


class WorkItemTypesStream(SnapshotStream):
    name = "wit.work_item_types"
    record_type = "wit.work_item_type"
    key_format = "{projectId}:{name}"
    service = "boards"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        return ctx.client.get(f"{segment(parent['id'])}/_apis/wit/workitemtypes").get("value", [])

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{parent['id']}:{item['name']}"


class ClassificationNodesStream(SnapshotStream):
    """Area and iteration trees of a project, one record per node (children by identifier)."""

    name = "wit.classification_nodes"
    record_type = "wit.classification_node"
    key_format = "{projectId}:{nodeIdentifier}"
    service = "boards"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        roots = ctx.client.get(f"{segment(parent['id'])}/_apis/wit/classificationnodes", {"$depth": 100}).get("value", [])
        nodes: list[dict] = []
        stack = list(roots)
        while stack:
            node = stack.pop()
            children = node.get("children") or []
            stack.extend(children)
            nodes.append({**node, "children": [c["identifier"] for c in children]})
        return nodes

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{parent['id']}:{item['identifier']}"


class TeamIterationsStream(SnapshotStream):
    """A team's sprints with their dates and time frame."""

    name = "work.team_iterations"
    record_type = "work.team_iteration"
    key_format = "{teamId}:{iterationId}"
    service = "boards"
    scope = Scope.TEAM

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        path = f"{segment(parent['projectId'])}/{segment(parent['id'])}/_apis/work/teamsettings/iterations"
        return ctx.client.get(path).get("value", [])

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{parent['id']}:{item['id']}"

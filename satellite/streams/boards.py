"""Boards streams: work item revisions, links and comments (reporting APIs), fields, work item
types, area and iteration trees, team iterations (sprints).

The reporting APIs are built for this: their continuation token is a watermark the server keeps
valid, so it is the cursor, stored after every page. The first run starts at the configured
backfill date (or at the beginning). Deleted work items are included.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any, Iterator

from satellite.ado.client import segment
from satellite.ado.paging import Page, TokenBody, items
from satellite.streams.base import (
    IncrementalStream,
    KeyFormat,
    Quarantined,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    UnreadableItem,
    delete,
    upsert,
)
from satellite.streams.cursors import ContinuationToken
from satellite.streams.work_item_table import WorkItemTable

__all__ = [
    "WorkItemRevisionsStream",
    "WorkItemLinksStream",
    "WorkItemCommentsStream",
    "FieldsStream",
    "WorkItemTypesStream",
    "ClassificationNodesStream",
    "TeamIterationsStream",
]

REVISIONS = "_apis/wit/reporting/workitemrevisions"


def reporting_batches(ctx: StreamContext, path: str, cursor: ContinuationToken, params: dict[str, Any]) -> Iterator[Page]:
    """The batches of a reporting API from the stored token on (or from the backfill start);
    each page's ``resume`` is the token to store after it. The next batch is asked for while
    the caller handles this one."""
    opening = {"startDateTime": ctx.backfill_start} if ctx.backfill_start else {}
    walk = TokenBody("values", start=cursor.token, opening=opening, last_key="isLastBatch", read_ahead=True)
    return ctx.client.pages(path, walk, params)


class WorkItemRevisionsStream(IncrementalStream):
    """Every revision of every work item; the current revision also updates ``wit.work_item``
    (``superseded`` ones do not: a later revision met further on in the walk does)."""

    name = "wit.revisions"
    record_type = "wit.work_item_revision"
    also_emits = ("wit.work_item",)
    key_format = KeyFormat("{collectionId}:{workItemId}:{rev}", {"workItemId": "id"})
    cursor = ContinuationToken
    # A destroyed work item is gone from every route, reporting included ("Destroys the specified work
    # item permanently from the Recycle Bin. This action can not be undone."): the items a complete
    # re-read no longer meets are deleted (keys of ids only: {collectionId}:{id}).
    reconciled = ("wit.work_item",)
    service = "boards"
    scope = Scope.COLLECTION

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: ContinuationToken) -> Iterator[StreamItem]:
        params = {
            "includeDeleted": "true",
            "includeIdentityRef": "true",
            "includeLatestOnly": "false",
            "includeTagRef": "true",
            "$expand": "fields",
            "$maxPageSize": ctx.page_sizes.work_item_revisions,
        }
        for page in reporting_batches(ctx, REVISIONS, cursor, params):
            latest: dict[int, dict] = {}
            for revision in page.items:
                record = self.upsert_of(ctx, revision, parent)
                yield record
                if isinstance(record, Quarantined) or not isinstance(revision.get("rev"), int) or superseded(revision):
                    continue
                if revision["rev"] >= latest.get(revision["id"], {}).get("rev", 0):
                    latest[revision["id"]] = revision
            for work_item_id, revision in latest.items():
                yield self._current(ctx, work_item_id, revision)
            yield ContinuationToken(page.resume).checkpoint()

    @staticmethod
    def _current(ctx: StreamContext, work_item_id: int, revision: dict) -> Record:
        key = f"{ctx.collection_id}:{work_item_id}"
        fields = revision["fields"]  # asked for ($expand=fields): without them a deletion looks like an update
        if fields.get("System.IsDeleted") is True:
            return delete("wit.work_item", key)
        return upsert("wit.work_item", key, revision)


def superseded(revision: dict) -> bool:
    """True when a later revision of the work item existed when this one was read: its
    ``System.RevisedDate`` is a date, not the current revision's 9999-01-01 (wit 5.0-7.1 reporting
    samples: "9999-01-01T00:00:00Z"). That later one is met further on in the same walk, so the work
    item is sent from it alone: a backfill sends each work item about once, not once per batch that
    holds one of its revisions (~10x fewer ``wit.work_item`` records, each a whole revision). A
    revision without the field counts as current (the batch's latest is sent, as before)."""
    revised = revision["fields"].get("System.RevisedDate") if isinstance(revision.get("fields"), dict) else None
    return isinstance(revised, str) and not revised.startswith("9999")


class WorkItemLinksStream(IncrementalStream):
    """Work item links as they are added and removed (``isActive: false`` becomes ``op: delete``)."""

    name = "wit.links"
    record_type = "wit.work_item_link"
    key_format = KeyFormat("{collectionId}:{sourceId}:{rel}:{targetId}")
    cursor = ContinuationToken
    service = "boards"
    scope = Scope.COLLECTION

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: ContinuationToken) -> Iterator[StreamItem]:
        for page in reporting_batches(ctx, "_apis/wit/reporting/workitemlinks", cursor, {}):
            for link in page.items:
                try:
                    key = self.key(ctx, link, parent)
                except UnreadableItem as exc:
                    yield self.quarantine(link, exc)
                    continue
                yield upsert(self.record_type, key, link) if link.get("isActive", True) else delete(self.record_type, key)
            yield ContinuationToken(page.resume).checkpoint()


@dataclass(frozen=True)
class DiscussionChanges:
    """The work items whose discussion changed in a walk of the revisions (five short fields each):
    the token after each batch, and for each item the batch of its last change and its project.

    A backfill of a big collection notes hundreds of thousands of work items: per item a few bytes in
    arrays indexed by id (``WorkItemTable``), not dict entries."""

    tokens: list[str | None]  # the token after each batch
    last_batch: WorkItemTable  # work item id -> 1 + the batch of its last discussion change (0: none)
    project: WorkItemTable  # work item id -> its project's index in ``projects``
    projects: list[str]

    @classmethod
    def walk(cls, ctx: StreamContext, cursor: ContinuationToken, params: dict[str, Any]) -> DiscussionChanges:
        tokens: list[str | None] = []
        last_batch, project_of = WorkItemTable("I"), WorkItemTable("H")
        comment_count = WorkItemTable("H", none=NO_COUNT)  # System.CommentCount of the item's last revision met
        deleted: set[int] = set()  # work items whose last revision met is deleted (in the recycle bin)
        projects: dict[str, int] = {}
        for page in reporting_batches(ctx, REVISIONS, cursor, params):
            for revision in page.items:
                if not isinstance(revision["id"], int) or isinstance(revision["id"], bool):
                    continue  # no work item's comments can be asked for without its id
                if discussion_changed(revision, comment_count):
                    # fields were asked for: a revision without them is the server's error, not "no discussion"
                    project = revision["fields"].get("System.TeamProject")
                    if project:
                        last_batch[revision["id"]] = len(tokens) + 1
                        project_of[revision["id"]] = projects.setdefault(project, len(projects))
                if revision["fields"].get("System.IsDeleted") is True:
                    deleted.add(revision["id"])
                else:
                    deleted.discard(revision["id"])
            tokens.append(page.resume)
        for work_item_id in deleted:  # in the recycle bin: its comments answer 404, no request for them
            last_batch.discard(work_item_id)
        return cls(tokens, last_batch, project_of, sorted(projects, key=projects.__getitem__))

    def order(self) -> array:
        """The work items in the order of their last change (then by id): a counting sort by batch
        into an array of ids (no list of int objects)."""
        starts = array("L", bytes(array("L").itemsize * (len(self.tokens) + 2)))
        for _, batch in self.last_batch.items():
            starts[batch + 1] += 1
        for batch in range(1, len(starts)):
            starts[batch] += starts[batch - 1]
        ordered = array("l", bytes(array("l").itemsize * starts[-1]))
        for work_item_id, batch in self.last_batch.items():
            ordered[starts[batch]] = work_item_id
            starts[batch] += 1
        return ordered

    def batch(self, work_item_id: int) -> int:
        """The batch (counted from 0) of the work item's last discussion change."""
        return self.last_batch.get(work_item_id, 0) - 1

    def path(self, work_item_id: int) -> str:
        return f"{segment(self.projects[self.project.get(work_item_id, 0)])}/_apis/wit/workItems/{work_item_id}/comments"


NO_COUNT = 0xFFFF  # no comment count noted for the work item (a count that high is noted as 0xFFFE)


def discussion_changed(revision: dict, comment_count: WorkItemTable) -> bool:
    """True when this revision added (or removed) a comment; notes its comment count."""
    fields = revision["fields"]
    count = fields.get("System.CommentCount")
    before = comment_count.get(revision["id"], 0 if revision.get("rev") == 1 else None)
    if isinstance(count, int):
        count = min(max(count, 0), NO_COUNT - 1)
        comment_count[revision["id"]] = count
    return bool(fields.get("System.History")) or (isinstance(count, int) and before is not None and count != before)


class WorkItemCommentsStream(IncrementalStream):
    """Comments of the work items whose discussion changed since the last run (Server 2020+).

    Discussion changes are found from the fields of every revision, not with
    ``includeDiscussionChangesOnly``: wit 5.0-7.1 says that filter returns "only the those
    revisions of work items, where only history field was changed", so the usual save "change
    the state and add a comment" is left out. A revision is a discussion change when it carries
    ``System.History`` (the comment added by that save) or its ``System.CommentCount`` differs from
    the previous revision's met in the same walk (a first revision: from 0)."""

    name = "wit.comments"
    record_type = "wit.comment"
    key_format = KeyFormat("{collectionId}:{workItemId}:{commentId}", {"commentId": "id"}, parent="workItemId")
    cursor = ContinuationToken  # of the walk of every revision (five short fields each)
    service = "boards"
    scope = Scope.COLLECTION
    min_version = "6.0"
    PAGE = 200
    # Revisions of five short fields (no $expand): the reporting API's largest page (the config's
    # bound of $maxPageSize), so the walk costs about what the full revisions stream's costs / 5.
    WALK_PAGE = 1000
    FIELDS = "System.Id,System.TeamProject,System.CommentCount,System.History,System.IsDeleted"
    # One read per work item with discussion changes, beside every project's fan-outs (builds, pull
    # requests): with the usual share of the client's threads it ran on alone at the end of a backfill
    # (a fifth of its requests, at 3 of 16 in flight; docs/benchmarks.md).
    AHEAD = 6

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: ContinuationToken) -> Iterator[StreamItem]:
        """Walk the revisions to the end, then read the comments of each work item whose discussion
        changed once, in the order of its last change (the comments API answers with all of an
        item's comments, and a backfill meets most items in several batches). The cursor moves to a
        batch's token once every item last changed in or before that batch is read: an item also
        changed in a later batch is read after that change, which a walk resumed from the token
        meets again."""
        walk = {"includeDeleted": "true", "fields": self.FIELDS, "$maxPageSize": self.WALK_PAGE}
        changes = DiscussionChanges.walk(ctx, cursor, walk)
        query = {"includeDeleted": "true", "$top": self.PAGE}
        read = 0  # batches whose items are all read
        order, path = changes.order(), changes.path
        reads = ctx.client.get_many(map(path, order), query, preview=True, missing_ok=True, ahead=self.AHEAD)
        for work_item_id, first in zip(order, reads):
            if changes.batch(work_item_id) > read:
                read = changes.batch(work_item_id)
                yield ContinuationToken(changes.tokens[read - 1]).checkpoint()
            if first is not None:  # None: the work item was deleted
                comments = ctx.client.pages(path(work_item_id), TokenBody("comments"), query, preview=True, first=first)
                for comment in items(comments):
                    try:
                        key = self.key(ctx, comment, {"id": work_item_id})
                    except UnreadableItem as exc:  # e.g. Microsoft's own samples: ``commentId`` for ``id``
                        yield self.quarantine(comment, exc)
                        continue
                    yield delete(self.record_type, key) if comment.get("isDeleted") else upsert(self.record_type, key, comment)
        if changes.tokens:
            yield ContinuationToken(changes.tokens[-1]).checkpoint()


class FieldsStream(SnapshotStream):
    name = "wit.fields"
    record_type = "wit.field"
    key_format = KeyFormat("{collectionId}:{referenceName}")
    service = "boards"
    scope = Scope.COLLECTION

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        return ctx.client.get_list("_apis/wit/fields")


class WorkItemTypesStream(SnapshotStream):
    name = "wit.work_item_types"
    record_type = "wit.work_item_type"
    key_format = KeyFormat("{projectId}:{name}", parent="projectId")
    service = "boards"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        return ctx.client.get_list(f"{segment(parent['id'])}/_apis/wit/workitemtypes")


class ClassificationNodesStream(SnapshotStream):
    """Area and iteration trees of a project, one record per node (children by identifier)."""

    name = "wit.classification_nodes"
    record_type = "wit.classification_node"
    key_format = KeyFormat("{projectId}:{nodeIdentifier}", {"nodeIdentifier": "identifier"}, parent="projectId")
    service = "boards"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        nodes: list[dict] = []
        stack = list(ctx.client.get_list(f"{segment(parent['id'])}/_apis/wit/classificationnodes", {"$depth": 100}))
        while stack:
            node = stack.pop()
            children = node.get("children") or []
            stack.extend(children)
            nodes.append({**node, "children": [c.get("identifier") for c in children]})  # one without: quarantined
        return nodes


class TeamIterationsStream(SnapshotStream):
    """A team's sprints with their dates and time frame."""

    name = "work.team_iterations"
    record_type = "work.team_iteration"
    key_format = KeyFormat("{teamId}:{iterationId}", {"iterationId": "id"}, parent="teamId")
    service = "boards"
    scope = Scope.TEAM

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        return ctx.client.get_list(f"{segment(parent['projectId'])}/{segment(parent['id'])}/_apis/work/teamsettings/iterations")

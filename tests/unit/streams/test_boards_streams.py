"""Boards streams as units against recorded answers: work item revisions, links and comments
(reporting APIs), fields, work item types, area/iteration trees, team iterations."""

from __future__ import annotations

import copy

import pytest

from satellite.errors import AdoNotFoundError, AdoResponseError
from satellite.streams import (
    ClassificationNodesStream,
    FieldsStream,
    TeamIterationsStream,
    WorkItemCommentsStream,
    WorkItemLinksStream,
    WorkItemRevisionsStream,
    WorkItemTypesStream,
)
from tests.unit.streams.harness import MALFORMED, Reply, Request, Server, gone, recorded, run_stream
from tests.unit.streams.parents import CID, PROJECT, PROJECT_ID, TEAM, TEAM_ID
from tests.unit.streams.snapshots import SnapshotCase, SnapshotContract, add_copy, changed

REVISIONS = "_apis/wit/reporting/workitemrevisions"
LINKS = "_apis/wit/reporting/workitemlinks"
REVISION_PARAMS = {"$expand": "fields", "includeLatestOnly": "false"}
WALK_PARAMS = {"fields": "System.Id,System.TeamProject,System.CommentCount,System.History,System.IsDeleted"}


class ReportingFeed:
    """A reporting API: everything changed, in order, in batches; the continuation token is a
    watermark (here the position) that stays valid, and at the end keeps pointing there."""

    def __init__(self, values: list[dict], batch: int = 200) -> None:
        self.values = values
        self.batch = batch
        self.loops = False  # answer "not the last batch" with the same token forever

    def answer(self, request: Request) -> Reply:
        token = request.params.get("continuationToken")
        start = int(token.removeprefix("pos-")) if token else 0
        end = min(start + self.batch, len(self.values))
        if self.loops:
            return Reply({"values": self.values[:1], "continuationToken": "pos-0", "isLastBatch": False})
        return Reply({"values": self.values[start:end], "nextLink": None, "continuationToken": f"pos-{end}",
                      "isLastBatch": end >= len(self.values)})


def tokens(run, path: str = REVISIONS) -> list[str | None]:
    return [r.params.get("continuationToken") for r in run.requests if r.path == path]


# -- revisions -------------------------------------------------------------------------------------


def revision(work_item_id: int, rev: int, **fields) -> dict:
    made = copy.deepcopy(recorded("wit_revisions")["values"][0])
    made.update(id=work_item_id, rev=rev)
    made["fields"].update({"System.Id": work_item_id, "System.Rev": rev, **fields})
    return made


class TestWorkItemRevisionsStream:
    def feed(self) -> ReportingFeed:
        return ReportingFeed(recorded("wit_revisions")["values"])  # 1 rev 1, 2 revs 1-4

    def run(self, feed: ReportingFeed, **kwargs):
        return run_stream(WorkItemRevisionsStream(), Server().get(REVISIONS, feed.answer, REVISION_PARAMS), **kwargs)

    def test_first_run_sends_every_revision_and_the_latest_as_the_work_item(self) -> None:
        run = self.run(self.feed())
        assert run.keys("wit.work_item_revision") == [f"{CID}:1:1", f"{CID}:2:1", f"{CID}:2:2", f"{CID}:2:3", f"{CID}:2:4"]
        assert run.keys("wit.work_item") == [f"{CID}:1", f"{CID}:2"]
        assert run.record(f"{CID}:2", "wit.work_item").data["rev"] == 4
        assert {r.op for r in run.records} == {"upsert"}
        assert run.checkpoint is not None
        (request,) = run.requests
        assert "continuationToken" not in request.params and "startDateTime" not in request.params
        assert request.params["includeDeleted"] == "true" and request.params["$maxPageSize"] == "200"

    def test_the_work_item_is_sent_from_its_current_revision_only(self) -> None:
        """wit 5.0-7.1 reporting samples: a revision's System.RevisedDate is the next one's date, the
        current one's 9999-01-01T00:00:00Z. A batch without the current revision sends no work item:
        the batch that holds it does (once per backfill, not once per batch)."""
        feed = self.feed()
        dates = ["2024-01-04T13:02:39.567Z", "2024-01-10T17:37:40.296Z", "2024-02-02T10:47:56.025Z", "2024-04-02T08:37:51.754Z"]
        for value, revised in zip(feed.values, ["9999-01-01T00:00:00Z", *dates[1:], "9999-01-01T00:00:00Z"]):
            value["fields"]["System.RevisedDate"] = revised
        feed.batch = 2  # batches: [1:1, 2:1], [2:2, 2:3], [2:4]
        run = self.run(feed)
        assert [(r.type, r.key) for r in run.records if r.type == "wit.work_item"] == [("wit.work_item", f"{CID}:1"),
                                                                                      ("wit.work_item", f"{CID}:2")]
        assert run.record(f"{CID}:2", "wit.work_item").data["rev"] == 4
        assert len(run.keys("wit.work_item_revision")) == 5

    def test_first_run_starts_at_the_backfill_date(self) -> None:
        run = self.run(self.feed(), backfill_start="2024-01-01T00:00:00Z")
        assert run.requests[0].params["startDateTime"] == "2024-01-01T00:00:00Z"

    def test_incremental_run_continues_from_the_stored_token_and_sends_only_what_changed(self) -> None:
        feed = self.feed()
        first = self.run(feed)
        feed.values += [revision(2, 5, **{"System.State": "Done"}), revision(3, 1)]
        run = self.run(feed, cursor=first.checkpoint, backfill_start="2024-01-01T00:00:00Z")
        assert tokens(run) == ["pos-5"]
        assert "startDateTime" not in run.requests[0].params
        assert run.keys() == [f"{CID}:2:5", f"{CID}:3:1", f"{CID}:2", f"{CID}:3"]
        assert run.record(f"{CID}:2", "wit.work_item").data["fields"]["System.State"] == "Done"

    def test_nothing_new_sends_nothing(self) -> None:
        feed = self.feed()
        first = self.run(feed)
        run = self.run(feed, cursor=first.checkpoint)
        assert run.records == () and tokens(run) == ["pos-5"]

    def test_a_deleted_work_item_is_a_delete_of_the_work_item(self) -> None:
        feed = self.feed()
        first = self.run(feed)
        feed.values.append(revision(2, 5, **{"System.IsDeleted": True}))
        run = self.run(feed, cursor=first.checkpoint)
        assert [(r.type, r.key, r.op) for r in run.records] == [
            ("wit.work_item_revision", f"{CID}:2:5", "upsert"), ("wit.work_item", f"{CID}:2", "delete")]

    def test_each_batch_is_checkpointed_and_the_next_asked_with_its_token(self) -> None:
        feed = self.feed()
        feed.batch = 2
        run = self.run(feed)
        assert tokens(run) == [None, "pos-2", "pos-4"]
        assert len(run.checkpoints) == 3
        assert len(run.keys("wit.work_item_revision")) == 5

    def test_a_repeated_token_is_a_pagination_loop(self) -> None:
        feed = self.feed()
        feed.loops = True
        run = self.run(feed, expect=AdoResponseError)
        assert "pagination loop" in str(run.error)

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_batch_fails_without_checkpoint(self, kind: str) -> None:
        feed = self.feed()
        first = self.run(feed)
        reply, error = MALFORMED[kind]
        run = run_stream(WorkItemRevisionsStream(), Server().get(REVISIONS, reply, REVISION_PARAMS), cursor=first.checkpoint,
                         expect=error)
        assert run.records == () and run.checkpoints == ()

    @pytest.mark.parametrize("field", ["fields"])
    def test_revision_without_a_field_it_needs_fails_without_checkpoint(self, field: str) -> None:
        feed = self.feed()
        del feed.values[-1][field]
        run = self.run(feed, expect=AdoResponseError)
        assert run.checkpoints == () and run.deletes == []

    def test_revision_without_its_rev_is_quarantined_and_the_rest_flows(self) -> None:
        whole = self.run(self.feed())
        feed = self.feed()
        del feed.values[-1]["rev"]
        run = self.run(feed)
        assert [q.record_type for q in run.quarantined] == ["wit.work_item_revision"]
        assert len(run.records) == len(whole.records) - 1 and run.checkpoints

    def test_not_found_raises(self) -> None:
        run = run_stream(WorkItemRevisionsStream(), Server().get(REVISIONS, gone("item", REVISIONS), REVISION_PARAMS),
                         expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()


# -- links -----------------------------------------------------------------------------------------


def link_key(link: dict) -> str:
    return f"{CID}:{link['sourceId']}:{link['rel']}:{link['targetId']}"


class TestWorkItemLinksStream:
    def feed(self) -> ReportingFeed:
        return ReportingFeed(recorded("wit_links")["values"])  # 2->5, 6->13, 9->15 added; 6->13 removed

    def run(self, feed: ReportingFeed, **kwargs):
        return run_stream(WorkItemLinksStream(), Server().get(LINKS, feed.answer), **kwargs)

    def test_first_run_sends_added_links_and_deletes_removed_ones_in_order(self) -> None:
        run = self.run(self.feed())
        forward = "System.LinkTypes.Hierarchy-Forward"
        assert [(r.key, r.op) for r in run.records] == [
            (f"{CID}:2:{forward}:5", "upsert"), (f"{CID}:6:{forward}:13", "upsert"),
            (f"{CID}:9:{forward}:15", "upsert"), (f"{CID}:6:{forward}:13", "delete")]
        assert {r.type for r in run.records} == {"wit.work_item_link"}
        assert run.checkpoint is not None

    def test_incremental_run_continues_from_the_stored_token(self) -> None:
        feed = self.feed()
        first = self.run(feed)
        new = {**feed.values[0], "rel": "System.LinkTypes.Related", "sourceId": 4, "targetId": 20, "changedDate": "2024-06-01T00:00:00Z"}
        feed.values.append(new)
        run = self.run(feed, cursor=first.checkpoint)
        assert tokens(run, LINKS) == ["pos-4"]
        assert [(r.key, r.op) for r in run.records] == [(link_key(new), "upsert")]

    def test_nothing_new_sends_nothing(self) -> None:
        feed = self.feed()
        first = self.run(feed)
        assert self.run(feed, cursor=first.checkpoint).records == ()

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_batch_fails_without_deletes_or_checkpoint(self, kind: str) -> None:
        first = self.run(self.feed())
        reply, error = MALFORMED[kind]
        run = run_stream(WorkItemLinksStream(), Server().get(LINKS, reply), cursor=first.checkpoint, expect=error)
        assert run.records == () and run.checkpoints == ()

    def test_link_without_its_source_is_quarantined_and_the_rest_flows(self) -> None:
        whole = self.run(self.feed())
        feed = self.feed()
        del feed.values[1]["sourceId"]
        run = self.run(feed)
        assert [q.record_type for q in run.quarantined] == ["wit.work_item_link"]
        assert len(run.records) == len(whole.records) - 1 and run.checkpoints == whole.checkpoints

    def test_not_found_raises(self) -> None:
        run = run_stream(WorkItemLinksStream(), Server().get(LINKS, gone("item", LINKS)), expect=AdoNotFoundError)
        assert run.checkpoints == ()


# -- comments --------------------------------------------------------------------------------------

PROJECT_OF = {9: "Proseware Analytics", 10: "Tailspin Traders", 3: "Proseware Analytics"}


def comments_path(work_item_id: int) -> str:
    return f"{PROJECT_OF[work_item_id]}/_apis/wit/workItems/{work_item_id}/comments"


class Discussions:
    """Every revision with its comment count and history (recorded: work items 9, 10 and 3 got a
    comment, saved together with another change; 5 none; 3 changed again without one) and each
    work item's comments."""

    def __init__(self) -> None:
        self.feed = ReportingFeed(recorded("wit_comment_walk")["values"])
        self.comments = {int(i): body for i, body in recorded("wit_comments").items()}
        self.gone: set[int] = set()

    def comment(self, work_item_id: int, comment_id: int, **changes) -> None:
        body = self.comments[work_item_id]
        body["comments"].append({**copy.deepcopy(body["comments"][0]), "id": comment_id, "text": f"comment {comment_id}", **changes})
        self.save(work_item_id, history=f"comment {comment_id}", count=len(body["comments"]))

    def save(self, work_item_id: int, *, history: str | None = None, count: int | None = None, deleted: bool = False) -> None:
        """A new revision of the work item (``count``: its comment count, default unchanged; ``deleted``:
        the revision that moved it to the recycle bin)."""
        previous = [v for v in self.feed.values if v["id"] == work_item_id][-1]
        fields = {"System.Id": work_item_id, "System.TeamProject": previous["fields"]["System.TeamProject"],
                  "System.CommentCount": previous["fields"]["System.CommentCount"] if count is None else count}
        if history is not None:
            fields["System.History"] = history
        if deleted:
            fields["System.IsDeleted"] = True
        self.feed.values.append({"id": work_item_id, "rev": previous["rev"] + 1, "fields": fields})

    def answer_comments(self, request: Request) -> Reply:
        work_item_id = int(request.path.split("/")[-2])
        if work_item_id in self.gone:
            return gone("item", f"TF401232: Work item {work_item_id} does not exist")
        return Reply(self.comments[work_item_id])

    def server(self) -> Server:
        server = Server().get(REVISIONS, self.feed.answer, WALK_PARAMS)
        for work_item_id in PROJECT_OF:
            server.get(comments_path(work_item_id), self.answer_comments)
        return server


def comment_reads(run) -> list[int]:
    return sorted(int(r.path.split("/")[-2]) for r in run.requests if r.path.endswith("/comments"))


class TestWorkItemCommentsStream:
    def test_first_run_sends_the_comments_of_every_work_item_whose_discussion_changed(self) -> None:
        d = Discussions()
        run = run_stream(WorkItemCommentsStream(), d.server())
        assert sorted(run.keys()) == sorted([f"{CID}:9:1", f"{CID}:10:1", f"{CID}:3:1"])
        assert {(r.type, r.op) for r in run.records} == {("wit.comment", "upsert")}
        assert run.record(f"{CID}:9:1").data["text"]
        assert run.checkpoint is not None
        reads = [r for r in run.requests if r.path.endswith("/comments")]
        assert {r.api_version for r in reads} == {"7.0-preview"}
        assert {r.path for r in reads} == {comments_path(i) for i in (9, 10, 3)}
        assert all(r.params["includeDeleted"] == "true" for r in reads)

    def test_incremental_run_reads_only_the_work_items_whose_discussion_changed(self) -> None:
        d = Discussions()
        first = run_stream(WorkItemCommentsStream(), d.server())
        d.comment(9, 2)
        run = run_stream(WorkItemCommentsStream(), d.server(), cursor=first.checkpoint)
        assert tokens(run) == ["pos-9"]
        assert comment_reads(run) == [9]
        assert run.keys() == [f"{CID}:9:1", f"{CID}:9:2"]  # the API answers all of an item's comments

    def test_the_walk_reads_every_revision_with_its_comment_count_and_history(self) -> None:
        """wit 5.0-7.1 includeDiscussionChangesOnly: "only those revisions of work items, where only
        history field was changed": a comment saved with a state change is not one of those."""
        run = run_stream(WorkItemCommentsStream(), Discussions().server())
        (walk,) = [r for r in run.requests if r.path == REVISIONS]
        assert "includeDiscussionChangesOnly" not in walk.params
        assert walk.params["includeDeleted"] == "true" and "$expand" not in walk.params

    def test_a_change_without_a_comment_reads_no_comments(self) -> None:
        d = Discussions()
        first = run_stream(WorkItemCommentsStream(), d.server())
        d.save(9)  # e.g. a state change: same comment count, no history
        d.save(10)
        run = run_stream(WorkItemCommentsStream(), d.server(), cursor=first.checkpoint)
        assert run.records == () and comment_reads(run) == []
        assert run.checkpoint is not None and run.checkpoint != first.checkpoint

    def test_a_comment_count_change_without_history_reads_the_comments(self) -> None:
        d = Discussions()
        first = run_stream(WorkItemCommentsStream(), d.server())
        d.save(10)
        d.save(10, count=0)  # the history field not served: the count moved in this walk
        run = run_stream(WorkItemCommentsStream(), d.server(), cursor=first.checkpoint)
        assert comment_reads(run) == [10]

    def test_a_comment_saved_with_a_state_change_is_read(self) -> None:
        d = Discussions()
        first = run_stream(WorkItemCommentsStream(), d.server())
        d.comments[3]["comments"].append({**copy.deepcopy(d.comments[3]["comments"][0]), "id": 2})
        d.save(3, history="<div>Closing: fixed in the last build.</div>", count=2)
        run = run_stream(WorkItemCommentsStream(), d.server(), cursor=first.checkpoint)
        assert comment_reads(run) == [3] and f"{CID}:3:2" in run.keys()

    def test_nothing_new_reads_no_comments(self) -> None:
        d = Discussions()
        first = run_stream(WorkItemCommentsStream(), d.server())
        run = run_stream(WorkItemCommentsStream(), d.server(), cursor=first.checkpoint)
        assert run.records == () and comment_reads(run) == [] and len(run.requests) == 1

    def test_a_deleted_comment_is_a_delete(self) -> None:
        d = Discussions()
        first = run_stream(WorkItemCommentsStream(), d.server())
        d.comment(10, 2, isDeleted=True)
        run = run_stream(WorkItemCommentsStream(), d.server(), cursor=first.checkpoint)
        assert [(r.key, r.op) for r in run.records] == [(f"{CID}:10:1", "upsert"), (f"{CID}:10:2", "delete")]

    def test_a_work_item_deleted_since_its_change_is_skipped(self) -> None:
        d = Discussions()
        d.gone.add(10)
        run = run_stream(WorkItemCommentsStream(), d.server())
        assert sorted(run.keys()) == sorted([f"{CID}:9:1", f"{CID}:3:1"])
        assert comment_reads(run) == [3, 9, 10]

    def test_a_work_item_in_the_recycle_bin_is_not_asked_for(self) -> None:
        """Its last revision met is deleted: its comments would answer 404 (one request less per deleted item)."""
        d = Discussions()
        d.save(10, deleted=True)
        d.gone.add(10)
        run = run_stream(WorkItemCommentsStream(), d.server())
        assert comment_reads(run) == [3, 9] and sorted(run.keys()) == sorted([f"{CID}:9:1", f"{CID}:3:1"])
        assert run.checkpoint is not None

    def test_a_work_item_restored_with_a_comment_is_read_again(self) -> None:
        d = Discussions()
        d.save(10, deleted=True)
        first = run_stream(WorkItemCommentsStream(), d.server())
        d.comment(10, 2)  # restored (a revision without System.IsDeleted) and commented on
        run = run_stream(WorkItemCommentsStream(), d.server(), cursor=first.checkpoint)
        assert comment_reads(run) == [10] and f"{CID}:10:2" in run.keys()

    def test_comments_are_read_page_by_page(self) -> None:
        d = Discussions()
        more = copy.deepcopy(d.comments[3])
        more["comments"][0]["id"] = 2
        d.comments[3]["continuationToken"] = "page-2"
        server = d.server().get(comments_path(3), more, {"continuationToken": "page-2"})
        run = run_stream(WorkItemCommentsStream(), server)
        assert [r.params.get("continuationToken") for r in run.requests if r.path == comments_path(3)] == [None, "page-2"]
        assert f"{CID}:3:2" in run.keys()

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_discussion_batch_fails_without_checkpoint(self, kind: str) -> None:
        d = Discussions()
        reply, error = MALFORMED[kind]
        run = run_stream(WorkItemCommentsStream(), d.server().get(REVISIONS, reply, WALK_PARAMS), expect=error)
        assert run.records == () and run.checkpoints == ()

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_comments_answer_fails_without_checkpoint(self, kind: str) -> None:
        d = Discussions()
        reply, error = MALFORMED[kind]
        server = d.server()
        for work_item_id in PROJECT_OF:
            server.get(comments_path(work_item_id), reply)
        run = run_stream(WorkItemCommentsStream(), server, expect=error)
        assert run.records == () and run.checkpoints == ()

    def test_not_found_raises(self) -> None:
        d = Discussions()
        run = run_stream(WorkItemCommentsStream(), d.server().get(REVISIONS, gone("item", REVISIONS), WALK_PARAMS),
                         expect=AdoNotFoundError)
        assert run.checkpoints == ()


# -- snapshots -------------------------------------------------------------------------------------

class TestFieldsStream(SnapshotContract):
    case = SnapshotCase(
        stream=FieldsStream,
        record_type="wit.field",
        route="_apis/wit/fields",
        fixture="wit_fields",
        keys=(f"{CID}:System.Id", f"{CID}:System.AreaId", f"{CID}:System.AreaPath"),
        add=lambda body: f"{CID}:" + add_copy(body, referenceName="Custom.Risk", name="Risk")["referenceName"],
        change=lambda body: f"{CID}:" + changed(body["value"][1], isDeleted=True)["referenceName"],
        remove=lambda body: f"{CID}:" + body["value"].pop(0)["referenceName"],
        drop_key=lambda body: body["value"][2].pop("referenceName"),
        gone=gone("item", "_apis/wit/fields"),
    )


class TestWorkItemTypesStream(SnapshotContract):
    case = SnapshotCase(
        stream=WorkItemTypesStream,
        record_type="wit.work_item_type",
        route=f"{PROJECT_ID}/_apis/wit/workitemtypes",
        fixture="wit_work_item_types",
        parent=PROJECT,
        keys=(f"{PROJECT_ID}:Bug", f"{PROJECT_ID}:Task"),
        add=lambda body: f"{PROJECT_ID}:" + add_copy(body, name="Risk", referenceName="Custom.Risk")["name"],
        change=lambda body: f"{PROJECT_ID}:" + changed(body["value"][1], color="FF0000")["name"],
        remove=lambda body: f"{PROJECT_ID}:" + body["value"].pop(0)["name"],
        drop_key=lambda body: body["value"][1].pop("name"),
    )


AREA, SHARED = "fb1d9f22-923f-47f5-b91f-e766dab5e3ec", "2db8bc0e-2d04-4442-ab29-79143e309142"
ITERATION, SPRINT_1, SPRINT_2 = ("a6e0e585-2b65-41b2-b074-7889313cb2ee", "f55ccf8d-820e-41f2-84e1-0c37475bc1a9",
                                 "e5702e7a-5772-4930-9e31-9290e0d19407")


def add_sprint(body: dict) -> str:
    sprints = body["value"][1]["children"]
    sprints.append({**copy.deepcopy(sprints[-1]), "id": 99, "identifier": "0c1d7e53-51c8-4d1b-a0a8-8b0c33a4f3d2", "name": "Sprint 3"})
    return f"{PROJECT_ID}:0c1d7e53-51c8-4d1b-a0a8-8b0c33a4f3d2"


class TestClassificationNodesStream(SnapshotContract):
    case = SnapshotCase(
        stream=ClassificationNodesStream,
        record_type="wit.classification_node",
        route=f"{PROJECT_ID}/_apis/wit/classificationnodes",
        params={"$depth": "100"},
        fixture="wit_classification_nodes",
        parent=PROJECT,
        keys=tuple(f"{PROJECT_ID}:{n}" for n in (AREA, SHARED, ITERATION, SPRINT_1, SPRINT_2)),
        add=add_sprint,
        # a node's record names its children: adding or removing a sprint changes the iteration root too
        change=lambda body: f"{PROJECT_ID}:" + changed(body["value"][1], name="Proseware Iterations")["identifier"],
        remove=lambda body: f"{PROJECT_ID}:" + body["value"][1]["children"].pop(0)["identifier"],
        drop_key=lambda body: body["value"][1]["children"][1].pop("identifier"),
    )

    def test_each_node_is_a_record_naming_its_children_by_identifier(self) -> None:
        run = self.case.run(self.case.server())
        assert run.record(f"{PROJECT_ID}:{ITERATION}").data["children"] == [SPRINT_1, SPRINT_2]
        assert run.record(f"{PROJECT_ID}:{SPRINT_1}").data["children"] == []


class TestTeamIterationsStream(SnapshotContract):
    case = SnapshotCase(
        stream=TeamIterationsStream,
        record_type="work.team_iteration",
        route=f"{PROJECT_ID}/{TEAM_ID}/_apis/work/teamsettings/iterations",
        fixture="work_team_iterations",
        parent=TEAM,
        keys=tuple(f"{TEAM_ID}:{i}" for i in (SPRINT_1, SPRINT_2, "ee020432-c4a5-47a0-bd27-f95540db4564")),
        add=lambda body: f"{TEAM_ID}:" + add_copy(body, id="0c1d7e53-51c8-4d1b-a0a8-8b0c33a4f3d2", name="Sprint 4")["id"],
        change=lambda body: f"{TEAM_ID}:" + changed(body["value"][1], attributes={**body["value"][1]["attributes"],
                                                                                   "timeFrame": "current"})["id"],
        remove=lambda body: f"{TEAM_ID}:" + body["value"].pop(0)["id"],
        drop_key=lambda body: body["value"][2].pop("id"),
        gone=gone("item", "team"),
    )

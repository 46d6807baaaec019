"""Pipelines streams as units against recorded answers: build definitions, builds with their
timelines, YAML pipelines and their runs."""

from __future__ import annotations

import copy
import json
import threading
from types import SimpleNamespace

import pytest

from satellite.ado.paging import Page
from satellite.errors import AdoNotFoundError, AdoResponseError
from satellite.streams import BuildDefinitionsStream, BuildsStream, PipelineRunsStream, PipelinesStream
from satellite.streams.pipelines import CHANGES_AHEAD, build_changes
from tests.support import wait_until
from tests.unit.streams.harness import MALFORMED, Reply, Request, Server, gone, recorded, run_stream, token_pages
from tests.unit.streams.parents import CID, PROJECT, PROJECT_ID
from tests.unit.streams.snapshots import SnapshotCase, SnapshotContract, add_copy, changed

BUILDS = f"{PROJECT_ID}/_apis/build/builds"
DEFINITIONS = f"{PROJECT_ID}/_apis/build/definitions"
PIPELINES = f"{PROJECT_ID}/_apis/pipelines"
OPEN = "notStarted,inProgress,cancelling,postponed"
COMPLETED = {"statusFilter": "completed", "queryOrder": "finishTimeAscending"}


def serve_token_pages(route: str):
    def serve(case: SnapshotCase, server: Server, body) -> Server:
        return server.get(route, token_pages(body["value"]) if isinstance(body, dict) and "value" in body else body, case.params)
    return serve


class TestBuildDefinitionsStream(SnapshotContract):
    case = SnapshotCase(
        stream=BuildDefinitionsStream,
        record_type="build.definition",
        route=DEFINITIONS,
        params={"queryOrder": "definitionNameAscending", "includeAllProperties": "true"},
        serve=serve_token_pages(DEFINITIONS),
        fixture="build_definitions",
        parent=PROJECT,
        keys=(f"{CID}:1", f"{CID}:2"),
        add=lambda body: f"{CID}:{add_copy(body, id=7, name='proseware-docs CI')['id']}",
        change=lambda body: f"{CID}:{changed(body['value'][1], revision=99)['id']}",
        remove=lambda body: f"{CID}:{body['value'].pop(0)['id']}",
        drop_key=lambda body: body["value"][1].pop("id"),
        gone=gone("project"),
    )


class TestPipelinesStream(SnapshotContract):
    case = SnapshotCase(
        stream=PipelinesStream,
        record_type="pipelines.pipeline",
        route=PIPELINES,
        serve=serve_token_pages(PIPELINES),
        fixture="pipelines",
        parent=PROJECT,
        keys=(f"{CID}:1", f"{CID}:2"),
        add=lambda body: f"{CID}:{add_copy(body, id=7, name='proseware-docs')['id']}",
        change=lambda body: f"{CID}:{changed(body['value'][1], revision=4)['id']}",
        remove=lambda body: f"{CID}:{body['value'].pop(0)['id']}",
        drop_key=lambda body: body["value"][1].pop("id"),
        gone=gone("project"),
    )

    @pytest.mark.parametrize("version, sent", [("6.0", "6.0-preview"), ("7.0", "7.0"), ("7.1", "7.1")])
    def test_server_2020_is_asked_with_the_preview_version(self, version: str, sent: str) -> None:
        server = self.case.serve(self.case, Server(version), recorded("pipelines"))
        run = run_stream(PipelinesStream(), server, parent=PROJECT)
        assert [r.api_version for r in run.requests] == [sent]
        assert len(run.records) == 2


# -- builds ----------------------------------------------------------------------------------------


class Builds:
    """The project's builds (recorded: 1, 2, 3 completed, 40 in progress) and their timelines; the
    completed query is inclusive of ``minTime`` and ordered by finish time, as the server does."""

    def __init__(self) -> None:
        self.builds = {b["id"]: b for b in recorded("build_builds_completed")["value"] + recorded("build_builds_open")["value"]}
        self.completed_build = copy.deepcopy(self.builds[3])  # the model of a build finishing
        self.timelines = {int(i): t for i, t in recorded("build_timelines").items()}
        self.changes = {int(i): c["value"] for i, c in recorded("build_changes").items()}  # 1: one commit; 2, 3, 40: none

    def finish(self, build_id: int, at: str) -> None:
        """Build ``build_id`` (new, or one running) completed at ``at``."""
        build = copy.deepcopy(self.builds.get(build_id) or self.completed_build)
        build.update(id=build_id, status="completed", result="succeeded", finishTime=at, buildNumber=f"20240801.{build_id}")
        self.builds[build_id] = build
        self.timelines.setdefault(build_id, copy.deepcopy(self.timelines[3]))
        for record in self.timelines[build_id]["records"]:
            record["id"] = f"{build_id}-{record['id'][3:]}"

    def queue(self, build_id: int) -> None:
        self.builds[build_id] = {**copy.deepcopy(self.builds[40]), "id": build_id, "status": "notStarted", "startTime": None}

    def late(self, build_id: int, queued: str, finished: str) -> None:
        """Build ``build_id`` queued at ``queued`` ran and finished at ``finished``, but its completion is
        not committed yet: it reads as running."""
        self.finish(build_id, finished)
        self.builds[build_id].update(queueTime=queued, startTime=queued, status="inProgress")
        self.builds[build_id].pop("finishTime")
        self.committed = {**getattr(self, "committed", {}), build_id: finished}

    def commit(self, build_id: int) -> None:
        """The late completion of ``build_id`` is committed, with the finish time it had."""
        self.builds[build_id].update(status="completed", finishTime=self.committed.pop(build_id))

    def listed(self, answer):
        """``answer`` a list of builds, then make the next change of ``self.after_listing`` (if any)."""
        def listing(request: Request) -> Reply:
            reply = copy.deepcopy(answer(request))  # the answer as it was, whatever changes next
            if getattr(self, "after_listing", None) and "continuationToken" not in request.params:
                self.after_listing.pop(0)()
            return reply
        return listing

    def completed(self, request: Request) -> Reply:
        since = request.params.get("minTime", "")
        done = sorted((b for b in self.builds.values()  # deleted builds are left out (deletedFilter excludeDeleted)
                       if b["status"] == "completed" and not b.get("deleted") and b["finishTime"] >= since),
                      key=lambda b: (b["finishTime"], b["id"]))
        return token_pages(done)(request)

    def newest(self, request: Request) -> Reply:
        queued = sorted((b for b in self.builds.values() if not b.get("deleted")), key=lambda b: (b["queueTime"], b["id"]), reverse=True)
        return token_pages(queued)(request)

    def open(self, request: Request) -> Reply:
        return token_pages([b for b in self.builds.values() if b["status"] != "completed"])(request)

    def server(self) -> Server:
        server = Server().get(BUILDS, self.listed(self.completed), COMPLETED)
        server.get(BUILDS, self.listed(self.newest), {"queryOrder": "queueTimeDescending"})
        server.get(BUILDS, self.listed(self.open), {"statusFilter": OPEN})
        for build_id in range(1, 60):
            server.get(f"{BUILDS}/{build_id}",
                       lambda request, i=build_id: Reply(self.builds[i]) if i in self.builds else gone("item", "build"))
            server.get(f"{BUILDS}/{build_id}/timeline",
                       lambda request, i=build_id: Reply(self.timelines[i]) if i in self.timelines else gone("item", "timeline"))
            server.get(f"{BUILDS}/{build_id}/changes", lambda request, i=build_id: token_pages(self.changes.get(i, []))(request)
                       if i in self.builds else gone("item", "build"))
        return server

    def keys(self, *build_ids: int) -> set[str]:
        keys = set()
        for i in build_ids:
            keys.add(f"{CID}:{i}")
            if self.builds[i]["status"] != "notStarted":
                keys |= {f"{CID}:{i}:{r['id']}" for r in self.timelines[i]["records"]}
            if self.builds[i]["status"] == "completed":
                keys |= {f"{CID}:{i}:{c['id']}" for c in self.changes.get(i, [])}
        return keys


def timeline_reads(run) -> list[int]:
    return sorted(int(r.path.split("/")[-2]) for r in run.requests if r.path.endswith("/timeline"))


def change_reads(run) -> list[int]:
    return sorted(int(r.path.split("/")[-2]) for r in run.requests if r.path.endswith("/changes") and "continuationToken" not in r.params)


def completed_queries(run) -> list[Request]:
    return [r for r in run.requests if r.path == BUILDS and r.params.get("statusFilter") == "completed"]


class TestBuildsStream:
    def test_first_run_sends_completed_and_open_builds_with_their_timelines(self) -> None:
        b = Builds()
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        assert set(run.keys()) == b.keys(1, 2, 3, 40)
        assert run.keys("build.build") == [f"{CID}:40", f"{CID}:1", f"{CID}:2", f"{CID}:3"]  # the open builds are listed first
        assert {r.op for r in run.records} == {"upsert"}
        assert run.record(f"{CID}:40", "build.build").data["status"] == "inProgress"
        assert timeline_reads(run) == [1, 2, 3, 40]
        (query,) = completed_queries(run)
        assert "minTime" not in query.params
        assert run.checkpoint is not None

    def test_first_run_starts_at_the_backfill_date(self) -> None:
        run = run_stream(BuildsStream(), Builds().server(), parent=PROJECT, backfill_start="2024-01-01T00:00:00Z")
        assert completed_queries(run)[0].params["minTime"] == "2024-01-01T00:00:00Z"

    def test_builds_read_again_in_the_overlap_are_not_resent_but_a_new_one_at_that_time_is(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        watermark = b.builds[3]["finishTime"]
        b.finish(41, watermark)  # finished at exactly the time of the last delivered build
        b.finish(42, "2024-02-01T00:00:00.0000000Z")
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert completed_queries(run)[0].params["minTime"] == "2024-01-05T15:52:56.2492890Z"  # the overlap: 5 minutes before
        assert set(run.keys()) == b.keys(41, 42)
        assert timeline_reads(run) == [41, 42]  # not 3, and not the unchanged running build 40
        b.finish(43, "2024-02-01T00:00:00.0000000Z")  # the next run: a new build at the new watermark
        again = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert set(again.keys()) == b.keys(43)

    def test_nothing_new_sends_nothing_and_reads_no_timeline(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.records == ()
        assert len(run.requests) == 2 and timeline_reads(run) == []

    def test_a_running_build_that_changed_is_sent_again_with_its_timeline(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        b.builds[40]["retainedByRelease"] = True
        b.timelines[40]["records"][2]["state"] = "completed"
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert set(run.keys()) == b.keys(40)
        assert run.record(f"{CID}:40:{b.timelines[40]['records'][2]['id']}").data["state"] == "completed"

    def test_a_running_build_that_finished_is_sent_once_as_completed(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        b.finish(40, "2024-07-28T08:20:00.0000000Z")
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.keys("build.build") == [f"{CID}:40"]
        assert run.record(f"{CID}:40", "build.build").data["status"] == "completed"
        again = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.records == ()

    def test_a_build_not_started_has_no_timeline_read(self) -> None:
        b = Builds()
        b.queue(44)
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        assert f"{CID}:44" in run.keys("build.build")
        assert 44 not in timeline_reads(run)

    def test_a_timeline_gone_leaves_the_build_without_timeline_records(self) -> None:
        b = Builds()
        del b.timelines[2]
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        assert set(run.keys()) == b.keys(1, 3, 40) | {f"{CID}:2"}

    def test_each_page_of_completed_builds_is_checkpointed(self) -> None:
        b = Builds()
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, page_sizes={"builds": 2})
        assert [r.params.get("continuationToken") for r in completed_queries(run)] == [None, "2"]
        assert len(run.checkpoints) == 3  # after each completed page, and at the end
        assert set(run.keys()) == b.keys(1, 2, 3, 40)

    def test_a_rerun_of_a_completed_build_is_sent_again_with_its_timeline_and_every_attempt(self) -> None:
        """build 5.0-7.1: a rerun keeps the build id; TimelineRecord ``attempt``, ``previousAttempts``."""
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        b.finish(3, "2024-03-01T10:00:00.0000000Z")  # build 3 (partiallySucceeded) re-run: finishes again, succeeded
        stage = b.timelines[3]["records"][0]
        stage.update(attempt=2, previousAttempts=[{"attempt": 1, "timelineId": "t1", "recordId": stage["id"]}])
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert set(run.keys()) == b.keys(3) and timeline_reads(run) == [3]
        assert run.record(f"{CID}:3", "build.build").data["result"] == "succeeded"
        record = run.record(f"{CID}:3:{stage['id']}").data
        assert record["attempt"] == 2 and record["previousAttempts"][0]["attempt"] == 1
        again = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.records == ()

    def test_a_rerun_seen_running_is_sent_running_then_completed(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        b.builds[2].update(status="inProgress", finishTime=None, result=None)  # re-run: in progress again
        running = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert running.record(f"{CID}:2", "build.build").data["status"] == "inProgress" and timeline_reads(running) == [2]
        b.finish(2, "2024-03-01T10:00:00.0000000Z")
        done = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=running.checkpoint)
        assert done.keys("build.build") == [f"{CID}:2"] and done.record(f"{CID}:2", "build.build").data["status"] == "completed"

    def test_a_build_visible_late_inside_the_overlap_is_sent_and_nothing_else_again(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        b.finish(45, "2024-01-05T15:55:00.0000000Z")  # before build 3's finish time, committed after it was read
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert set(run.keys()) == b.keys(45)  # build 3, read again in the overlap, unchanged: not resent

    def test_an_open_build_that_completed_before_the_overlap_is_read_on_its_own(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        b.finish(40, "2024-01-05T15:00:00.0000000Z")  # committed late, an hour before the latest finish time read
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert f"{BUILDS}/40" in run.paths()
        assert run.record(f"{CID}:40", "build.build").data["status"] == "completed"
        again = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.records == () and f"{BUILDS}/40" not in again.paths()

    # A late completion (build-onprem.json, Get Builds ``minTime``: filters on the finish time) meets a
    # sync whose two listings (open builds, completed builds) see the server at two moments.
    def test_a_late_build_running_at_the_first_listing_and_completed_at_the_second_is_sent_completed(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        b.late(44, queued="2024-08-01T10:00:00.0000000Z", finished="2024-08-01T10:30:00.0000000Z")
        b.finish(45, "2024-08-01T12:00:00.0000000Z")  # a later build reads completed first
        b.after_listing = [lambda: b.commit(44)]
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        sent = [r.data["status"] for r in run.records if r.key == f"{CID}:44" and r.type == "build.build"]
        assert sent == ["inProgress", "completed"]  # met at the open listing, then at the completed one
        assert set(run.keys()) >= b.keys(44, 45)
        again = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.records == ()

    def test_a_late_build_queued_after_the_open_listing_is_met_completed_by_the_next_sync(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)

        def meanwhile() -> None:  # after the open builds were listed: 44 queued and finished, 45 too, later
            b.late(44, queued="2024-08-01T10:00:00.0000000Z", finished="2024-08-01T10:30:00.0000000Z")
            b.finish(45, "2024-08-01T12:00:00.0000000Z")
            b.builds[45].update(queueTime="2024-08-01T11:00:00.0000000Z", startTime="2024-08-01T11:00:00.0000000Z")

        b.after_listing = [meanwhile, lambda: None, lambda: b.commit(44)]
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert set(run.keys()) == b.keys(45)  # 44 was in neither listing
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert set(run.keys()) == b.keys(44)  # finished before 45, but after the last open listing: not resent
        assert completed_queries(run)[0].params["minTime"] < "2024-08-01T10:00:00"

    def test_a_first_read_asks_for_the_newest_queue_time_before_it_lists_the_open_builds(self) -> None:
        b = Builds()

        def meanwhile() -> None:  # after the first read's first answer
            b.late(44, queued="2024-08-01T10:00:00.0000000Z", finished="2024-08-01T10:30:00.0000000Z")
            b.finish(45, "2024-08-01T12:00:00.0000000Z")

        b.after_listing = [lambda: None, meanwhile]
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        assert [r.params.get("queryOrder", r.params.get("statusFilter")) for r in first.requests if r.path == BUILDS] == [
            "queueTimeDescending", OPEN, "finishTimeAscending"]
        assert f"{CID}:44" not in first.keys() and f"{CID}:45" in first.keys()
        b.commit(44)
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.keys("build.build") == [f"{CID}:44"]
        assert "queueTimeDescending" not in [r.params.get("queryOrder") for r in run.requests]

    def test_a_project_without_builds_costs_the_two_listings_then_reads_its_first_builds_whole(self) -> None:
        b = Builds()
        b.builds.clear()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        quiet = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert first.records == quiet.records == () and len(quiet.requests) == 2

        def meanwhile() -> None:  # after the open builds were listed: the project's first builds
            b.late(44, queued="2024-08-01T10:00:00.0000000Z", finished="2024-08-01T10:30:00.0000000Z")
            b.finish(45, "2024-08-01T12:00:00.0000000Z")

        b.after_listing = [meanwhile, lambda: b.commit(44)]
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=quiet.checkpoint)
        assert run.keys("build.build") == [f"{CID}:45"]  # 44 committed late, after both listings
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert run.keys("build.build") == [f"{CID}:44"]

    @pytest.mark.parametrize("how", ["gone", "marked deleted"])
    def test_an_open_build_deleted_since_is_deleted(self, how: str) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        if how == "gone":
            del b.builds[40]
        else:
            b.builds[40].update(status="completed", deleted=True)
            b.builds[40].pop("finishTime", None)
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint)
        assert [(r.key, r.op) for r in run.records] == [(f"{CID}:40", "delete")]

    def test_a_builds_cursor_stored_before_the_overlap_reads_from_its_time_once(self) -> None:
        b = Builds()
        watermark = b.builds[3]["finishTime"]
        old = '{"at_finish":[3],"finish":"%s","open":{}}' % watermark  # as stored before the overlap window
        b.finish(41, "2024-02-01T00:00:00.0000000Z")
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=old)
        assert completed_queries(run)[0].params["minTime"] == watermark and run.keys("build.build") == [f"{CID}:40", f"{CID}:41"]
        again = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert completed_queries(again)[0].params["minTime"] < "2024-02-01T00:00:00" and again.records == ()

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_completed_list_fails_without_checkpoint(self, kind: str) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        reply, error = MALFORMED[kind]
        run = run_stream(BuildsStream(), b.server().get(BUILDS, reply, COMPLETED), parent=PROJECT, cursor=first.checkpoint,
                         expect=error)
        assert run.records == () and run.checkpoints == ()

    def test_each_completed_build_comes_with_its_changes_one_walk_per_build(self) -> None:
        b = Builds()
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        sha = b.changes[1][0]["id"]
        assert run.keys("build.change") == [f"{CID}:1:{sha}"]  # builds 2 and 3 built the same commit: no change
        assert run.record(f"{CID}:1:{sha}", "build.change").data["timestamp"] == b.changes[1][0]["timestamp"]
        assert change_reads(run) == [1, 2, 3]  # not the running build 40
        quiet = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert quiet.records == () and change_reads(quiet) == []

    def test_a_build_that_completes_is_read_with_its_changes_page_by_page(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        b.finish(40, "2024-07-28T08:20:00.0000000Z")
        tfvc = {**copy.deepcopy(b.changes[1][0]), "type": "TfsVersionControl"}
        b.changes[40] = [{**copy.deepcopy(b.changes[1][0]), "id": f"{n:040x}"} for n in range(3)] + [{**tfvc, "id": "312"}]
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=first.checkpoint, page_sizes={"default": 2})
        assert sorted(run.keys("build.change")) == sorted(f"{CID}:40:{c['id']}" for c in b.changes[40])
        assert [r.params.get("continuationToken") for r in run.requests if r.path.endswith("/changes")] == [None, "2"]
        again = run_stream(BuildsStream(), b.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.records == () and change_reads(again) == []

    def test_a_build_gone_before_its_changes_are_read_has_none(self) -> None:
        b = Builds()
        server = b.server().get(f"{BUILDS}/1/changes", gone("item", "build"))
        run = run_stream(BuildsStream(), server, parent=PROJECT)
        assert run.keys("build.change") == [] and f"{CID}:1" in run.keys("build.build")

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_changes_fail_without_checkpoint(self, kind: str) -> None:
        reply, error = MALFORMED[kind]
        run = run_stream(BuildsStream(), Builds().server().get(f"{BUILDS}/1/changes", reply), parent=PROJECT, expect=error)
        assert run.checkpoints == ()

    def test_change_without_its_id_is_quarantined_and_the_rest_flows(self) -> None:
        b = Builds()
        whole = run_stream(BuildsStream(), Builds().server(), parent=PROJECT)
        del b.changes[1][0]["id"]
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        assert [(q.record_type, q.item_id) for q in run.quarantined] == [("build.change", "?")]
        assert len(run.keys("build.change")) == len(whole.keys("build.change")) - 1
        assert run.keys("build.build") == whole.keys("build.build") and run.checkpoints

    def test_build_without_its_id_fails_without_checkpoint(self) -> None:
        b = Builds()
        del b.builds[1]["id"]
        run = run_stream(BuildsStream(), b.server(), parent=PROJECT, expect=AdoResponseError)
        assert run.checkpoints == ()

    def test_project_gone_raises_not_found(self) -> None:
        b = Builds()
        first = run_stream(BuildsStream(), b.server(), parent=PROJECT)
        run = run_stream(BuildsStream(), b.server().get(BUILDS, gone("project"), COMPLETED), parent=PROJECT,
                         cursor=first.checkpoint, expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()


# -- pipeline runs ---------------------------------------------------------------------------------


def runs_path(pipeline_id: int) -> str:
    return f"{PIPELINES}/{pipeline_id}/runs"


class Runs:
    """Runs per pipeline (recorded: pipeline 1 has 40 running, 38 and 33 done; pipeline 2 gets 39),
    and the build queries that tell which pipelines had activity (a run is a build)."""

    def __init__(self) -> None:
        recorded_runs = recorded("pipeline_runs")["value"]
        other = {**copy.deepcopy(recorded_runs[1]), "id": 39, "name": "20240728.1",
                 "createdDate": "2024-07-20T10:00:00.0000000Z", "finishedDate": "2024-07-20T10:20:00.0000000Z"}
        other["pipeline"] = {**other["pipeline"], "id": 2, "name": "proseware-mobile"}
        self.runs = {1: recorded_runs, 2: [other]}
        self.pipelines = recorded("pipelines")["value"]
        self.late_builds: list[dict] = []  # builds the activity queries show that are not runs of these pipelines' lists
        self.older: dict[int, list[dict]] = {}  # builds of a pipeline its runs list leaves out (beyond the cap)
        self.single: dict[int, dict] = {}  # runs beyond the list, by the single-run route
        self.after_queued: list = []  # changes made once the queued builds query was answered, one per query

    def start(self, pipeline_id: int, run_id: int, at: str) -> None:
        run = {**copy.deepcopy(self.runs[1][0]), "id": run_id, "name": f"run {run_id}", "state": "inProgress", "createdDate": at}
        run["pipeline"] = {**run["pipeline"], "id": pipeline_id}
        self.runs[pipeline_id].insert(0, run)

    def finish(self, run_id: int, at: str) -> None:
        for run in (r for runs in self.runs.values() for r in runs if r["id"] == run_id):
            run.update(state="completed", result="succeeded", finishedDate=at)

    def builds(self, request: Request) -> Reply:
        if "definitions" in request.params:  # the builds of one pipeline queued before the oldest run listed
            until = request.params.get("maxTime", "9")
            found = [b for b in self.older.get(int(request.params["definitions"]), []) if b["queueTime"] < until]
            return token_pages(found)(request)
        since = request.params.get("minTime", "")  # none: the newest build (a first read's ``$top=1``)
        field, run_field = ("queueTime", "createdDate") if request.params["queryOrder"] == "queueTimeDescending" else ("finishTime", "finishedDate")
        found = [{"id": r["id"], "definition": {"id": pid}, field: r.get(run_field)}
                 for pid, runs in self.runs.items() for r in runs] + self.late_builds
        found = sorted((b for b in found if b.get(field) and b[field] >= since), key=lambda b: b[field], reverse=True)
        if field == "queueTime" and since and self.after_queued:
            self.after_queued.pop(0)()  # the server moves on between the two activity queries
        return Reply({"count": len(found), "value": found})

    def server(self, version: str = "7.0") -> Server:
        server = Server(version).get(PIPELINES, token_pages(self.pipelines))
        for order in ("queueTimeDescending", "finishTimeDescending"):
            server.get(BUILDS, self.builds, {"queryOrder": order})
        for pipeline_id in range(1, 8):
            server.get(runs_path(pipeline_id), lambda request, p=pipeline_id: Reply({"count": len(self.runs.get(p, [])),
                                                                                     "value": self.runs.get(p, [])}))
        for run_id in range(1, 30):
            server.get(f"{runs_path(1)}/{run_id}",
                       lambda request, i=run_id: Reply(self.single[i]) if i in self.single else gone("item", "run"))
        return server


def run_reads(run) -> list[int]:
    return sorted(int(r.path.split("/")[-2]) for r in run.requests if r.path.endswith("/runs"))


def activity_queries(run) -> list[Request]:
    return [r for r in run.requests if r.path == BUILDS and "minTime" in r.params]


def older_queries(run) -> list[Request]:
    return [r for r in run.requests if r.path == BUILDS and "definitions" in r.params]


class TestPipelineRunsStream:
    def first(self, r: Runs):
        return run_stream(PipelineRunsStream(), r.server(), parent=PROJECT, listed={PipelinesStream: r.pipelines})

    def next(self, r: Runs, cursor: str | None):
        """A read from ``cursor`` (the checkpoint of the read before)."""
        return run_stream(PipelineRunsStream(), r.server(), parent=PROJECT, listed={PipelinesStream: r.pipelines}, cursor=cursor)

    def test_first_run_reads_the_runs_of_every_pipeline(self) -> None:
        r = Runs()
        run = self.first(r)
        assert sorted(run.keys()) == sorted(f"{CID}:{i}" for i in (40, 38, 33, 39))
        assert {(x.type, x.op) for x in run.records} == {("pipelines.run", "upsert")}
        assert run_reads(run) == [1, 2] and activity_queries(run) == []
        assert run.checkpoint is not None

    def test_without_listed_pipelines_it_lists_them_itself(self) -> None:
        r = Runs()
        run = run_stream(PipelineRunsStream(), r.server(), parent=PROJECT)
        assert run.paths()[0] == PIPELINES and run_reads(run) == [1, 2]

    def test_nothing_new_costs_two_build_queries_and_no_runs_read(self) -> None:
        r = Runs()
        first = self.first(r)
        run = self.next(r, first.checkpoint)
        assert run.records == ()
        assert run_reads(run) == []
        assert sorted(q.params["queryOrder"] for q in activity_queries(run)) == ["finishTimeDescending", "queueTimeDescending"]

    def test_activity_is_asked_from_the_latest_activity_seen_less_the_margin(self) -> None:
        r = Runs()
        first = self.first(r)
        run = self.next(r, first.checkpoint)
        latest = "2024-07-28T07:36:58.0316760Z"  # run 40 was queued last
        assert {q.params["minTime"] for q in activity_queries(run)} == {"2024-07-28T07:26:58.0316760Z"}  # 10 minutes before
        assert latest > max(x["finishedDate"] for runs in r.runs.values() for x in runs if x.get("finishedDate"))

    def test_a_new_run_reads_only_its_pipeline_and_sends_only_the_new_run(self) -> None:
        r = Runs()
        first = self.first(r)
        r.start(1, 41, "2024-07-29T09:00:00.0000000Z")
        run = self.next(r, first.checkpoint)
        assert run_reads(run) == [1]
        assert run.keys() == [f"{CID}:41"]  # 40 is still running unchanged; 38 and 33 were delivered

    def test_a_run_that_finished_is_sent_again(self) -> None:
        r = Runs()
        first = self.first(r)
        r.finish(40, "2024-07-28T08:10:00.0000000Z")
        run = self.next(r, first.checkpoint)
        assert run_reads(run) == [1]
        assert run.keys() == [f"{CID}:40"]
        assert run.record(f"{CID}:40").data["state"] == "completed"

    def test_a_build_that_shows_up_late_inside_the_margin_is_still_found(self) -> None:
        r = Runs()
        first = self.first(r)
        # committed late: queued 5 minutes before the latest activity already seen, unseen until now
        r.start(2, 45, "2024-07-28T07:31:58.0000000Z")
        run = self.next(r, first.checkpoint)
        assert run_reads(run) == [2]
        assert run.keys() == [f"{CID}:45"]

    def test_a_build_older_than_the_margin_does_not_make_its_pipeline_due(self) -> None:
        r = Runs()
        first = self.first(r)
        r.late_builds.append({"id": 46, "definition": {"id": 2}, "queueTime": "2024-07-28T07:20:00.0000000Z"})
        run = self.next(r, first.checkpoint)
        assert run_reads(run) == []  # the server was asked from 07:26:58; a build queued at 07:20 is not in the window

    def test_a_late_run_queued_after_the_queued_builds_query_is_found_by_the_next_read(self) -> None:
        """A run queued after the queued builds query and completed late (it reads as running when the
        finished builds query answers, later runs as finished) is in neither query: the next read asks
        from before it, not from the latest activity."""
        r = Runs()
        first = self.first(r)

        def meanwhile() -> None:
            r.start(2, 44, "2024-08-01T10:00:00.0000000Z")  # finishes at 10:30, committed late
            r.start(1, 45, "2024-08-01T11:00:00.0000000Z")
            r.finish(45, "2024-08-01T12:00:00.0000000Z")

        r.after_queued = [meanwhile]
        run = self.next(r, first.checkpoint)
        assert run_reads(run) == [1] and run.keys() == [f"{CID}:45"]
        r.finish(44, "2024-08-01T10:30:00.0000000Z")
        run = self.next(r, run.checkpoint)
        assert run_reads(run) == [2] and run.keys() == [f"{CID}:44"]
        assert run.record(f"{CID}:44").data["state"] == "completed"
        quiet = self.next(r, run.checkpoint)
        assert quiet.records == () and run_reads(quiet) == []

    def test_a_first_read_asks_for_the_newest_queue_time_before_any_runs_list(self) -> None:
        r = Runs()
        first = self.first(r)
        assert [q.params for q in first.requests if q.path == BUILDS][0] == {"queryOrder": "queueTimeDescending", "$top": "1"}
        assert first.requests[0].path == BUILDS and run_reads(first) == [1, 2]

    def test_pipelines_without_runs_ask_for_the_newest_queue_time_once(self) -> None:
        r = Runs()
        r.runs = {1: [], 2: []}
        first = self.first(r)
        later = self.next(r, first.checkpoint)
        assert [q.path for q in first.requests].count(BUILDS) == 1 and BUILDS not in [q.path for q in later.requests]
        assert run_reads(first) == run_reads(later) == [1, 2]  # no activity known yet: every pipeline's runs

    def test_a_late_run_with_an_id_below_the_highest_delivered_is_sent(self) -> None:
        r = Runs()
        first = self.first(r)
        r.start(2, 37, "2024-07-28T07:31:58.0000000Z")  # queued before run 39 was read, committed after
        run = self.next(r, first.checkpoint)
        assert run_reads(run) == [2]
        assert run.keys() == [f"{CID}:37"]

    def test_a_rerun_of_a_completed_run_is_sent_with_its_new_outcome(self) -> None:
        """A rerun keeps the run id: the run completes again (its build finishes again, a new event)."""
        r = Runs()
        first = self.first(r)
        r.finish(38, "2024-07-29T09:00:00.0000000Z")  # run 38 (done before the first read) re-run and done again
        run = self.next(r, first.checkpoint)
        assert run_reads(run) == [1] and run.keys() == [f"{CID}:38"]
        assert run.record(f"{CID}:38").data["finishedDate"] == "2024-07-29T09:00:00.0000000Z"
        again = self.next(r, run.checkpoint)
        assert again.records == () and run_reads(again) == []

    def test_a_rerun_inside_the_margin_of_its_first_finish_is_still_seen(self) -> None:
        r = Runs()
        first = self.first(r)
        r.finish(38, "2024-07-28T07:33:00.0000000Z")  # finished again 5 minutes after its first finish
        run = self.next(r, first.checkpoint)
        assert run.keys() == [f"{CID}:38"]

    def test_runs_the_list_leaves_out_come_from_the_builds_api_on_a_pipelines_first_read(self) -> None:
        """pipelines 6.0-7.1 Runs - List: "Gets top 10000 runs for a particular pipeline." (no paging)."""
        r = Runs()
        r.older[1] = [{"id": 20, "buildNumber": "20240601.1", "status": "completed", "result": "failed",
                       "queueTime": "2024-06-01T10:00:00.0000000Z", "finishTime": "2024-06-01T10:30:00.0000000Z"},
                      {"id": 33, "buildNumber": "20240710.1", "status": "completed", "result": "succeeded",
                       "queueTime": "2024-07-10T19:19:35.0261327Z", "finishTime": "2024-07-10T19:43:44.2730461Z"}]
        run = self.first(r)
        assert sorted(q.params["definitions"] for q in older_queries(run)) == ["1", "2"]  # one per pipeline
        (older,) = [q for q in older_queries(run) if q.params["definitions"] == "1"]
        assert older.params["maxTime"] == "2024-07-10T19:19:35.0261327Z"  # older than the oldest run listed
        assert sorted(run.keys()) == sorted(f"{CID}:{i}" for i in (40, 38, 33, 39, 20))  # 33 (listed) once
        assert run.record(f"{CID}:20").data == {
            "pipeline": {k: r.pipelines[0][k] for k in ("url", "id", "revision", "name", "folder")},
            "state": "completed", "result": "failed", "createdDate": "2024-06-01T10:00:00.0000000Z",
            "finishedDate": "2024-06-01T10:30:00.0000000Z",
            "url": f"https://tfs.example.test/tfs/DefaultCollection/{PROJECT_ID}/_apis/pipelines/1/runs/20",
            "id": 20, "name": "20240601.1"}
        again = self.next(r, run.checkpoint)
        assert again.records == () and older_queries(again) == []  # asked once per pipeline, not every sync

    def test_later_reads_do_not_page_older_runs_and_a_rerun_beyond_the_list_is_read_alone(self) -> None:
        r = Runs()
        first = self.first(r)
        r.start(1, 41, "2024-07-29T09:00:00.0000000Z")
        r.late_builds.append({"id": 12, "definition": {"id": 1}, "finishTime": "2024-07-29T09:05:00.0000000Z"})  # re-run
        r.single[12] = {**copy.deepcopy(r.runs[1][1]), "id": 12, "finishedDate": "2024-07-29T09:05:00.0000000Z"}
        run = self.next(r, first.checkpoint)
        assert older_queries(run) == [] and f"{runs_path(1)}/12" in run.paths()
        assert sorted(run.keys()) == [f"{CID}:12", f"{CID}:41"]

    def test_a_runs_cursor_with_the_older_untimed_activity_tags_still_parses_and_sends_nothing_again(self) -> None:
        r = Runs()
        old = ('{"activity":"2024-07-28T07:36:58.0316760Z","max":{"1":40,"2":39},'
               '"open":{"40":["1","%s"]},"seen":["f38","q38","q40"]}')
        first = self.first(r)
        digest = json.loads(first.checkpoint)["open"]["40"][1]
        run = run_stream(PipelineRunsStream(), r.server(), parent=PROJECT, listed={PipelinesStream: r.pipelines},
                         cursor=old % digest)
        assert run.records == () and run_reads(run) == []

    def test_a_new_pipeline_is_read_without_activity(self) -> None:
        r = Runs()
        first = self.first(r)
        r.pipelines.append({**r.pipelines[0], "id": 3, "name": "proseware-docs"})
        r.runs[3] = [{**copy.deepcopy(r.runs[2][0]), "id": 36}]
        run = self.next(r, first.checkpoint)
        assert run_reads(run) == [3]
        assert run.keys() == [f"{CID}:36"]

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_runs_answer_fails_without_checkpoint(self, kind: str) -> None:
        r = Runs()
        reply, error = MALFORMED[kind]
        run = run_stream(PipelineRunsStream(), r.server().get(runs_path(1), reply), parent=PROJECT,
                         listed={PipelinesStream: r.pipelines}, expect=error)
        assert run.checkpoints == ()

    def test_run_without_its_id_fails_without_checkpoint(self) -> None:
        r = Runs()
        del r.runs[2][0]["id"]
        run = run_stream(PipelineRunsStream(), r.server(), parent=PROJECT, listed={PipelinesStream: r.pipelines},
                         expect=AdoResponseError)
        assert run.checkpoints == ()

    @pytest.mark.parametrize("route", [PIPELINES, runs_path(1)])
    def test_project_or_pipeline_gone_raises_not_found(self, route: str) -> None:
        r = Runs()
        run = run_stream(PipelineRunsStream(), r.server().get(route, gone("project")), parent=PROJECT, expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()


class TestBuildChangeWalks:
    """``build_changes``: the walks run several at once but only ``CHANGES_AHEAD`` ahead of the build being
    sent (the answers of a page's worth of builds are not all held at once), and come in the builds' order."""

    class Client:
        def __init__(self) -> None:
            self.started: list[int] = []
            self._lock = threading.Lock()

        def pages(self, path: str, paginator, params=None):
            build_id = int(path.split("/")[-2])
            with self._lock:
                self.started.append(build_id)
            yield Page([{"id": f"change-of-{build_id}"}])

    def test_walks_start_at_most_changes_ahead_of_the_build_sent_and_come_in_order(self) -> None:
        client = self.Client()
        ctx = SimpleNamespace(client=client, page_sizes=SimpleNamespace(default=100))
        builds = [{"id": i} for i in range(1, 61)]
        walks = build_changes(ctx, PROJECT, builds)
        sent = []
        for changes in walks:
            wait_until(lambda: len(client.started) >= min(len(builds), len(sent) + 1 + CHANGES_AHEAD), 10, "the walks ahead", interval=0.001)
            assert len(client.started) <= len(sent) + 1 + CHANGES_AHEAD  # started: those sent, the one here, those ahead
            sent.append(changes)
        assert sent == [[{"id": f"change-of-{i}"}] for i in range(1, 61)]
        assert sorted(client.started) == list(range(1, 61))

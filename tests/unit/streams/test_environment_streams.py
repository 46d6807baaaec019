"""YAML environments and their deployment records as units against recorded answers (Server 2020+).

The records are read by the pipeline runs stream, whose build queries say when they may have changed."""

from __future__ import annotations

import copy

import pytest

from satellite.errors import AdoResponseError
from satellite.streams import EnvironmentsStream, PipelineRunsStream, PipelinesStream
from tests.unit.streams.harness import MALFORMED, Server, gone, recorded, run_stream, token_pages
from tests.unit.streams.parents import PROJECT, PROJECT_ID
from tests.unit.streams.snapshots import SnapshotCase, SnapshotContract, add_copy, changed
from tests.unit.streams.test_pipelines_streams import Runs, run_reads

ENVIRONMENTS = f"{PROJECT_ID}/_apis/distributedtask/environments"
P = PROJECT_ID


def records_path(environment_id: int) -> str:
    return f"{ENVIRONMENTS}/{environment_id}/environmentdeploymentrecords"


def serve_environments(case: SnapshotCase, server: Server, body) -> Server:
    return server.get(ENVIRONMENTS, token_pages(body["value"]) if isinstance(body, dict) and "value" in body else body)


class TestEnvironmentsStream(SnapshotContract):
    case = SnapshotCase(
        stream=EnvironmentsStream,
        record_type="distributedtask.environment",
        route=ENVIRONMENTS,
        serve=serve_environments,
        fixture="distributedtask_environments",
        parent=PROJECT,
        keys=(f"{P}:1", f"{P}:2", f"{P}:3"),
        add=lambda body: f"{P}:{add_copy(body, id=9, name='Staging')['id']}",
        change=lambda body: f"{P}:{changed(body['value'][1], description='QA')['id']}",
        remove=lambda body: f"{P}:{body['value'].pop(0)['id']}",
        drop_key=lambda body: body["value"][1].pop("id"),
        gone=gone("project"),
    )

    @pytest.mark.parametrize("version, sent", [("6.0", "6.0-preview"), ("7.0", "7.0"), ("7.1", "7.1")])
    def test_server_2020_is_asked_with_the_preview_version(self, version: str, sent: str) -> None:
        """distributedtask 6.0 Environments - List: api-version 6.0-preview.1; 7.0 and 7.1: released."""
        server = serve_environments(self.case, Server(version), recorded("distributedtask_environments"))
        run = run_stream(EnvironmentsStream(), server, parent=PROJECT)
        assert [r.api_version for r in run.requests] == [sent] and len(run.records) == 3


class Deployments(Runs):
    """The runs of the recorded pipelines (pipeline 1: run 40 running, 38 and 33 done; pipeline 2: 39) and
    three environments (Dev 1, Test 2, Production 3) with three records each, newest first, owned by those
    runs (recorded: Dev's newest, 19, of run 40, is open)."""

    def __init__(self, version: str = "7.0") -> None:
        super().__init__()
        self.version = version
        self.environments = recorded("distributedtask_environments")["value"]
        self.records = {int(e): body["value"] for e, body in recorded("distributedtask_deployment_records").items()}

    def deploy(self, environment_id: int, record_id: int, finished: bool = True) -> dict:
        made = {**copy.deepcopy(self.records[3][0]), "id": record_id, "environmentId": environment_id}
        if not finished:
            made.pop("finishTime"), made.pop("result")
        self.records[environment_id].insert(0, made)
        return made

    def finish_record(self, environment_id: int, record_id: int, result: str = "succeeded") -> None:
        (record,) = [r for r in self.records[environment_id] if r["id"] == record_id]
        record.update(finishTime="2024-07-28T08:00:00.0000000Z", result=result)

    def server(self, version: str | None = None) -> Server:
        server = super().server(version or self.version).get(ENVIRONMENTS, token_pages(self.environments))
        for environment_id in range(1, 10):
            server.get(records_path(environment_id), lambda request, i=environment_id: token_pages(self.records[i], top="top")(request)
                       if i in self.records else gone("item", f"environment {i}"))
        return server

    def run(self, cursor: str | None = None, **kwargs):
        listed = kwargs.pop("listed", {PipelinesStream: self.pipelines, EnvironmentsStream: self.environments})
        return run_stream(PipelineRunsStream(), kwargs.pop("server", None) or self.server(), parent=PROJECT,
                          cursor=cursor, listed=listed, **kwargs)


def record_reads(run) -> list[int]:
    return [int(r.path.split("/")[-2]) for r in run.requests if r.path.endswith("environmentdeploymentrecords")]


class TestEnvironmentDeployments:
    def test_first_run_sends_every_record_of_every_environment_with_the_runs(self) -> None:
        d = Deployments()
        run = d.run()
        records = run.of("distributedtask.environment_deployment")
        assert sorted(r.key for r in records) == sorted(f"{P}:{e}:{x['id']}" for e, xs in d.records.items() for x in xs)
        assert {r.op for r in records} == {"upsert"} and len(run.keys("pipelines.run")) == 4
        assert run.record(f"{P}:3:18").data["owner"]["id"] == 38 and run.record(f"{P}:3:18").data["result"] == "succeeded"
        assert record_reads(run) == [1, 2, 3]
        assert run.checkpoint is not None

    def test_nothing_new_reads_no_record(self) -> None:
        d = Deployments()
        d.finish_record(1, 19)  # nothing open
        first = d.run()
        run = d.run(first.checkpoint)
        assert run.records == ()
        assert record_reads(run) == [] and run_reads(run) == []  # the runs stream's two build queries, nothing else
        assert len(run.requests) == 2

    def test_an_open_record_is_read_again_until_it_finishes_and_sent_once_changed(self) -> None:
        d = Deployments()
        first = d.run()
        quiet = d.run(first.checkpoint)
        assert quiet.records == () and record_reads(quiet) == [1]  # Dev holds open record 19
        d.finish_record(1, 19, "failed")
        d.finish(40, "2024-07-28T08:00:01.0000000Z")
        run = d.run(quiet.checkpoint)
        assert run.keys("distributedtask.environment_deployment") == [f"{P}:1:19"]
        assert run.record(f"{P}:1:19").data["result"] == "failed"
        after = d.run(run.checkpoint)
        assert after.records == () and record_reads(after) == []

    def test_build_activity_reads_every_environment_from_its_newest_record_down_to_what_was_delivered(self) -> None:
        d = Deployments()
        d.finish_record(1, 19)
        first = d.run()
        d.start(1, 41, "2024-07-29T09:00:00.0000000Z")
        d.deploy(3, 21)
        d.deploy(2, 20)
        run = d.run(first.checkpoint)
        assert sorted(run.keys("distributedtask.environment_deployment")) == [f"{P}:2:20", f"{P}:3:21"]
        assert record_reads(run) == [1, 2, 3]  # one page each: each holds the highest id delivered
        again = d.run(run.checkpoint)
        assert again.records == () and record_reads(again) == []

    def test_a_record_committed_after_a_higher_one_was_read_is_sent_by_the_next_walk(self) -> None:
        """Runs 41 and 42 deploy to Production at once: record 23 (run 42) is given out before 24 (run 41)
        and committed after the walk that read 24."""
        d = Deployments()
        d.finish_record(1, 19)
        first = d.run()
        d.start(1, 41, "2024-07-29T09:00:00.0000000Z")
        d.deploy(3, 24)
        run = d.run(first.checkpoint)
        assert run.keys("distributedtask.environment_deployment") == [f"{P}:3:24"]
        d.deploy(3, 23)
        d.records[3].sort(key=lambda record: record["id"], reverse=True)
        d.start(2, 42, "2024-07-29T09:30:00.0000000Z")
        late = d.run(run.checkpoint)
        assert late.keys("distributedtask.environment_deployment") == [f"{P}:3:23"]  # 24, met again: not resent
        d.start(1, 43, "2024-07-29T10:00:00.0000000Z")
        d.deploy(3, 25)
        later = d.run(late.checkpoint)
        assert later.keys("distributedtask.environment_deployment") == [f"{P}:3:25"]

    def test_activity_of_designer_builds_reads_no_record(self) -> None:
        """Only YAML pipelines deploy to environments: a classic build queued or finished is no reason."""
        d = Deployments()
        d.finish_record(1, 19)
        first = d.run()
        d.late_builds.append({"id": 60, "definition": {"id": 99}, "queueTime": "2024-07-29T09:00:00.0000000Z",
                              "finishTime": "2024-07-29T09:05:00.0000000Z"})
        run = d.run(first.checkpoint)
        assert run.records == () and record_reads(run) == [] and run_reads(run) == []

    def test_a_record_queued_while_its_run_goes_on_is_sent_when_the_run_finishes(self) -> None:
        d = Deployments()
        d.finish_record(1, 19)
        first = d.run()
        d.deploy(3, 22, finished=False)  # run 40 deploys to Production: no queue or finish of any build
        quiet = d.run(first.checkpoint)
        assert quiet.records == () and record_reads(quiet) == []
        d.finish_record(3, 22)
        d.finish(40, "2024-07-28T08:10:01.0000000Z")
        run = d.run(quiet.checkpoint)
        assert run.keys("distributedtask.environment_deployment") == [f"{P}:3:22"]
        assert run.record(f"{P}:3:22").data["result"] == "succeeded"

    def test_the_walk_pages_newest_first_and_stops_at_the_page_holding_the_lowest_open_or_delivered_id(self) -> None:
        d = Deployments()
        first = d.run(page_sizes={"default": 2})
        assert [r.params.get("continuationToken") for r in first.requests if r.path == records_path(2)] == [None, "2"]
        for record_id in (23, 24, 25):
            d.deploy(2, record_id)
        d.start(1, 41, "2024-07-29T09:00:00.0000000Z")
        run = d.run(first.checkpoint, page_sizes={"default": 2})
        assert sorted(run.keys("distributedtask.environment_deployment")) == [f"{P}:2:23", f"{P}:2:24", f"{P}:2:25"]
        assert len([r for r in run.requests if r.path == records_path(2)]) == 2  # 25 24 | 23 17: 17 was delivered
        assert len([r for r in run.requests if r.path == records_path(1)]) == 1  # 19 (open) 16: down to 19 only

    def test_a_new_environment_is_read_whatever_the_builds(self) -> None:
        d = Deployments()
        d.finish_record(1, 19)
        first = d.run()
        d.environments.append({**copy.deepcopy(d.environments[0]), "id": 4, "name": "Staging"})
        d.records[4] = [{**copy.deepcopy(d.records[3][0]), "id": 26, "environmentId": 4}]
        run = d.run(first.checkpoint)
        assert run.keys() == [f"{P}:4:26"] and record_reads(run) == [4]

    def test_an_environment_deleted_before_its_records_are_read_is_left_out(self) -> None:
        d = Deployments()
        del d.records[2]  # still listed: deleted after the list
        run = d.run()
        assert {k.split(":")[1] for k in run.keys("distributedtask.environment_deployment")} == {"1", "3"}
        assert run.checkpoint is not None

    def test_without_the_environments_listed_in_this_run_no_record_is_read_and_the_marks_stay(self) -> None:
        d = Deployments()
        d.finish_record(1, 19)
        first = d.run()
        d.deploy(3, 21)
        d.start(1, 41, "2024-07-29T09:00:00.0000000Z")
        failed = d.run(first.checkpoint, listed={PipelinesStream: d.pipelines})  # the environments' unit failed
        assert failed.keys("distributedtask.environment_deployment") == [] and record_reads(failed) == []
        run = d.run(failed.checkpoint)  # no build activity since: the reads the failed run owed are made now
        assert run.keys("distributedtask.environment_deployment") == [f"{P}:3:21"] and record_reads(run) == [1, 2, 3]
        after = d.run(run.checkpoint)
        assert after.records == () and record_reads(after) == []

    @pytest.mark.parametrize("version, sent", [("6.0", "6.0-preview"), ("7.0", "7.0")])
    def test_server_2020_is_asked_with_the_preview_version(self, version: str, sent: str) -> None:
        run = Deployments(version).run()
        assert {r.api_version for r in run.requests if "distributedtask" in r.path} == {sent}

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_records_answer_fails_without_checkpoint(self, kind: str) -> None:
        d = Deployments()
        reply, error = MALFORMED[kind]
        run = d.run(server=d.server().get(records_path(1), reply), expect=error)
        assert run.keys("distributedtask.environment_deployment") == [] and run.checkpoints == ()

    def test_record_without_its_id_fails_without_checkpoint(self) -> None:
        d = Deployments()
        del d.records[1][1]["id"]
        run = d.run(expect=AdoResponseError)
        assert run.checkpoints == ()

    def test_a_cursor_stored_before_the_environments_reads_them_all_once(self) -> None:
        d = Deployments()
        d.finish_record(1, 19)
        first = d.run(listed={PipelinesStream: d.pipelines})  # as an older satellite stored it: no environments
        run = d.run(first.checkpoint)
        assert len(run.keys("distributedtask.environment_deployment")) == 9 and run.keys("pipelines.run") == []

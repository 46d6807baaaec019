"""YAML environments and their deployment records as units against recorded answers (Server 2020+)."""

from __future__ import annotations

import copy

import pytest

from satellite.errors import AdoNotFoundError, AdoResponseError
from satellite.streams import EnvironmentDeploymentsStream, EnvironmentsStream
from tests.unit.streams.harness import MALFORMED, Reply, Request, Server, gone, recorded, run_stream, token_pages
from tests.unit.streams.parents import PROJECT, PROJECT_ID
from tests.unit.streams.snapshots import SnapshotCase, SnapshotContract, add_copy, changed

ENVIRONMENTS = f"{PROJECT_ID}/_apis/distributedtask/environments"
BUILDS = f"{PROJECT_ID}/_apis/build/builds"
FINISHED = {"queryOrder": "finishTimeDescending"}
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


class Deployments:
    """Three environments (Dev 1, Test 2, Production 3), three records each, newest first (recorded:
    Dev's newest, 19, is open: its run, build 40, still runs), and the project's finished builds."""

    def __init__(self, version: str = "7.0") -> None:
        self.version = version
        self.environments = recorded("distributedtask_environments")["value"]
        self.records = {int(e): body["value"] for e, body in recorded("distributedtask_deployment_records").items()}
        self.builds = recorded("build_builds_completed")["value"]

    def deploy(self, environment_id: int, record_id: int, finished: bool = True) -> dict:
        made = {**copy.deepcopy(self.records[3][0]), "id": record_id, "environmentId": environment_id}
        if not finished:
            made.pop("finishTime"), made.pop("result")
        self.records[environment_id].insert(0, made)
        return made

    def finish_build(self, build_id: int, at: str) -> None:
        self.builds.append({**copy.deepcopy(self.builds[-1]), "id": build_id, "finishTime": at})

    def finished(self, request: Request) -> Reply:
        since = request.params.get("minTime", "")
        done = sorted((b for b in self.builds if b["finishTime"] >= since), key=lambda b: b["finishTime"], reverse=True)
        return token_pages(done)(request)

    def server(self) -> Server:
        server = Server(self.version).get(ENVIRONMENTS, token_pages(self.environments)).get(BUILDS, self.finished, FINISHED)
        for environment_id in range(1, 10):
            server.get(records_path(environment_id), lambda request, i=environment_id: token_pages(self.records[i], top="top")(request)
                       if i in self.records else gone("item", f"environment {i}"))
        return server

    def run(self, cursor: str | None = None, **kwargs):
        listed = {EnvironmentsStream: [e for e in self.environments if e["id"] in self.records]}
        return run_stream(EnvironmentDeploymentsStream(), kwargs.pop("server", None) or self.server(), parent=PROJECT,
                          cursor=cursor, listed=listed, **kwargs)


def record_reads(run) -> list[int]:
    return [int(r.path.split("/")[-2]) for r in run.requests if r.path.endswith("environmentdeploymentrecords")]


class TestEnvironmentDeploymentsStream:
    def test_first_run_sends_every_record_of_every_environment(self) -> None:
        d = Deployments()
        run = d.run()
        assert sorted(run.keys()) == sorted(f"{P}:{e}:{r['id']}" for e, records in d.records.items() for r in records)
        assert {(r.type, r.op) for r in run.records} == {("distributedtask.environment_deployment", "upsert")}
        assert run.record(f"{P}:3:18").data["owner"]["id"] == 38 and run.record(f"{P}:3:18").data["result"] == "succeeded"
        assert record_reads(run) == [1, 2, 3]
        (activity,) = run.asked(BUILDS)
        assert "minTime" not in activity.params  # the first read asks for the latest finishes only: one page
        assert run.checkpoint is not None

    def test_without_listed_environments_it_lists_them_itself(self) -> None:
        d = Deployments()
        run = run_stream(EnvironmentDeploymentsStream(), d.server(), parent=PROJECT)
        assert run.asked(ENVIRONMENTS) and len(run.records) == 9

    def test_nothing_new_costs_one_request_per_project(self) -> None:
        d = Deployments()
        d.records[1][0].update(finishTime="2024-07-28T07:58:40.0000000Z", result="succeeded")  # nothing open
        first = d.run()
        run = d.run(first.checkpoint)
        assert run.records == ()
        assert [r.path for r in run.requests] == [BUILDS]  # no environment read: nothing open, no run finished
        assert run.requests[0].params["minTime"] < d.builds[-1]["finishTime"]  # from the latest finish less the margin

    def test_an_open_record_is_read_again_until_it_finishes_and_sent_once_changed(self) -> None:
        d = Deployments()
        first = d.run()
        quiet = d.run(first.checkpoint)
        assert quiet.records == () and record_reads(quiet) == [1]  # Dev holds open record 19
        d.records[1][0].update(finishTime="2024-07-28T07:58:40.0000000Z", result="failed")
        d.finish_build(40, "2024-07-28T07:58:41.0000000Z")
        run = d.run(quiet.checkpoint)
        assert run.keys() == [f"{P}:1:19"] and run.record(f"{P}:1:19").data["result"] == "failed"
        after = d.run(run.checkpoint)
        assert after.records == () and record_reads(after) == []

    def test_a_finished_run_reads_every_environment_from_its_newest_record_down_to_what_was_delivered(self) -> None:
        d = Deployments()
        first = d.run()
        d.deploy(3, 21)
        d.deploy(2, 20)
        d.finish_build(41, "2024-07-28T09:00:00.0000000Z")
        run = d.run(first.checkpoint)
        assert sorted(run.keys()) == [f"{P}:2:20", f"{P}:3:21"]
        assert record_reads(run) == [1, 2, 3]  # one page each: each holds the highest id delivered
        again = d.run(run.checkpoint)
        assert again.records == () and record_reads(again) == [1]  # Dev's record 19 is still open

    def test_a_record_queued_while_its_run_goes_on_is_sent_when_a_run_finishes(self) -> None:
        d = Deployments()
        first = d.run()
        d.deploy(3, 22, finished=False)  # queued by build 40, which still runs: no finish yet
        quiet = d.run(first.checkpoint)
        assert quiet.records == ()
        d.records[3][0].update(finishTime="2024-07-28T08:10:00.0000000Z", result="succeeded")
        d.finish_build(40, "2024-07-28T08:10:01.0000000Z")
        run = d.run(quiet.checkpoint)
        assert f"{P}:3:22" in run.keys() and run.record(f"{P}:3:22").data["result"] == "succeeded"

    def test_the_walk_pages_newest_first_and_stops_at_the_page_holding_the_lowest_open_or_delivered_id(self) -> None:
        d = Deployments()
        first = d.run(page_sizes={"default": 2})
        assert [r.params.get("continuationToken") for r in first.requests if r.path == records_path(2)] == [None, "2"]
        for record_id in (23, 24, 25):
            d.deploy(2, record_id)
        d.finish_build(41, "2024-07-28T09:00:00.0000000Z")
        run = d.run(first.checkpoint, page_sizes={"default": 2})
        assert sorted(run.keys()) == [f"{P}:2:23", f"{P}:2:24", f"{P}:2:25"]
        assert [r.params.get("top") for r in run.requests if r.path == records_path(2)] == ["2", "2"]  # 25 24 | 23 17: done

    def test_a_build_finished_inside_the_margin_and_seen_before_does_not_read_again(self) -> None:
        d = Deployments()
        d.records[1][0].update(finishTime="2024-07-28T07:58:40.0000000Z", result="succeeded")
        first = d.run()
        d.finish_build(41, "2024-01-05T15:55:00.0000000Z")  # shows up late, inside the margin of the latest finish
        run = d.run(first.checkpoint)
        assert run.records == () and record_reads(run) == [1, 2, 3]
        again = d.run(run.checkpoint)
        assert record_reads(again) == []

    def test_a_new_environment_is_read_whatever_the_builds(self) -> None:
        d = Deployments()
        d.records[1][0].update(finishTime="2024-07-28T07:58:40.0000000Z", result="succeeded")
        first = d.run()
        d.environments.append({**copy.deepcopy(d.environments[0]), "id": 4, "name": "Staging"})
        d.records[4] = [{**copy.deepcopy(d.records[3][0]), "id": 26, "environmentId": 4}]
        run = d.run(first.checkpoint)
        assert run.keys() == [f"{P}:4:26"] and record_reads(run) == [4]

    def test_an_environment_deleted_before_its_records_are_read_is_left_out(self) -> None:
        d = Deployments()
        del d.records[2]
        d.environments = [e for e in d.environments]  # still listed: deleted after the list
        run = run_stream(EnvironmentDeploymentsStream(), d.server(), parent=PROJECT,
                         listed={EnvironmentsStream: d.environments})
        assert {k.split(":")[1] for k in run.keys()} == {"1", "3"} and run.checkpoint is not None

    @pytest.mark.parametrize("version, sent", [("6.0", "6.0-preview"), ("7.0", "7.0")])
    def test_server_2020_is_asked_with_the_preview_version(self, version: str, sent: str) -> None:
        run = Deployments(version).run()
        assert {r.api_version for r in run.requests if "distributedtask" in r.path} == {sent}

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_records_answer_fails_without_checkpoint(self, kind: str) -> None:
        d = Deployments()
        reply, error = MALFORMED[kind]
        run = d.run(server=d.server().get(records_path(1), reply), expect=error)
        assert run.records == () and run.checkpoints == ()

    def test_record_without_its_id_fails_without_checkpoint(self) -> None:
        d = Deployments()
        del d.records[1][1]["id"]
        run = d.run(expect=AdoResponseError)
        assert run.checkpoints == ()

    def test_project_gone_raises_not_found(self) -> None:
        d = Deployments()
        first = d.run()
        run = d.run(first.checkpoint, server=d.server().get(BUILDS, gone("project"), FINISHED), expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()

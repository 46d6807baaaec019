"""Classic release streams as units against recorded answers: definitions, releases and deployments."""

from __future__ import annotations

import copy

import pytest

from satellite.errors import AdoNotFoundError, AdoResponseError
from satellite.streams import ReleaseDefinitionsStream, ReleasesStream
from tests.unit.streams.harness import MALFORMED, Reply, Request, Server, gone, recorded, run_stream, token_pages
from tests.unit.streams.parents import CID, PROJECT, PROJECT_ID
from tests.unit.streams.snapshots import SnapshotCase, SnapshotContract, add_copy, changed

RELEASE = f"{PROJECT_ID}/_apis/release"
DEFINITIONS = f"{RELEASE}/definitions"
DEPLOYMENTS = f"{RELEASE}/deployments"
RELEASES = f"{RELEASE}/releases"
DEPLOYMENT_PARAMS = {"queryOrder": "ascending", "latestAttemptsOnly": "false"}


def serve_token_pages(case: SnapshotCase, server: Server, body) -> Server:
    return server.get(DEFINITIONS, token_pages(body["value"]) if isinstance(body, dict) and "value" in body else body, case.params)


class TestReleaseDefinitionsStream(SnapshotContract):
    case = SnapshotCase(
        stream=ReleaseDefinitionsStream,
        record_type="release.definition",
        route=DEFINITIONS,
        params={"$expand": "environments,artifacts", "queryOrder": "idAscending"},
        serve=serve_token_pages,
        fixture="release_definitions",
        parent=PROJECT,
        keys=(f"{CID}:2", f"{CID}:3"),
        add=lambda body: f"{CID}:{add_copy(body, id=5, name='proseware-docs CD')['id']}",
        change=lambda body: f"{CID}:{changed(body['value'][1], revision=3)['id']}",
        remove=lambda body: f"{CID}:{body['value'].pop(0)['id']}",
        drop_key=lambda body: body["value"][1].pop("id"),
        gone=gone("project"),
    )


class Releases:
    """Deployments (recorded: 1 of release 1, 2 and 3 of release 2) and releases (1, 2); both list
    queries are inclusive of their min time and ascending, as the server does."""

    def __init__(self) -> None:
        self.deployments = recorded("release_deployments")["value"]
        self.releases = {int(i): r for i, r in recorded("release_release_details").items()}

    def deploy(self, deployment_id: int, release_id: int, at: str) -> None:
        made = {**copy.deepcopy(self.deployments[-1]), "id": deployment_id, "lastModifiedOn": at, "completedOn": at}
        made["release"] = {**made["release"], "id": release_id, "name": f"Release-{release_id}"}
        self.deployments.append(made)

    def create(self, release_id: int, at: str) -> None:
        self.releases[release_id] = {**copy.deepcopy(self.releases[2]), "id": release_id, "name": f"Release-{release_id}",
                                     "createdOn": at}

    def listed_deployments(self, request: Request) -> Reply:
        since, started = request.params.get("minModifiedTime", ""), request.params.get("minStartedTime", "")
        found = sorted((d for d in self.deployments if d["lastModifiedOn"] >= since and d.get("startedOn", "") >= started),
                       key=lambda d: (d["lastModifiedOn"], d["id"]))
        return token_pages(found)(request)

    def listed_releases(self, request: Request) -> Reply:
        since = request.params.get("minCreatedTime", "")
        found = sorted((r for r in self.releases.values() if r["createdOn"] >= since), key=lambda r: (r["createdOn"], r["id"]))
        return token_pages([{k: v for k, v in r.items() if k != "environments"} for r in found])(request)

    def swept_releases(self, request: Request) -> Reply:
        """Every release, newest first (the walk for edits no time filter shows)."""
        found = sorted(self.releases.values(), key=lambda r: r["id"], reverse=True)
        return token_pages([{k: v for k, v in r.items() if k != "environments"} for r in found])(request)

    def server(self) -> Server:
        server = Server().get(DEPLOYMENTS, self.listed_deployments, DEPLOYMENT_PARAMS)
        server.get(RELEASES, self.listed_releases, {"queryOrder": "ascending"})
        server.get(RELEASES, self.swept_releases, {"queryOrder": "descending"})
        for release_id in range(1, 10):
            server.get(f"{RELEASES}/{release_id}",
                       lambda request, i=release_id: Reply(self.releases[i]) if i in self.releases else gone("item", "release"))
        return server


def detail_reads(run) -> list[int]:
    return sorted(int(r.path.rsplit("/", 1)[-1]) for r in run.requests if r.path.startswith(f"{RELEASES}/"))


def query(run, path: str) -> Request:
    (found,) = [r for r in run.requests if r.path == path and r.params.get("queryOrder") != "descending"]
    return found


def sweeps(run) -> list[Request]:
    return [r for r in run.requests if r.path == RELEASES and r.params.get("queryOrder") == "descending"]


class TestReleasesStream:
    def test_first_run_sends_every_deployment_and_every_release_in_full(self) -> None:
        rel = Releases()
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        assert run.keys("release.deployment") == [f"{CID}:1", f"{CID}:2", f"{CID}:3"]
        assert run.keys("release.release") == [f"{CID}:1", f"{CID}:2"]
        assert run.record(f"{CID}:2", "release.release").data["environments"]  # the full release, not the list entry
        assert {r.op for r in run.records} == {"upsert"}
        assert detail_reads(run) == [1, 2]
        assert "minModifiedTime" not in query(run, DEPLOYMENTS).params and "minCreatedTime" not in query(run, RELEASES).params
        assert run.checkpoint is not None

    def test_first_run_starts_at_the_backfill_date(self) -> None:
        run = run_stream(ReleasesStream(), Releases().server(), parent=PROJECT, backfill_start="2024-01-01T00:00:00Z")
        assert query(run, DEPLOYMENTS).params["minModifiedTime"] == "2024-01-01T00:00:00Z"
        assert query(run, RELEASES).params["minCreatedTime"] == "2024-01-01T00:00:00Z"

    def test_deployments_read_again_in_the_overlap_are_not_resent_but_a_new_one_at_that_time_is(self) -> None:
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        modified = rel.deployments[-1]["lastModifiedOn"]
        rel.deploy(4, 1, modified)  # modified at exactly the time of the last delivered deployment (3, of release 2)
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=first.checkpoint)
        assert query(run, DEPLOYMENTS).params["minModifiedTime"] < modified  # the overlap: deployment 3 comes back
        assert run.keys("release.deployment") == [f"{CID}:4"]
        assert run.keys("release.release") == [f"{CID}:1"] and detail_reads(run) == [1]  # not 2: deployment 3 is old news
        rel.deploy(5, 1, modified)  # the next run: one more at the same time
        again = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.keys("release.deployment") == [f"{CID}:5"]

    def test_releases_read_again_in_the_overlap_are_not_reread_but_a_new_one_at_that_time_is(self) -> None:
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        created = rel.releases[2]["createdOn"]
        rel.create(3, created)  # created at exactly the time of the last delivered release
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=first.checkpoint)
        assert query(run, RELEASES).params["minCreatedTime"] < created  # the overlap: release 2 comes back
        assert run.keys() == [f"{CID}:3"]
        assert detail_reads(run) == [3]
        rel.create(4, created)
        again = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.keys() == [f"{CID}:4"] and detail_reads(again) == [4]

    def test_nothing_new_sends_nothing_and_reads_no_release(self) -> None:
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.records == ()
        assert len(run.requests) == 3 and detail_reads(run) == [] and len(sweeps(run)) == 1  # + one page of the walk
        again = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.records == ()

    def test_a_redeployment_sends_the_deployment_and_rereads_its_release(self) -> None:
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        rel.deployments[0]["lastModifiedOn"] = "2024-02-01T00:00:00.0000000Z"
        rel.deployments[0]["deploymentStatus"] = "failed"
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.keys("release.deployment") == [f"{CID}:1"]
        assert run.keys("release.release") == [f"{CID}:1"]

    def test_a_release_deleted_since_is_dropped_and_its_deployment_still_sent(self) -> None:
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        rel.deploy(4, 1, "2024-02-01T00:00:00.0000000Z")
        del rel.releases[1]
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.keys("release.deployment") == [f"{CID}:4"]
        assert run.keys("release.release") == []
        assert detail_reads(run) == [1]

    def test_a_deployment_visible_late_inside_the_overlap_is_sent_and_nothing_else_again(self) -> None:
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        rel.deploy(4, 1, "2024-01-07T14:19:00.0000000Z")  # before deployment 3's time, committed after it was read
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.keys("release.deployment") == [f"{CID}:4"] and detail_reads(run) == [1]

    def test_a_deployment_running_when_read_is_found_when_it_completes_before_the_overlap(self) -> None:
        rel = Releases()
        rel.deployments[2].update(deploymentStatus="inProgress", operationStatus="Pending")
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        rel.deploy(5, 2, "2024-01-08T12:00:00.0000000Z")  # a later deployment moves the mark on
        second = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=first.checkpoint)
        assert not [r for r in second.requests if "minStartedTime" in r.params]  # 3 was met in the overlap
        # deployment 3 completes, stamped before the overlap of the mark (its change committed late)
        rel.deployments[2].update(deploymentStatus="succeeded", operationStatus="Approved")
        third = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=second.checkpoint)
        started = [r for r in third.requests if r.path == DEPLOYMENTS and "minStartedTime" in r.params]
        assert [r.params["minStartedTime"] for r in started] == [rel.deployments[2]["startedOn"]]
        assert third.keys("release.deployment") == [f"{CID}:3"]
        assert third.record(f"{CID}:3", "release.deployment").data["deploymentStatus"] == "succeeded"
        quiet = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=third.checkpoint)
        assert quiet.records == () and not [r for r in quiet.requests if "minStartedTime" in r.params]

    def test_a_release_abandoned_or_edited_without_a_deployment_is_read_again_by_the_walk(self) -> None:
        """release 5.0-7.1: Releases - List filters on creation only (minCreatedTime); Update Release
        Resource abandons or edits a release: its ``modifiedOn`` moves, no deployment changes."""
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        quiet = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=first.checkpoint)
        assert quiet.records == () and len(sweeps(quiet)) == 1
        rel.releases[1].update(status="abandoned", modifiedOn="2024-01-07T15:00:00.0000000Z")
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=quiet.checkpoint)
        assert run.keys() == [f"{CID}:1"] and run.record(f"{CID}:1").data["status"] == "abandoned"
        again = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.records == () and detail_reads(again) == []

    def test_the_walk_reads_one_page_per_sync_and_starts_again_at_the_end(self) -> None:
        rel = Releases()
        for release_id in range(3, 6):
            rel.create(release_id, f"2024-01-0{release_id + 4}T10:00:00.0000000Z")
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, page_sizes={"releases": 2})
        tokens = []
        cursor = first.checkpoint
        for _ in range(4):
            run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=cursor, page_sizes={"releases": 2})
            assert run.records == ()
            (page,) = sweeps(run)
            tokens.append(page.params.get("continuationToken"))
            cursor = run.checkpoint
        assert tokens == [None, "2", "4", None]  # 5 releases, pages of 2: three syncs, then again from the newest

    def test_a_releases_cursor_stored_before_the_overlap_and_the_walk_still_parses(self) -> None:
        rel = Releases()
        old = ('{"at_created":[2],"at_modified":[3],"created":"%s","modified":"%s"}'
               % (rel.releases[2]["createdOn"], rel.deployments[2]["lastModifiedOn"]))
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=old)
        assert run.records == () and sweeps(run) == []  # the walk starts with the next sync
        assert query(run, RELEASES).params["minCreatedTime"] == rel.releases[2]["createdOn"]  # from its time, this once
        again = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.records == () and len(sweeps(again)) == 1

    def test_a_release_keeps_its_build_link_and_every_deploy_step_with_its_times_and_approvals(self) -> None:
        """What lead time and stage status join (docs/metrics.md): the primary artifact's build
        (``definitionReference.version``), each environment's deploy steps (attempt, status, queued and
        last modified times, phases and jobs with their start and finish) and its approvals' times."""
        rel = Releases()
        rel.releases[2] = recorded("release_release_approved")  # Dev, QA, and Prod behind a manual approval
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        release = run.record(f"{CID}:2", "release.release").data
        assert release == recorded("release_release_approved")  # the release as read, nothing trimmed
        (artifact,) = release["artifacts"]
        assert artifact["isPrimary"] and artifact["type"] == "Build" and artifact["definitionReference"]["version"]["id"] == "3"
        prod = next(e for e in release["environments"] if e["name"] == "Prod")
        (step,) = prod["deploySteps"]
        assert step["attempt"] == 1 and step["status"] == "succeeded" and step["queuedOn"] and step["lastModifiedOn"]
        job = step["releaseDeployPhases"][0]["deploymentJobs"][0]["job"]
        assert job["startTime"] < job["finishTime"]
        (approval,) = prod["preDeployApprovals"]
        assert not approval["isAutomated"] and approval["createdOn"] < approval["modifiedOn"]

    @pytest.mark.parametrize("route", [DEPLOYMENTS, RELEASES])
    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_list_fails_without_checkpoint(self, kind: str, route: str) -> None:
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        reply, error = MALFORMED[kind]
        params = DEPLOYMENT_PARAMS if route == DEPLOYMENTS else {"queryOrder": "ascending"}
        run = run_stream(ReleasesStream(), rel.server().get(route, reply, params), parent=PROJECT, cursor=first.checkpoint,
                         expect=error)
        assert run.checkpoints == () and run.deletes == []

    def test_deployment_without_its_release_fails_without_checkpoint(self) -> None:
        rel = Releases()
        del rel.deployments[1]["release"]
        run = run_stream(ReleasesStream(), rel.server(), parent=PROJECT, expect=AdoResponseError)
        assert run.checkpoints == ()

    def test_project_gone_raises_not_found(self) -> None:
        rel = Releases()
        first = run_stream(ReleasesStream(), rel.server(), parent=PROJECT)
        run = run_stream(ReleasesStream(), rel.server().get(DEPLOYMENTS, gone("project"), DEPLOYMENT_PARAMS), parent=PROJECT,
                         cursor=first.checkpoint, expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()

"""Issue 14's links in the simulator, over real HTTP: pull request commits, build changes (and changes
between builds), YAML environments and their deployment records (2020+), each consistent with the
rest of the world and with the truth, and growing with ``advance``."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.world.generate import MAIN
from standins.ado_simulator.world.git.pr_model import ACTIVE
from standins.ado_simulator.world.pipelines.builds import COMPLETED, builds_of
from standins.ado_simulator.world.pipelines.environments import environments_of
from standins.ado_simulator.wire.wire import parse_date
from standins.ado_simulator.world.world import World, generate_world

pytestmark = pytest.mark.integration

PAT = "sim-pat"
SUPPRESS = {"X-TFS-FedAuthRedirect": "Suppress"}
TOKEN = "x-ms-continuationtoken"
VERSIONS = {"2019": "5.0", "2020": "6.0-preview.1", "2022": "7.0", "7.1": "7.1"}


@contextmanager
def running(world: World, profile: str = "2022") -> Iterator[httpx.Client]:
    with serve_in_thread(create_app(world, profile)) as server:
        with httpx.Client(base_url=server.url + "/tfs/DefaultCollection", auth=("", PAT), headers=SUPPRESS,
                          timeout=30) as client:
            yield client


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(7, "small")


def _get(client: httpx.Client, path: str, profile: str, **query) -> httpx.Response:
    return client.get(path, params={**query, "api-version": VERSIONS[profile]})


def _walk(client: httpx.Client, path: str, profile: str, size: str, top: int, **query) -> list[dict]:
    """Every page of a header-token listing."""
    items: list[dict] = []
    token = None
    for _ in range(10_000):
        extra = {size: top} | ({"continuationToken": token} if token else {})
        answer = _get(client, path, profile, **query, **extra)
        assert answer.status_code == 200, answer.text
        page = answer.json()["value"]
        assert len(page) <= top
        items += page
        token = answer.headers.get(TOKEN)
        if not token:
            return items
    raise AssertionError("runaway paging")


# -- YAML environments and deployment records ----------------------------------------------------------


def _records_path(world: World, environment_id: int) -> str:
    environment = environments_of(world).environment(environment_id)
    return f"{world.projects[environment.project].id}/_apis/distributedtask/environments/{environment_id}/environmentdeploymentrecords"


def _busiest(world: World) -> int:
    domain = environments_of(world)
    with world.lock:
        return max(domain.environments, key=lambda e: len(domain.records_of(e.id))).id


def test_environments_are_missing_on_2019_preview_on_2020_released_later(world):
    project = world.projects[0].id
    path = f"{project}/_apis/distributedtask/environments"
    with running(world, "2019") as client:
        for version in ("5.0", "5.0-preview.1"):
            answer = client.get(path, params={"api-version": version})
            assert answer.status_code == 404 and "Page not found" in answer.text
        assert client.get(_records_path(world, 1), params={"api-version": "5.0-preview.1"}).status_code == 404
    with running(world, "2020") as client:
        refused = client.get(path, params={"api-version": "6.0"})
        assert refused.status_code == 400 and "VssInvalidPreviewVersionException" in refused.text
        assert client.get(_records_path(world, 1), params={"api-version": "6.0"}).status_code == 400
        assert client.get(path, params={"api-version": "6.0-preview.1"}).status_code == 200
    for profile in ("2022", "7.1"):
        with running(world, profile) as client:
            answer = _get(client, path, profile)
            assert answer.status_code == 200
            assert [e["name"] for e in answer.json()["value"]] == ["Dev", "Test", "Production"]
            assert all(e["project"]["id"] == project for e in answer.json()["value"])


def test_environment_lookups_and_paging(world):
    project = world.projects[1]
    with running(world, "2022") as client:
        every = _walk(client, f"{project.name}/_apis/distributedtask/environments", "2022", "$top", 1)
        assert [e["name"] for e in every] == ["Dev", "Test", "Production"]
        named = _get(client, f"{project.id}/_apis/distributedtask/environments", "2022", name="prod*").json()["value"]
        assert [e["name"] for e in named] == ["Production"]
        one = _get(client, f"{project.id}/_apis/distributedtask/environments/{every[0]['id']}", "2022")
        assert one.json() == every[0]
        elsewhere = environments_of(world).of_project(0)[0].id  # another project's environment
        missing = _get(client, f"{project.id}/_apis/distributedtask/environments/{elsewhere}", "2022")
        assert missing.status_code == 404 and "EnvironmentNotFoundException" in missing.text


@pytest.mark.parametrize("profile", ["2020", "2022", "7.1"])
def test_deployment_records_page_newest_first_and_equal_the_model(world, profile):
    environment_id = _busiest(world)
    path = _records_path(world, environment_id)
    with world.lock:
        model = environments_of(world).records_of(environment_id)
    assert len(model) > 30
    with running(world, profile) as client:
        default = _get(client, path, profile)
        assert len(default.json()["value"]) == 25 and default.headers.get(TOKEN)
        paged = _walk(client, path, profile, "top", 7)
        whole = _walk(client, path, profile, "top", 1000)
    ids = [r["id"] for r in paged]
    assert ids == [r["id"] for r in whole] == [r.id for r in model]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert {r["environmentId"] for r in paged} == {environment_id}


def test_deployment_records_match_their_builds_timelines(world):
    builds = builds_of(world)
    domain = environments_of(world)
    with world.lock:
        environment_id = _busiest(world)
        records = domain.records_of(environment_id)[:40]
    by_build: dict[int, list[dict]] = {}
    with running(world, "2022") as client:
        for record in _walk(client, _records_path(world, environment_id), "2022", "top", 50)[:40]:
            by_build.setdefault(record["owner"]["id"], []).append(record)
        assert sum(map(len, by_build.values())) == len(records)
        for build_id, found in by_build.items():
            build = builds.build(build_id)
            project = world.projects[builds.definitions[build.definition - 1].project].id
            body = client.get(f"{project}/_apis/build/builds/{build_id}", params={"api-version": "7.0"}).json()
            timeline = client.get(f"{project}/_apis/build/builds/{build_id}/timeline", params={"api-version": "7.0"}).json()
            stages = {r["name"]: r for r in timeline["records"] if r["type"] == "Stage"}
            for record in found:
                assert record["owner"]["name"] == body["buildNumber"]
                assert record["definition"] == record["definition"] | {"id": body["definition"]["id"],
                                                                        "name": body["definition"]["name"]}
                assert record["planType"] == "Build" and record["planId"] == body["orchestrationPlan"]["planId"]
                assert body["sourceBranch"] == MAIN
                stage = stages[record["stageName"]]
                assert record["stageName"] == f"Deploy_{domain.environment(environment_id).name}"
                assert record["stageAttempt"] <= stage["attempt"]
                if "finishTime" not in record or "finishTime" not in stage:
                    continue
                assert parse_date(stage["startTime"]) <= parse_date(record["queueTime"])
                assert parse_date(record["queueTime"]) <= parse_date(record["startTime"]) <= parse_date(record["finishTime"])
                assert parse_date(record["finishTime"]) <= parse_date(stage["finishTime"])
                if record["stageAttempt"] == stage["attempt"]:
                    job = next(r for r in timeline["records"] if r["type"] == "Job" and r["name"] == record["jobName"])
                    assert record["result"] == job["result"] == stage["result"]
                    assert record["jobAttempt"] == job["attempt"]


def test_deployments_include_failures_retries_and_skipped_stages(world):
    builds = builds_of(world)
    with world.lock:
        records = environments_of(world).records
        runs = [b for b in builds.builds if builds.deploys(b) and b.status == COMPLETED]
    results = {(r.stage, r.result) for r in records}
    assert ("Deploy_Production", "failed") in results and ("Deploy_Production", "succeeded") in results
    assert any(r.attempt > 1 for r in records)
    assert any(r.result in ("canceled", "succeededWithIssues") for r in records)
    skipped = 0
    for build in runs:
        deployed = {r.stage for r in records if r.build_id == build.id}
        if len(deployed) < 3:
            stages = [t for t in builds.timeline(build, world.clock) if t.type == "Stage"]
            assert all(t.result == "skipped" for t in stages if t.name.startswith("Deploy_") and t.name not in deployed)
            skipped += 1
    assert skipped
    # a failed production deployment is followed by a succeeded one of a later run of the same pipeline
    failed = [r for r in records if r.stage == "Deploy_Production" and r.result == "failed"]
    assert any(any(s.definition_id == f.definition_id and s.result == "succeeded" and s.finished > f.finished
                   for s in records if s.stage == "Deploy_Production") for f in failed)


def test_deployment_records_follow_the_clock_and_the_truth():
    world = generate_world(7, "tiny")
    eager = generate_world(7, "tiny")
    environments_of(eager).records  # the index built now, kept up by advance
    for _ in range(3):
        assert world.advance(8) == eager.advance(8)  # the counts never depend on when the index was built
    lazy = [(r.id, r.build_id, r.stage, r.attempt) for r in environments_of(world).records]
    assert lazy == [(r.id, r.build_id, r.stage, r.attempt) for r in environments_of(eager).records]
    truth = world.truth("6.0")
    assert len(truth["distributedtask.environment"]) == 3 * len(world.projects)
    assert len(truth["distributedtask.environment_deployment"]) == len(lazy)
    assert "distributedtask.environment" not in world.truth("5.0")
    before = len(lazy)
    counts = world.advance(12)
    assert len(environments_of(world).records) == before + counts.get("environment_deployments", 0)
    clock = world.clock
    for record in environments_of(world).records:
        started, finished, result = record.seen(clock)
        assert record.queued <= clock
        assert (finished is None) == (record.finished > clock) and (result is None) == (finished is None)


# -- build changes ---------------------------------------------------------------------------------


def test_build_changes_are_the_commits_since_the_previous_build(world):
    builds = builds_of(world)
    with world.lock:
        chosen = [b for b in builds.builds if b.status == COMPLETED and not b.deleted][::40]
    with running(world, "2019") as client:
        for build in chosen:
            definition = builds.definitions[build.definition - 1]
            repo = world.repositories[definition.repository]
            project = world.projects[definition.project].id
            changes = _walk(client, f"{project}/_apis/build/builds/{build.id}/changes", "2019", "$top", 3)
            with world.reading(repo.id) as history:
                previous = builds.previous(build)
                if previous is not None and history.commit(previous.commit) is not None:
                    expected = [history.commits[p].commit_id for p in history.log(build.commit, previous.commit)]
                else:
                    expected = list(reversed(history.pushes[history.commit(build.commit).push_id - 1].commit_ids))
                for change in changes:
                    commit = history.commit(change["id"])
                    assert commit is not None  # a commit of the build's repository
                    assert change["type"] == "TfsGit" and change["timestamp"] == commit.commit_date
                    assert change["location"].endswith(f"/_apis/git/repositories/{repo.id}/commits/{commit.commit_id}")
            assert [c["id"] for c in changes] == expected
    truth = world.truth("5.0")["build.change"]
    completed = {f"{world.collection.id}:{b.id}" for b in builds.builds if b.status == COMPLETED and not b.deleted}
    assert truth and all(key.rsplit(":", 1)[0] in completed for key in truth)


def test_include_source_change_and_changes_between_builds(world):
    builds = builds_of(world)
    with world.lock:
        rerun = next(b for b in builds.builds if b.status == COMPLETED and not builds.changes(b))
        later = next(b for b in reversed(builds.builds) if builds.previous(b) and len(builds.changes(b)) >= 3)
        first = builds.previous(later)
    project = world.projects[builds.definitions[rerun.definition - 1].project].id
    with running(world, "2022") as client:
        empty = _get(client, f"{project}/_apis/build/builds/{rerun.id}/changes", "2022")
        assert empty.json()["value"] == []
        source = _get(client, f"{project}/_apis/build/builds/{rerun.id}/changes", "2022", includeSourceChange="true")
        assert [c["id"] for c in source.json()["value"]] == [rerun.commit]
        project = world.projects[builds.definitions[later.definition - 1].project].id
        own = _walk(client, f"{project}/_apis/build/builds/{later.id}/changes", "2022", "$top", 2)
        between = _get(client, f"{project}/_apis/build/changes", "2022", fromBuildId=first.id, toBuildId=later.id)
        assert between.json()["value"] == own
        cut = _get(client, f"{project}/_apis/build/changes", "2022", fromBuildId=first.id, toBuildId=later.id, **{"$top": 2})
        assert cut.json()["value"] == own[:2] and TOKEN not in cut.headers
    with running(world, "2020") as client:
        plain = client.get(f"{project}/_apis/build/changes", params={"api-version": "6.0", "fromBuildId": first.id,
                                                                     "toBuildId": later.id})
        assert plain.status_code == 400 and "VssInvalidPreviewVersionException" in plain.text


# -- pull request commits --------------------------------------------------------------------------


def test_pull_request_commits_are_on_the_source_branch_and_in_the_truth(world):
    domain = world.domain("pull_requests")
    truth = set(world.truth("5.0")["git.pull_request_commit"])
    with world.lock:
        prs = domain.of_repositories([r.id for r in world.repositories])[::7]
    seen = 0
    with running(world, "2022") as client:
        for pr in prs:
            repo = world.repository(pr.repository_id)
            path = f"{repo.project_id}/_apis/git/repositories/{repo.id}/pullRequests/{pr.id}/commits"
            commits = _walk(client, path, "2022", "$top", 2)
            with world.reading(repo.id) as history:
                source = history.head(pr.source) if pr.status == ACTIVE else pr.source_commit
                reachable = {history.commits[p].commit_id for p in history.log(source)}
                if pr.status == "completed":  # the merge commit is on the target, where main's builds carry it
                    assert pr.merge_commit in {history.commits[p].commit_id for p in history.log(history.head(MAIN))}
            for commit in commits:
                assert commit["commitId"] in reachable
                assert f"{repo.id}:{pr.id}:{commit['commitId']}" in truth
                assert commit["author"]["date"] and commit["committer"]["date"]
            assert len([k for k in truth if k.startswith(f"{repo.id}:{pr.id}:")]) == len(commits)
            iterations = _get(client, path.replace("/commits", "/iterations"), "2022", includeCommits="true").json()
            if pr.status != ACTIVE:
                brought = {c["commitId"] for i in iterations["value"] for c in i.get("commits", [])}
                assert {c["commitId"] for c in commits} <= brought  # the iterations brought them all
            seen += len(commits)
    assert seen


# -- classic releases ------------------------------------------------------------------------------


def test_releases_carry_their_build_and_each_deploy_steps_approvals(world):
    from standins.ado_simulator.world.pipelines.releases import releases_of

    domain = releases_of(world)
    builds = builds_of(world)
    with world.lock:
        chosen = [r for r in domain.releases if not r.deleted][::3]
    assert any(name in ("Prod", "Production") for d in domain.definitions for name in d.environments)
    approvals = 0
    with running(world, "2022") as client:
        for release in chosen:
            definition = domain.definitions[release.definition - 1]
            project = world.projects[definition.project].id
            body = client.get(f"{project}/_apis/release/releases/{release.id}", params={"api-version": "7.0"}).json()
            build = builds.build(release.build)
            (artifact,) = [a for a in body["artifacts"] if a["isPrimary"]]
            assert artifact["type"] == "Build"
            reference = artifact["definitionReference"]
            assert reference["version"] == {"id": str(build.id), "name": build.number}
            assert reference["definition"]["id"] == str(build.definition) and reference["branch"]["id"] == build.branch
            for environment in body["environments"]:
                steps = environment["deploySteps"]
                pre = environment["preDeployApprovals"]
                assert [a["attempt"] for a in pre] == [s["attempt"] for s in steps]
                for step, approval in zip(steps, pre):
                    assert parse_date(approval["createdOn"]) <= parse_date(approval["modifiedOn"])
                    assert approval["createdOn"][:19] == step["queuedOn"][:19]
                    assert approval["status"] == ("approved" if step["hasStarted"] else "pending")
                    if not approval["isAutomated"]:
                        assert approval["approver"]["id"] and ("approvedBy" in approval) == step["hasStarted"]
                    for phase in step["releaseDeployPhases"]:
                        for job in phase["deploymentJobs"]:
                            if job["job"].get("finishTime"):
                                assert parse_date(step["queuedOn"]) <= parse_date(job["job"]["startTime"])
                                assert parse_date(job["job"]["startTime"]) <= parse_date(job["job"]["finishTime"])
                finished = [s for s in steps if s["status"] in ("succeeded", "partiallySucceeded", "failed")]
                assert [a["attempt"] for a in environment["postDeployApprovals"]] == [s["attempt"] for s in finished]
                approvals += len(pre)
    assert approvals


def test_between_is_git_log_of_two_heads(world):
    """``RepoHistory.between`` (the walk behind changes and PR commits) answers what the full sweep does."""
    import random

    rng = random.Random(5)
    with world.lock:
        for repo in world.repositories:
            with world.reading(repo.id) as history:
                ids = [c.commit_id for c in history.commits]
                for _ in range(50):
                    head, exclude = rng.choice(ids), rng.choice(ids + [None])
                    assert history.between(head, exclude) == list(history.log(head, exclude))

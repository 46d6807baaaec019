"""The simulator's build, Pipelines and classic release routes over real HTTP: every list pages each
item exactly once and equals the truth, builds are real pushes of their repositories, timelines
and releases are consistent with their builds, profiles differ where the specs do, and advancing
the world moves builds and deployments along the way the truth says."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.world.pipelines.builds import builds_of
from standins.ado_simulator.world.pipelines.releases import releases_of
from standins.ado_simulator.wire.wire import parse_date
from standins.ado_simulator.world.world import World, generate_world

pytestmark = pytest.mark.integration

PAT = "sim-pat"
SUPPRESS = {"X-TFS-FedAuthRedirect": "Suppress"}
V = {"api-version": "7.0"}
TOKEN = "x-ms-continuationtoken"


@contextmanager
def running(world: World, profile: str = "2022", pats=None, pat: str = PAT) -> Iterator[tuple[str, httpx.Client]]:
    with serve_in_thread(create_app(world, profile, pats)) as server:
        base = server.url + "/tfs/DefaultCollection"
        with httpx.Client(base_url=base, auth=("", pat), headers=SUPPRESS, timeout=30) as client:
            yield server.url, client


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[World, str, httpx.Client]]:
    world = generate_world(7, "small")
    with running(world) as (url, client):
        yield world, url, client


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json; charset=utf-8")
    return response.json()


def walk_tokens(client: httpx.Client, path: str, params: dict, version: dict = V) -> list[dict]:
    items, token, seen = [], None, set()
    while True:
        response = client.get(path, params={**version, **params, **({"continuationToken": token} if token else {})})
        body = ok(response)
        assert body["count"] == len(body["value"])
        items += body["value"]
        token = response.headers.get(TOKEN)
        if not token:
            return items
        assert token not in seen, "a continuation token came twice"
        seen.add(token)


def keys(world: World, items: list[dict]) -> list[str]:
    return sorted(f"{world.collection.id}:{item['id']}" for item in items)


def all_builds(world: World, client: httpx.Client, params: dict) -> list[dict]:
    return [b for p in world.projects for b in walk_tokens(client, f"/{p.id}/_apis/build/builds", params)]


# -- build -----------------------------------------------------------------------------------


def test_definitions_and_builds_page_once_each_and_equal_the_truth(small):
    world, _, client = small
    truth = world.truth()
    definitions = [d for p in world.projects for d in walk_tokens(client, f"/{p.name}/_apis/build/definitions", {"$top": 2})]
    assert keys(world, definitions) == truth["build.definition"]
    default = all_builds(world, client, {"$top": 50})
    assert keys(world, default) == truth["build.build"] and len(default) == len(truth["build.build"])
    for order in ("queueTime", "startTime", "finishTime"):
        for direction in ("Ascending", "Descending"):
            walked = all_builds(world, client, {"queryOrder": order + direction, "$top": 37})
            ids = [b["id"] for b in walked]
            assert len(ids) == len(set(ids)), f"{order}{direction}: a build came twice"
            project_times: dict[str, list[str]] = {}
            for b in walked:
                project_times.setdefault(b["project"]["id"], []).append(b[order])
            for times in project_times.values():
                assert times == sorted(times, reverse=direction == "Descending")
            reached = {"queueTime": {"notStarted", "inProgress", "completed"}, "startTime": {"inProgress", "completed"},
                       "finishTime": {"completed"}}[order]
            assert sorted(ids) == sorted(b["id"] for b in default if b["status"] in reached)
    deleted = all_builds(world, client, {"deletedFilter": "onlyDeleted"})
    assert deleted and all(b["deleted"] for b in deleted)
    everything = all_builds(world, client, {"deletedFilter": "includeDeleted", "$top": 100})
    assert len(everything) == len(default) + len(deleted) == len(builds_of(world).builds)
    statuses = {b["status"] for b in default}
    assert statuses == {"completed", "inProgress", "notStarted"}
    assert {b["result"] for b in default if b["status"] == "completed"} == {"succeeded", "partiallySucceeded", "failed", "canceled"}


def test_builds_are_real_pushes_with_consistent_times(small):
    world, _, client = small
    domain = builds_of(world)
    project = world.projects[0]
    builds = walk_tokens(client, f"/{project.id}/_apis/build/builds", {"$top": 100})
    for build in builds:
        definition = domain.definitions[build["definition"]["id"] - 1]
        repo = world.repositories[definition.repository]
        assert build["repository"]["id"] == repo.id
        with world.reading(repo.id) as history:
            commit = history.commit(build["sourceVersion"])
            assert commit is not None and build["sourceBranch"] in history.refs
            assert commit.commit_time <= parse_date(build["queueTime"])
        times = [parse_date(build[k]) for k in ("queueTime", "startTime", "finishTime") if k in build]
        assert times == sorted(times) and build["lastChangedDate"] >= build["queueTime"]
    completed = next(b for b in builds if b.get("result") == "failed" and b["reason"] in ("individualCI", "batchedCI"))
    changes = walk_tokens(client, f"/{project.id}/_apis/build/builds/{completed['id']}/changes", {"$top": 2})
    assert changes and changes[0]["id"] == completed["sourceVersion"]
    one = ok(client.get(f"/{project.id}/_apis/build/builds/{completed['id']}", params=V))
    assert one["id"] == completed["id"] and one["_links"]["timeline"]["href"].endswith("/Timeline")
    window = (builds[len(builds) // 2]["queueTime"], builds[len(builds) // 4]["queueTime"])
    dated = walk_tokens(client, f"/{project.id}/_apis/build/builds",
                        {"queryOrder": "queueTimeAscending", "minTime": window[0], "maxTime": window[1]})
    assert dated and all(window[0][:19] <= b["queueTime"] < window[1] for b in dated)
    mains = walk_tokens(client, f"/{project.id}/_apis/build/builds", {"branchName": "refs/heads/main", "resultFilter": "failed"})
    assert mains and all(b["sourceBranch"] == "refs/heads/main" and b["result"] == "failed" for b in mains)
    missing = client.get(f"/{project.id}/_apis/build/builds/999999", params=V)
    assert missing.status_code == 404 and missing.json()["typeKey"] == "BuildNotFoundException"


def test_timelines_equal_the_truth_and_nest_inside_their_build():
    world = generate_world(7, "tiny")
    truth = world.truth()
    records: list[str] = []
    with running(world) as (_, client):
        builds = all_builds(world, client, {})
        for build in builds:
            path = f"/{build['project']['id']}/_apis/build/builds/{build['id']}/timeline"
            response = client.get(path, params=V)
            if build["status"] == "notStarted":
                assert response.status_code == 404
                continue
            timeline = ok(response)
            assert set(timeline) == {"records", "lastChangedBy", "lastChangedOn", "id", "changeId", "url"}
            assert timeline["id"] == build["orchestrationPlan"]["planId"]
            by_id = {r["id"]: r for r in timeline["records"]}
            for record in timeline["records"]:
                parent = by_id.get(record.get("parentId"))
                expected = {"Stage": None, "Phase": "Stage", "Job": "Phase", "Task": "Job"}[record["type"]]
                assert (parent["type"] if parent else None) == expected
                assert "identifier" in record or record["type"] == "Task"
                if "startTime" in record:
                    assert build["startTime"] <= record["startTime"]
                if "finishTime" in record and "finishTime" in build:
                    assert record["finishTime"] <= build["finishTime"]
                if build["status"] == "completed":
                    assert record["state"] == "completed"
            records += [f"{world.collection.id}:{build['id']}:{r}" for r in by_id]
        assert sorted(records) == truth["build.timeline_record"]
        assert any(b["status"] == "inProgress" for b in builds)
    with running(world, "2019") as (_, old):
        build = next(b for b in builds if b["status"] == "completed")
        timeline = ok(old.get(f"/{build['project']['id']}/_apis/build/builds/{build['id']}/timeline", params={"api-version": "5.0"}))
        assert all("identifier" not in r and "queueId" not in r for r in timeline["records"])
        assert "keepForever" in ok(old.get(f"/{build['project']['id']}/_apis/build/builds/{build['id']}", params={"api-version": "5.0"}))


# -- pipelines -------------------------------------------------------------------------------


def test_pipelines_and_runs_equal_the_truth_per_profile():
    world = generate_world(7, "tiny")
    truth = world.truth("7.0")
    with running(world) as (_, client):
        pipelines = [p for proj in world.projects for p in walk_tokens(client, f"/{proj.id}/_apis/pipelines", {"$top": 1})]
        assert keys(world, pipelines) == truth["pipelines.pipeline"]
        runs = []
        for pipeline in pipelines:
            project = world.projects[builds_of(world).definitions[pipeline["id"] - 1].project]
            listed = ok(client.get(f"/{project.id}/_apis/pipelines/{pipeline['id']}/runs", params=V))["value"]
            assert [r["id"] for r in listed] == sorted((r["id"] for r in listed), reverse=True)
            builds = {b["id"]: b for b in walk_tokens(client, f"/{project.id}/_apis/build/builds", {"definitions": pipeline["id"]})}
            for run in listed:
                build = builds[run["id"]]
                assert run["name"] == build["buildNumber"]
                assert run["state"] == {"completed": "completed"}.get(build["status"], "inProgress")
                assert ("result" in run) == (build["status"] == "completed")
            runs += listed
        assert keys(world, runs) == truth["pipelines.run"]
        one = ok(client.get(f"/{project.id}/_apis/pipelines/{pipeline['id']}/runs/{runs[-1]['id']}", params=V))
        assert one["resources"]["repositories"]["self"]["version"]
    path = f"/{world.projects[0].id}/_apis/pipelines"
    with running(world, "2019") as (_, old):
        missing = old.get(path, params={"api-version": "5.0"})
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        assert "pipelines.run" not in world.truth("5.0")
    with running(world, "2020") as (_, mid):
        plain = mid.get(path, params={"api-version": "6.0"})
        assert plain.status_code == 400 and plain.json()["typeKey"] == "VssInvalidPreviewVersionException"
        assert ok(mid.get(path, params={"api-version": "6.0-preview.1"}))["count"] >= 1
        options = {loc["id"]: loc for loc in ok(mid.request("OPTIONS", "/_apis"))["value"]}
        assert options["28e1305e-2afe-47bf-abaf-cbb0e6a91988"]["releasedVersion"] == "0.0"


# -- release ---------------------------------------------------------------------------------


def test_releases_and_deployments_page_once_each_and_equal_the_truth(small):
    world, _, client = small
    truth = world.truth()
    domain = releases_of(world)
    definitions, releases, oldest_first, deployments = [], [], [], []
    for project in world.projects:
        base = f"/{project.id}/_apis/release"
        definitions += walk_tokens(client, f"{base}/definitions", {"$top": 1, "$expand": "environments,artifacts"})
        releases += walk_tokens(client, f"{base}/releases", {"$top": 3})
        oldest_first += walk_tokens(client, f"{base}/releases", {"$top": 4, "queryOrder": "ascending"})
        deployments += walk_tokens(client, f"{base}/deployments", {"$top": 5})
    assert keys(world, definitions) == truth["release.definition"]
    assert keys(world, releases) == truth["release.release"] == keys(world, oldest_first)
    assert keys(world, deployments) == truth["release.deployment"]
    builds = builds_of(world)
    for definition in definitions:
        artifact = definition["artifacts"][0]["definitionReference"]["definition"]
        assert builds.definitions[int(artifact["id"]) - 1].name == artifact["name"]
        assert [e["rank"] for e in definition["environments"]] == list(range(1, len(definition["environments"]) + 1))
    richest = max(domain.releases, key=lambda r: (not r.deleted, len(domain.by_release[r.id])))
    project = world.projects[domain.definitions[richest.definition - 1].project]
    release = ok(client.get(f"/{project.id}/_apis/release/releases/{richest.id}", params=V))
    version = release["artifacts"][0]["definitionReference"]["version"]
    build = builds.builds[int(version["id"]) - 1]
    assert version["name"] == build.number and build.status == "completed"
    assert parse_date(release["createdOn"]) >= build.finished
    steps = [s for env in release["environments"] for s in env["deploySteps"]]
    assert sorted(s["deploymentId"] for s in steps) == sorted(domain.by_release[richest.id])
    for step in steps:
        for phase in step["releaseDeployPhases"]:
            job = phase["deploymentJobs"][0]
            assert job["job"]["startTime"] <= job["tasks"][0]["startTime"]
            assert all(t["status"] in ("succeeded", "failed", "partiallySucceeded", "skipped", "inProgress", "pending")
                       for t in job["tasks"])
    latest = walk_tokens(client, f"/{project.id}/_apis/release/deployments", {"latestAttemptsOnly": "true"})
    assert len({(d["release"]["id"], d["releaseEnvironment"]["id"]) for d in latest}) == len(latest)


# -- advance -----------------------------------------------------------------------------------


def test_advance_moves_builds_and_deployments_along():
    world = generate_world(7, "small")
    c = world.collection.id
    with running(world) as (url, client):
        before = {b["id"]: b for b in all_builds(world, client, {"deletedFilter": "includeDeleted"})}
        waiting = [b for b in before.values() if b["status"] != "completed"]
        old_deployments = {d["id"]: d for p in world.projects
                           for d in walk_tokens(client, f"/{p.id}/_apis/release/deployments", {"$top": 100})}
        counts = httpx.post(url + "/_sim/advance", json={"steps": 3}).json()
        assert counts["builds"] > 0 and counts["builds_completed"] >= len(waiting)
        after = {b["id"]: b for b in all_builds(world, client, {"deletedFilter": "includeDeleted"})}
        for build in waiting:
            now = after[build["id"]]
            assert now["status"] == "completed" and "result" in now and now["lastChangedDate"] > build["lastChangedDate"]
        new = [b for i, b in after.items() if i not in before]
        assert sorted(b["id"] for b in new) == list(range(len(before) + 1, len(before) + 1 + counts["builds"]))
        for build in new:
            definition = builds_of(world).definitions[build["definition"]["id"] - 1]
            with world.reading(world.repositories[definition.repository].id) as history:
                assert history.commit(build["sourceVersion"]) is not None
        assert keys(world, [b for b in after.values() if not b.get("deleted")]) == world.truth()["build.build"]
        finished_since = walk_tokens(client, f"/{world.projects[0].id}/_apis/build/builds",
                                     {"queryOrder": "finishTimeAscending", "minTime": min(b["queueTime"] for b in waiting)})
        assert {b["id"] for b in waiting if b["project"]["id"] == world.projects[0].id} <= {b["id"] for b in finished_since}
        httpx.post(url + "/_sim/advance", json={"steps": 30})
        deployments = {d["id"]: d for p in world.projects
                       for d in walk_tokens(client, f"/{p.id}/_apis/release/deployments", {"$top": 100})}
        assert sorted(f"{c}:{i}" for i in deployments) == world.truth()["release.deployment"]
        assert len(deployments) > len(old_deployments)
        moved = [i for i, d in old_deployments.items() if d["deploymentStatus"] in ("inProgress", "notDeployed")]
        assert moved
        assert all(deployments[i]["deploymentStatus"] not in ("inProgress", "notDeployed") for i in moved)
        assert all(deployments[i]["lastModifiedOn"] > old_deployments[i]["lastModifiedOn"] for i in moved)
        deleted = [b for p in world.projects for b in walk_tokens(client, f"/{p.id}/_apis/build/builds", {"deletedFilter": "onlyDeleted"})]
        assert len(deleted) == sum(1 for b in builds_of(world).builds if b.deleted)
        releases = [r for p in world.projects for r in walk_tokens(client, f"/{p.id}/_apis/release/releases", {"$top": 100})]
        assert keys(world, releases) == world.truth()["release.release"]


def test_scopes():
    world = generate_world(7, "tiny")
    pats = {"code": frozenset({"vso.code"}), "build": frozenset({"vso.build"}), "release": frozenset({"vso.release"})}
    project = world.projects[0].id
    with running(world, pats=pats, pat="build") as (_, client):
        assert client.get(f"/{project}/_apis/build/builds", params=V).status_code == 200
        assert client.get(f"/{project}/_apis/pipelines", params=V).status_code == 200
        assert client.get(f"/{project}/_apis/release/releases", params=V).status_code == 403
        assert client.get(f"/{project}/_apis/release/releases", params=V, auth=("", "release")).status_code == 200
        assert client.get(f"/{project}/_apis/build/builds", params=V, auth=("", "code")).status_code == 403

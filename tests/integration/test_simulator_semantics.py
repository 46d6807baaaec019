"""Issue 13: server behaviours the satellite gets wrong, modelled in the simulator behind ``ServerSemantics``
switches (docs/simulator.md, "Semantics we model").

For each behaviour two kinds of test:

- the simulator itself with the switch on, over real HTTP: what the spec sentence says is what a
  client sees (a save that moves the state and adds a comment is not a discussion-only revision,
  PR lists cut descriptions on 7.0+, a re-run keeps its id and gains an attempt...);
- the agent against a world with the switch on, asserting what a correct agent must deliver. Today's
  agent gets each of these wrong: they are marked ``xfail(strict=True)``, so CI stays green and
  the engineer who fixes the agent removes the marker (a pass then fails the run until they do).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator

import httpx
import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.store import Store
from satellite.sync.once import sync_once
from standins.ado_simulator.app import create_app
from standins.ado_simulator.semantics import DEFAULT_SEMANTICS, ServerSemantics
from standins.ado_simulator.wire.faults import FaultPlan, FaultRule
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.wire.wire import parse_date
from standins.ado_simulator.world.boards.work_item_history import Change
from standins.ado_simulator.world.pipelines.builds import COMPLETED, builds_of
from standins.ado_simulator.world.pipelines.environments import environments_of
from standins.ado_simulator.world.pipelines.releases import releases_of
from standins.ado_simulator.world.world import World, generate_world
from standins.loopback import serve_in_thread
from tests.support import PAT, start_simulator, truth, write_config

pytestmark = pytest.mark.integration

SIM_PAT = "sim-pat"  # the simulator's default PAT, for the tests of the simulator itself
SUPPRESS = {"X-TFS-FedAuthRedirect": "Suppress"}
TOKEN = "x-ms-continuationtoken"
FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
AGENT_NOT_FIXED = pytest.mark.xfail(strict=True, reason="issue 13: agent not fixed yet")


def _version(profile: str) -> str:
    return PROFILES[profile].max_version


@contextmanager
def serving(world: World, profile: str = "2022", semantics: ServerSemantics | None = None) -> Iterator[httpx.Client]:
    """A client of the simulator serving ``world`` (``semantics``: the routes' own, default the world's)."""
    with serve_in_thread(create_app(world, profile, semantics=semantics)) as server:
        with httpx.Client(base_url=server.url + "/tfs/DefaultCollection/", auth=("", SIM_PAT), headers=SUPPRESS,
                          timeout=30) as client:
            yield client


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, (response.request.url, response.text[:300])
    return response.json()


def values(client: httpx.Client, path: str, params: dict) -> list[dict]:
    body = ok(client.get(path, params=params))
    assert body["count"] == len(body["value"])
    return body["value"]


def reporting(client: httpx.Client, params: dict, version: str) -> list[dict]:
    """Every revision of the reporting stream with ``params``, batch by batch."""
    found, token = [], None
    while True:
        query = {**params, "api-version": version} | ({"continuationToken": token} if token else {})
        body = ok(client.get("_apis/wit/reporting/workitemrevisions", params=query))
        found += body["values"]
        token = body["continuationToken"]
        if body["isLastBatch"]:
            return found


def sync(config):
    return sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)


def agent_config(tmp_path, simulator, receiver, key_files, env, **options):
    return load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files,
                                    **options), env=env)


def served(simulator, url_or_path: str, version: str = "7.0") -> dict:
    """What the simulator answers the agent's PAT for a URL (from a record) or a path under the collection."""
    url = url_or_path if url_or_path.startswith("http") else f"{simulator.collection_url}/{url_or_path}"
    response = httpx.get(url, params={"api-version": version}, auth=("", PAT), headers=SUPPRESS, timeout=30)
    return ok(response)


def stored(receiver, record_type: str) -> dict[str, Any]:
    """key -> data of the live records of a type at the receiver."""
    return {key: data for key, (op, data) in receiver.records(record_type).items() if op == "upsert"}


# == 1. comments saved with another change ==========================================================


@pytest.mark.parametrize("profile", ["2019", "2022"])
def test_discussion_only_revisions_changed_the_history_alone_while_most_comments_come_with_a_change(profile):
    """wit 5.0-7.1 includeDiscussionChangesOnly: "Return only the those revisions of work items, where only
    history field was changed"."""
    world = generate_world(7, "tiny", semantics=ServerSemantics(comments_with_changes=True))
    world.advance(6)
    log = world.domain("work_items").log
    alone = {(log.item[p], log.rev[p]) for p in range(len(log)) if log.history_only(p)}
    with_change = {(log.item[p], log.rev[p]) for p in range(len(log)) if log.code[p] & Change.WITH_COMMENT}
    assert len(with_change) > len(alone) > 0  # most comments are saved with another change, as users do
    fields = {"fields": "System.Id,System.Rev,System.State,System.History,System.CommentCount", "includeDeleted": "true"}
    with serving(world, profile) as client:
        everything = reporting(client, fields, _version(profile))
        discussion = reporting(client, {**fields, "includeDiscussionChangesOnly": "true"}, _version(profile))
    assert {(r["id"], r["rev"]) for r in discussion} == alone
    before: dict[int, dict] = {}
    state_and_comment = 0
    for revision in everything:  # watermark order: each item's revisions in order
        now, then = revision["fields"], before.get(revision["id"], {})
        count = then.get("System.CommentCount", 0)
        key = (revision["id"], revision["rev"])
        if key in alone or key in with_change:
            assert "System.History" in now and now["System.CommentCount"] == count + 1, key
            state_and_comment += key in with_change and now["System.State"] != then.get("System.State")
        else:
            assert "System.History" not in now and now.get("System.CommentCount", 0) == count, key
        before[revision["id"]] = now
    assert state_and_comment > 0  # "change state + add comment" saves exist, and none is discussion-only


def test_a_comment_saved_with_a_state_change_is_listed_with_the_others():
    world = generate_world(7, "tiny", semantics=ServerSemantics(comments_with_changes=True))
    domain = world.domain("work_items")
    log = domain.log
    flagged = [p for p in range(len(log)) if log.code[p] & Change.WITH_COMMENT and log.kind(p) == Change.STATE
               and domain.item(log.item[p]) is not None]
    assert flagged
    item = domain.items[log.item[flagged[0]]]
    with serving(world) as client:
        listed = ok(client.get(f"{domain.project(item).id}/_apis/wit/workItems/{item.id}/comments",
                               params={"api-version": "7.0-preview.3", "includeDeleted": "true"}))
        revision = ok(client.get(f"_apis/wit/workItems/{item.id}/revisions/{log.rev[flagged[0]]}",
                                 params={"api-version": "7.0", "$expand": "fields"}))
    texts = {c["id"]: c["text"] for c in listed["comments"]}
    assert sorted(texts) == list(range(1, domain.current.comments[item.id] + 1))
    assert revision["fields"]["System.History"] == texts[revision["fields"]["System.CommentCount"]]


def test_agent_collects_every_comment_when_most_are_saved_with_a_state_change(tmp_path, receiver, key_files, env):
    world = generate_world(11, "tiny", semantics=ServerSemantics(comments_with_changes=True))
    with start_simulator(world) as simulator:
        result = sync(agent_config(tmp_path, simulator, receiver, key_files, env))
    assert result.ok, result.errors
    missing = sorted(set(truth(world)["wit.comment"]) - set(receiver.keys_of("wit.comment")))
    assert not missing, f"{len(missing)} comments never collected: {missing[:3]}"


# == 2. PR descriptions cut in lists on 7.0+ ========================================================


@pytest.mark.parametrize("profile", ["2019", "2020", "2022", "7.1"])
def test_pr_lists_cut_descriptions_to_400_characters_from_7_0_and_the_single_get_has_them_whole(profile):
    """git 7.0/7.1 Get Pull Requests (both routes): "Please note that description field will be truncated
    up to 400 symbols in the result." 5.0 and 6.0 say nothing of it."""
    world = generate_world(7, "tiny", semantics=ServerSemantics(long_pr_descriptions=True))
    before = len(world.domain("pull_requests").of_repositories([r.id for r in world.repositories]))
    world.advance(6)
    domain = world.domain("pull_requests")
    prs = domain.of_repositories([r.id for r in world.repositories])
    full = {pr.id: pr.description for pr in prs}
    assert sum(len(text) > 400 for text in full.values()) > len(full) / 3
    assert any(len(pr.description) > 400 for pr in prs if pr.id > before)  # advance opens some too
    cut = PROFILES[profile].has("7.0")
    version = {"api-version": _version(profile)}
    with serving(world, profile) as client:
        listed = [pr for p in world.projects
                  for pr in values(client, f"{p.id}/_apis/git/pullrequests", {**version, "searchCriteria.status": "all", "$top": 1000})]
        listed += [pr for r in world.repositories
                   for pr in values(client, f"{r.project_id}/_apis/git/repositories/{r.id}/pullrequests",
                                    {**version, "searchCriteria.status": "all", "$top": 1000})]
        assert len(listed) == 2 * len(full)
        for pr in listed:
            text = full[pr["pullRequestId"]]
            assert pr["description"] == (text[:400] if cut else text)
        for pr in prs:
            if len(pr.description) > 400:
                one = ok(client.get(f"_apis/git/repositories/{pr.repository_id}/pullRequests/{pr.id}", params=version))
                assert one["description"] == pr.description
                if pr.status == "completed":
                    assert one["completionOptions"]["mergeCommitMessage"] == f"Merged PR {pr.id}: {pr.title}\n\n{pr.description}"


def test_agent_stores_the_whole_description_of_every_pull_request(tmp_path, receiver, key_files, env):
    world = generate_world(11, "tiny", semantics=ServerSemantics(long_pr_descriptions=True))
    with start_simulator(world) as simulator:
        result = sync(agent_config(tmp_path, simulator, receiver, key_files, env))
        assert result.ok, result.errors
        records = stored(receiver, "git.pull_request")
        assert len(records) == len(truth(world)["git.pull_request"])
        cut = []
        for key, data in records.items():
            repo = data["repository"]
            whole = served(simulator, f"{repo['project']['id']}/_apis/git/repositories/{repo['id']}/pullrequests/"
                                      f"{data['pullRequestId']}")["description"]
            if data.get("description") != whole:
                cut.append(key)
    assert not cut, f"{len(cut)} pull requests stored with a cut description: {cut[:3]}"


# == 3. reruns of YAML runs ==========================================================================


def test_a_rerun_keeps_the_run_id_changes_its_outcome_and_its_records_gain_an_attempt():
    """build 5.0-7.1: Update Build ``retry``, Stages - Update "retry" (6.0+); TimelineRecord ``attempt``
    and ``previousAttempts``; the pipelines Run's state, result and finishedDate follow the build."""
    world = generate_world(7, "tiny", semantics=ServerSemantics(pipeline_reruns=True))
    domain = builds_of(world)
    version = {"api-version": "7.0"}
    seen: dict[int, dict] = {}  # build id -> the build as first seen completed
    timelines: dict[int, set[str]] = {}
    with serving(world) as client:
        for _ in range(12):
            for project in world.projects:
                for build in values(client, f"{project.id}/_apis/build/builds", {**version, "statusFilter": "completed"}):
                    if build["id"] not in seen:
                        seen[build["id"]] = build
                        records = ok(client.get(f"{project.id}/_apis/build/builds/{build['id']}/timeline", params=version))
                        timelines[build["id"]] = {r["id"] for r in records["records"]}
            world.advance(1)
        reruns = [b for b in domain.builds if b.attempt > 1 and not b.deleted and b.id in seen
                  and parse_date(seen[b.id]["finishTime"]) == b.first[0]]  # seen completed in its first attempt
        assert any(b.status == COMPLETED for b in reruns)  # or this test proves nothing
        for build in reruns:
            definition = domain.definitions[build.definition - 1]
            project = world.projects[definition.project]
            first = seen[build.id]  # seen completed before its rerun
            now = ok(client.get(f"{project.id}/_apis/build/builds/{build.id}", params=version))
            run = ok(client.get(f"{project.id}/_apis/pipelines/{definition.id}/runs/{build.id}", params=version))
            listed = [r for r in values(client, f"{project.id}/_apis/pipelines/{definition.id}/runs", version) if r["id"] == build.id]
            assert first["result"] in ("failed", "canceled") and listed == [{k: v for k, v in run.items() if k != "resources"}]
            timeline = ok(client.get(f"{project.id}/_apis/build/builds/{build.id}/timeline", params=version))["records"]
            assert {r["id"] for r in timeline} == timelines[build.id]  # the same records, another attempt
            stages = [r for r in timeline if r["type"] == "Stage"]
            assert max(r["attempt"] for r in stages) >= build.attempt
            assert all(len(r["previousAttempts"]) == r["attempt"] - 1 for r in stages)
            if build.status == COMPLETED:
                assert now["finishTime"] > first["finishTime"] and now["result"] == build.result
                assert (run["state"], run["finishedDate"]) == ("completed", now["finishTime"])
            else:  # the rerun is still going: the run is open again
                assert now["status"] == "inProgress" and "finishTime" not in now and "result" not in now
                assert run["state"] == "inProgress" and "finishedDate" not in run


def test_agent_delivers_the_final_state_of_reruns(tmp_path, receiver, key_files, env):
    world = generate_world(7, "tiny", semantics=ServerSemantics(pipeline_reruns=True))
    world.advance(6)  # failed runs of the last hours, some of them re-run after the first sync
    domain = builds_of(world)
    c = world.collection.id
    with start_simulator(world) as simulator:
        config = agent_config(tmp_path, simulator, receiver, key_files, env)
        assert sync(config).ok
        known = {key: run["state"] for key, run in stored(receiver, "pipelines.run").items()}
        world.advance(12)
        result = sync(config)
        assert result.ok, result.errors
        runs, builds = stored(receiver, "pipelines.run"), stored(receiver, "build.build")
        records = stored(receiver, "build.timeline_record")
        reruns = [b for b in domain.builds if b.attempt > 1 and b.status == COMPLETED and not b.deleted]
        assert any(known.get(f"{c}:{b.id}") == "completed" for b in reruns)  # stored completed, then re-run
        wrong = []
        for build in reruns:
            key = f"{c}:{build.id}"
            run = served(simulator, runs[key]["url"])
            if (runs[key]["state"], runs[key].get("result"), runs[key].get("finishedDate")) != (
                    run["state"], run.get("result"), run.get("finishedDate")):
                wrong.append(f"run {key}")
            one = served(simulator, builds[key]["url"])
            if (builds[key]["status"], builds[key].get("result"), builds[key].get("finishTime")) != (
                    one["status"], one.get("result"), one.get("finishTime")):
                wrong.append(f"build {key}")
            timeline = served(simulator, f"{one['project']['id']}/_apis/build/builds/{build.id}/timeline")["records"]
            if any(records[f"{key}:{r['id']}"]["attempt"] != r["attempt"] for r in timeline):
                wrong.append(f"timeline {key}")
    assert not wrong, wrong


# == 4. late-visible builds and deployments ==========================================================


def _newest(items: list[dict], field: str) -> str:
    return max(item[field] for item in items)


def test_builds_and_deployments_committed_late_complete_before_what_was_already_visible():
    """build Get Builds ``minTime``: "filters to builds that finished/started/queued after this date based on
    the queryOrder specified"; release Deployments - List ``minModifiedTime``: a reader resuming after the
    newest time it read never sees these."""
    world = generate_world(1, "tiny", semantics=ServerSemantics(late_visible=True))  # both kinds early on
    builds, releases = builds_of(world), releases_of(world)
    version = {"api-version": "7.0"}
    checked_builds = checked_deployments = 0
    with serving(world) as client:
        waiting: list[tuple[str, int, str]] = []  # (kind, id, the newest time of its project visible when it was held)
        for _ in range(8):
            held_before = set(builds.late)
            world.advance(1)
            for kind, item_id, newest in waiting:  # held one step ago: complete now, before that newest time
                if kind == "build":
                    build = builds.builds[item_id - 1]
                    project = world.projects[builds.definitions[build.definition - 1].project].id
                    one = ok(client.get(f"{project}/_apis/build/builds/{item_id}", params=version))
                    assert one["status"] == "completed" and one["finishTime"] < newest
                    after = values(client, f"{project}/_apis/build/builds",
                                   {**version, "queryOrder": "finishTimeAscending", "minTime": newest})
                    assert item_id not in {b["id"] for b in after}
                    checked_builds += 1
                else:
                    deployment = releases.deployments[item_id - 1]
                    project = world.projects[releases.definitions[releases.releases[deployment.release - 1].definition - 1].project].id
                    listed = {d["id"]: d for d in values(client, f"{project}/_apis/release/deployments", {**version, "$top": 1000})}
                    assert listed[item_id]["deploymentStatus"] == deployment.outcome and listed[item_id]["lastModifiedOn"] < newest
                    after = values(client, f"{project}/_apis/release/deployments", {**version, "minModifiedTime": newest, "$top": 1000})
                    assert item_id not in {d["id"] for d in after}
                    checked_deployments += 1
            waiting = []
            for build_id in sorted(builds.late - held_before):
                build = builds.builds[build_id - 1]
                project = world.projects[builds.definitions[build.definition - 1].project].id
                one = ok(client.get(f"{project}/_apis/build/builds/{build_id}", params=version))
                assert one["status"] == "inProgress" and "finishTime" not in one
                done = values(client, f"{project}/_apis/build/builds", {**version, "statusFilter": "completed"})
                waiting.append(("build", build_id, _newest(done, "finishTime")))
            for deployment in releases.deployments:
                if deployment.visible == world.clock + 1:
                    project = world.projects[releases.definitions[releases.releases[deployment.release - 1].definition - 1].project].id
                    listed = values(client, f"{project}/_apis/release/deployments", {**version, "$top": 1000})
                    assert {d["id"]: d["deploymentStatus"] for d in listed}[deployment.id] == "inProgress"
                    waiting.append(("deployment", deployment.id, _newest(listed, "lastModifiedOn")))
    assert checked_builds and checked_deployments


def test_agent_sees_builds_and_deployments_that_complete_late(tmp_path, receiver, key_files, env):
    world = generate_world(1, "tiny", semantics=ServerSemantics(late_visible=True))  # both kinds early on
    builds, releases = builds_of(world), releases_of(world)
    c = world.collection.id
    with start_simulator(world) as simulator:
        config = agent_config(tmp_path, simulator, receiver, key_files, env)
        assert sync(config).ok
        for _ in range(8):  # a sync after every step that held something back: it reads what is visible then
            counts = world.advance(1)
            if counts.get("builds_late") or counts.get("deployments_late"):
                assert sync(config).ok
        world.advance(1)
        result = sync(config)
        assert result.ok, result.errors
        late_builds = [b for b in sorted(builds.late) if not builds.builds[b - 1].deleted]
        late_deployments = [d.id for d in releases.deployments if d.visible and not releases.releases[d.release - 1].deleted]
        assert late_builds and late_deployments
        stored_builds, stored_deployments = stored(receiver, "build.build"), stored(receiver, "release.deployment")
        wrong = []
        for build_id in late_builds:
            build = builds.builds[build_id - 1]
            project = world.projects[builds.definitions[build.definition - 1].project]
            one = served(simulator, f"{project.id}/_apis/build/builds/{build_id}")
            data = stored_builds.get(f"{c}:{build_id}", {})
            if (data.get("status"), data.get("finishTime")) != (one["status"], one.get("finishTime")):
                wrong.append(f"build {build_id}: stored {data.get('status')}, served {one['status']}")
        for deployment_id in late_deployments:
            deployment = releases.deployments[deployment_id - 1]
            project = world.projects[releases.definitions[releases.releases[deployment.release - 1].definition - 1].project]
            listed = {d["id"]: d for d in served(simulator, f"{project.id}/_apis/release/deployments?$top=1000")["value"]}
            data = stored_deployments.get(f"{c}:{deployment_id}", {})
            if (data.get("deploymentStatus"), data.get("lastModifiedOn")) != (listed[deployment_id]["deploymentStatus"],
                                                                            listed[deployment_id]["lastModifiedOn"]):
                wrong.append(f"deployment {deployment_id}: stored {data.get('deploymentStatus')}, served "
                             f"{listed[deployment_id]['deploymentStatus']}")
    assert not wrong, wrong


def test_a_deployment_record_committed_after_a_higher_one_of_its_environment_reads_from_the_next_step():
    """Environmentdeployment Records - List pages newest first by id: a record given its id before a higher one
    of the same environment, and committed after it, is not listed beside it; it is at the next step, below it."""
    world = generate_world(3, "tiny", semantics=ServerSemantics(late_visible=True))  # two records of one environment in a step
    domain = environments_of(world)
    version = {"api-version": "7.0"}
    checked = 0
    with serving(world) as client:
        for _ in range(8):
            world.advance(1)
            for record_id in sorted(domain.late):
                record = domain.record(record_id)
                project = world.projects[record.project].id
                path = f"{project}/_apis/distributedtask/environments/{record.environment_id}/environmentdeploymentrecords"
                listed = [r["id"] for r in values(client, path, {**version, "top": 1000})]
                assert record_id not in listed and max(listed) > record_id
                world.advance(1)
                assert record_id in [r["id"] for r in values(client, path, {**version, "top": 1000})]
                checked += 1
                break
    assert checked


def test_agent_delivers_deployment_records_committed_after_a_higher_one(tmp_path, receiver, key_files, env):
    """The deployment records' walk reads down to the previous walk's highest id (``EnvironmentMark.floor``):
    a record committed after a higher one of its environment was read is delivered by the next sync."""
    world = generate_world(3, "tiny", semantics=ServerSemantics(late_visible=True))
    domain = environments_of(world)
    with start_simulator(world) as simulator:
        config = agent_config(tmp_path, simulator, receiver, key_files, env)
        assert sync(config).ok
        late: set[int] = set()
        for _ in range(6):  # a sync after every step: it reads the higher record while the lower one is held back
            world.advance(1)
            late |= domain.late
            result = sync(config)
            assert result.ok, result.errors
        world.advance(1)
        assert sync(config).ok
    assert late
    delivered = {int(key.rsplit(":", 1)[1]) for key in stored(receiver, "distributedtask.environment_deployment")}
    assert sorted(late - delivered) == [], "deployment records committed late were never delivered"
    assert delivered == {int(key.rsplit(":", 1)[1]) for key in truth(world)["distributedtask.environment_deployment"]}


# == 5. caps ========================================================================================


def test_the_runs_list_answers_only_the_newest_runs_up_to_its_cap_and_the_builds_api_has_them_all():
    """pipelines 6.0-7.1 Runs - List: "Gets top 10000 runs for a particular pipeline." (no paging)."""
    world = generate_world(7, "tiny")
    domain = builds_of(world)
    version = {"api-version": "7.0"}
    exceeded = 0
    with serving(world, semantics=ServerSemantics(pipeline_runs_cap=5)) as capped, serving(world) as whole:
        for definition in (d for d in domain.definitions if d.yaml):
            project = world.projects[definition.project].id
            response = capped.get(f"{project}/_apis/pipelines/{definition.id}/runs", params=version)
            runs = ok(response)["value"]
            assert TOKEN not in response.headers
            ids = sorted((b for b in domain.by_definition[definition.id] if not domain.builds[b - 1].deleted), reverse=True)
            assert [r["id"] for r in runs] == ids[:5]
            assert [r["id"] for r in values(whole, f"{project}/_apis/pipelines/{definition.id}/runs", version)] == ids
            builds = values(capped, f"{project}/_apis/build/builds", {**version, "definitions": definition.id})
            assert sorted((b["id"] for b in builds), reverse=True) == ids  # the builds API is not capped
            exceeded += len(ids) > 5
    assert exceeded


def truth_commits(world: World, repository_id: str) -> list[str]:
    return [k for k in world.truth()["git.commit"] if k.startswith(repository_id + ":")]


def test_a_capped_top_skip_list_answers_a_short_page_that_is_not_the_end():
    world = generate_world(7, "tiny")
    repo = max(world.repositories, key=lambda r: len(truth_commits(world, r.id)))
    changeset = max(world.domain("tfvc").changesets, key=lambda c: len(world.domain("tfvc").changes(c)))
    lists = [
        (f"_apis/git/repositories/{repo.id}/commits", "searchCriteria.$top", "searchCriteria.$skip", "commitId"),
        (f"_apis/git/repositories/{repo.id}/pushes", "$top", "$skip", "pushId"),
        ("_apis/tfvc/changesets", "$top", "$skip", "changesetId"),
        (f"_apis/tfvc/changesets/{changeset.id}/changes", "$top", "$skip", "changeType"),
    ]
    with serving(world, semantics=ServerSemantics(page_cap=3)) as capped, serving(world, semantics=ServerSemantics(page_cap=0)) as whole:
        for path, top, skip, key in lists:
            everything = values(whole, path, {"api-version": "7.0", top: 1000})
            assert len(everything) > 3, path
            first = values(capped, path, {"api-version": "7.0", top: 1000})
            assert len(first) == 3, path  # short, and yet not the end
            walked, offset = [], 0
            while page := values(capped, path, {"api-version": "7.0", top: 1000, skip: offset}):
                walked += page
                offset += len(page)
            assert [(i[key], i.get("item", {}).get("path")) for i in walked] == [
                (i[key], i.get("item", {}).get("path")) for i in everything], path


def test_tfvc_ascending_changesets_page_before_or_after_the_sort():
    """tfvc ``$orderby``: "Results are sorted by ID in descending order by default. Use id asc to sort by ID in
    ascending order."; ``searchCriteria.fromId``: "If provided, only include changesets after this
    changesetID." No text or example says whether ``$top`` applies before the ascending sort."""
    world = generate_world(7, "tiny")
    count = len(world.domain("tfvc").changesets)
    query = {"api-version": "7.0", "searchCriteria.fromId": 1, "$orderby": "id asc", "$top": 10}
    uncapped = ServerSemantics(page_cap=0)
    with serving(world, semantics=replace(uncapped, tfvc_top_before_sort=False)) as sorted_first, \
            serving(world, semantics=replace(uncapped, tfvc_top_before_sort=True)) as top_first:
        assert [c["changesetId"] for c in values(sorted_first, "_apis/tfvc/changesets", query)] == list(range(1, 11))
        assert [c["changesetId"] for c in values(top_first, "_apis/tfvc/changesets", query)] == list(range(count - 9, count + 1))
        def ids(client: httpx.Client, params: dict) -> list[int]:
            return [c["changesetId"] for c in values(client, "_apis/tfvc/changesets", params)]

        wide = {**query, "$top": 1000}  # a page that holds the whole range: the same either way
        assert ids(top_first, wide) == ids(sorted_first, wide) == list(range(1, count + 1))
        newest_first = {"api-version": "7.0", "$top": 10}  # the default order: the same either way
        assert ids(top_first, newest_first) == ids(sorted_first, newest_first) == list(range(count, count - 10, -1))


def test_agent_delivers_every_run_of_a_pipeline_beyond_the_runs_cap(tmp_path, receiver, key_files, env):
    world = generate_world(11, "tiny", semantics=ServerSemantics(pipeline_runs_cap=5))
    domain = builds_of(world)
    assert any(sum(not domain.builds[b - 1].deleted for b in domain.by_definition[d.id]) > 5 for d in domain.definitions if d.yaml)
    with start_simulator(world) as simulator:
        result = sync(agent_config(tmp_path, simulator, receiver, key_files, env))
    assert result.ok, result.errors
    missing = sorted(set(truth(world)["pipelines.run"]) - set(receiver.keys_of("pipelines.run")))
    assert not missing, f"{len(missing)} runs never collected: {missing[:3]}"


def test_agent_delivers_every_commit_and_push_when_the_server_caps_its_pages(tmp_path, receiver, key_files, env):
    world = generate_world(11, "tiny", semantics=ServerSemantics(page_cap=5))  # the agent asks 50 commits, 100 pushes
    with start_simulator(world) as simulator:
        result = sync(agent_config(tmp_path, simulator, receiver, key_files, env))
    assert result.ok, result.errors
    expected = truth(world)
    missing = {t: len(set(expected[t]) - set(receiver.keys_of(t))) for t in ("git.commit", "git.push")}
    assert missing == {"git.commit": 0, "git.push": 0}, f"never collected: {missing}"


def test_agent_delivers_every_changeset_whichever_order_top_and_the_sort_apply_in(tmp_path, receiver, key_files, env):
    world = generate_world(11, "tiny", semantics=ServerSemantics(tfvc_top_before_sort=True))
    with start_simulator(world) as simulator:
        config = agent_config(tmp_path, simulator, receiver, key_files, env,
                              page_sizes={"commits": 50, "refs": 100, "projects": 2, "changesets": 10})
        result = sync(config)
    assert result.ok, result.errors
    missing = sorted(set(truth(world)["tfvc.changeset"]) - set(receiver.keys_of("tfvc.changeset")))
    assert not missing, f"{len(missing)} changesets never collected: {missing[:3]}"


# == 6. releases abandoned or edited, destroyed work items ==========================================


@pytest.mark.parametrize("profile", ["2019", "2022"])
def test_a_release_abandoned_or_edited_moves_its_modified_time_and_no_deployment(profile):
    """release 5.0-7.1: Releases - Update Release Resource "Update few properties of a release."
    (status, keepForever, comment); Releases - List filters on creation only: ``minCreatedTime``
    "Releases that were created after this time."."""
    world = generate_world(7, "tiny", semantics=ServerSemantics(release_edits=True))
    domain = releases_of(world)
    version = {"api-version": _version(profile)}
    changed = {"abandoned": 0, "edited": 0}
    with serving(world, profile) as client:
        for _ in range(12):
            since = world.clock
            before = {r.id: r for r in domain.releases}
            deployments_before = {p.id: values(client, f"{p.id}/_apis/release/deployments", {**version, "$top": 1000})
                                  for p in world.projects}
            counts = world.advance(1)
            if not counts.get("releases_abandoned") and not counts.get("releases_edited"):
                continue
            for release in domain.releases:
                old = before.get(release.id)
                if old is None or (old.status, old.keep_forever) == (release.status, release.keep_forever):
                    continue
                project = world.projects[domain.definitions[release.definition - 1].project].id
                was = ok(client.get(f"{project}/_apis/release/releases/{release.id}", params=version))
                assert parse_date(was["modifiedOn"]) > since
                if release.status == "abandoned":
                    assert was["status"] == "abandoned"
                    changed["abandoned"] += 1
                else:
                    assert was["keepForever"] is True and was["comment"]
                    changed["edited"] += 1
                now = values(client, f"{project}/_apis/release/deployments", {**version, "$top": 1000})
                mine = [d for d in now if d["release"]["id"] == release.id]
                assert mine == [d for d in deployments_before[project] if d["release"]["id"] == release.id]  # none changed
                created_since = values(client, f"{project}/_apis/release/releases", {**version, "minCreatedTime": _iso(since)})
                assert release.id not in {r["id"] for r in created_since}  # a created-time reader does not see it
    assert changed["abandoned"] and changed["edited"]


def _iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def test_agent_delivers_releases_abandoned_or_edited_without_a_deployment(tmp_path, receiver, key_files, env):
    world = generate_world(7, "tiny", semantics=ServerSemantics(release_edits=True))
    domain = releases_of(world)
    c = world.collection.id
    with start_simulator(world) as simulator:
        config = agent_config(tmp_path, simulator, receiver, key_files, env)
        assert sync(config).ok
        first = {r.id for r in domain.releases}
        world.advance(12)
        result = sync(config)
        assert result.ok, result.errors
        touched = [r for r in domain.releases if r.id in first and not r.deleted and (r.status == "abandoned" or r.keep_forever)
                   and r.modified > world.clock - 12 * 3600]
        assert touched
        records = stored(receiver, "release.release")
        wrong = []
        for release in touched:
            data = records[f"{c}:{release.id}"]
            one = served(simulator, f"{data['projectReference']['id']}/_apis/release/releases/{release.id}")
            if (data["status"], data["keepForever"], data["modifiedOn"]) != (one["status"], one["keepForever"], one["modifiedOn"]):
                wrong.append(f"release {release.id}: stored {data['status']}/{data['keepForever']}, served {one['status']}/{one['keepForever']}")
    assert not wrong, wrong


def test_a_destroyed_work_item_is_gone_from_every_route_and_from_reporting():
    """wit 5.0-7.1: "Destroys the specified work item permanently from the Recycle Bin. This action can not
    be undone." and Delete Work Item ``destroy``: "the work item is deleted permanently"."""
    world = generate_world(7, "tiny", semantics=ServerSemantics(destroyed_work_items=True))
    domain = world.domain("work_items")
    c = world.collection.id
    with serving(world) as client:
        live_before = {int(k.split(":")[1]) for k in world.truth()["wit.work_item"]}
        world.advance(12)
        assert domain.destroyed & live_before  # some were live until destroyed, with no deleting revision seen
        revisions = reporting(client, {"includeDeleted": "true", "fields": "System.Id"}, "7.0")
        links = [link for link in ok(client.get("_apis/wit/reporting/workitemlinks", params={"api-version": "7.0"}))["values"]]
        wiql = ok(client.post("_apis/wit/wiql", params={"api-version": "7.0"},
                              json={"query": "SELECT [System.Id] FROM WorkItems"}))
        for item_id in sorted(domain.destroyed):
            item = domain.items[item_id]
            project = domain.project(item).id
            assert client.get(f"_apis/wit/workitems/{item_id}", params={"api-version": "7.0"}).status_code == 404
            assert client.get(f"_apis/wit/workItems/{item_id}/revisions", params={"api-version": "7.0"}).status_code == 404
            assert client.get(f"{project}/_apis/wit/workItems/{item_id}/comments",
                              params={"api-version": "7.0-preview.3"}).status_code == 404
            assert item_id not in {r["id"] for r in revisions}
            assert item_id not in {w["id"] for w in wiql["workItems"]}
            assert f"{c}:{item_id}" not in world.truth()["wit.work_item"]
            assert not [k for k in world.truth()["wit.work_item_revision"] if k.startswith(f"{c}:{item_id}:")]
            ends = [link for link in links if item_id in (link["sourceId"], link["targetId"])]
            assert not ends or not ends[-1]["isActive"]  # its links ended as when it is deleted


def test_agent_deletes_a_destroyed_work_item(tmp_path, receiver, key_files, env):
    """A destroyed item leaves nothing to read, so only a complete re-read can see it gone: the
    agent's reconciliation (Agent._reconcile: every cursor of the integration forgotten)."""
    world = generate_world(7, "tiny", semantics=ServerSemantics(destroyed_work_items=True))
    domain = world.domain("work_items")
    c = world.collection.id
    with start_simulator(world) as simulator:
        config = agent_config(tmp_path, simulator, receiver, key_files, env)
        assert sync(config).ok
        held = set(receiver.keys_of("wit.work_item"))
        world.advance(12)
        assert sync(config).ok  # incremental: nothing to read of a destroyed item
        assert {f"{c}:{i}" for i in domain.destroyed} & held <= set(receiver.keys_of("wit.work_item"))
        store = Store(config.satellite.data_dir)
        try:
            assert store.reset_cursors(config.integrations[0].id) > 0  # what the scheduled reconciliation does
        finally:
            store.close()
        result = sync(config)
    assert result.ok, result.errors
    gone = {f"{c}:{i}" for i in domain.destroyed} & held
    assert gone  # destroyed after the agent had stored them
    assert not gone & set(receiver.keys_of("wit.work_item")), "destroyed work items still live at the receiver"
    assert gone <= set(receiver.keys_of("wit.work_item", op="delete"))


def test_a_re_read_that_fails_deletes_nothing(tmp_path, receiver, key_files, env):
    """"Never infer a deletion from an answer you could not read": a reconciliation whose walk of the
    revisions fails part way sends no delete; the next complete one does."""
    world = generate_world(7, "tiny", semantics=ServerSemantics(destroyed_work_items=True))
    domain, c = world.domain("work_items"), world.collection.id
    failing = FaultPlan(seed=3, rules=(FaultRule("gone", rate=0.5, path="reporting/workitemrevisions"),))
    with start_simulator(world) as simulator, start_simulator(world, faults=failing) as broken:
        config = agent_config(tmp_path, simulator, receiver, key_files, env)
        assert sync(config).ok
        held = set(receiver.keys_of("wit.work_item"))
        world.advance(12)
        gone = {f"{c}:{i}" for i in domain.destroyed} & held
        assert gone

        def reconcile() -> None:
            store = Store(config.satellite.data_dir)
            try:
                store.reset_cursors(config.integrations[0].id)
            finally:
                store.close()

        reconcile()
        broken_config = load_config(write_config(tmp_path, ado_url=broken.collection_url, endpoint=receiver.url,
                                                 key_files=key_files, name="broken.yml"), env=env)
        result = sync(broken_config)
        assert any("wit.revisions" in e for e in result.errors), result.errors
        assert not gone & set(receiver.keys_of("wit.work_item", op="delete"))
        reconcile()
        assert sync(config).ok
    assert gone <= set(receiver.keys_of("wit.work_item", op="delete"))


# == every switch at once ===========================================================================


def test_with_every_switch_on_every_route_still_answers_what_its_spec_describes():
    from tests.integration.test_simulator_spec import NOT_IN_SPECS, schema_errors
    from tests.simulator_samples import api_version, load_samples, request_url, split_sample, spec_index

    everything = ServerSemantics.parse("all,page-cap=5,pipeline-runs-cap=3")
    world = generate_world(7, "tiny", semantics=everything)
    world.advance(24)
    assert world.semantics is everything and DEFAULT_SEMANTICS != everything
    failures, checked = [], 0
    samples = load_samples()
    for profile_name, profile in PROFILES.items():
        spec = spec_index(profile.max_version)
        with serve_in_thread(create_app(world, profile_name)) as server, \
                httpx.Client(auth=("", SIM_PAT), headers=SUPPRESS, timeout=30) as client:
            for pattern, factories in sorted(samples.items()):
                for sample in (s for factory in factories for s in factory(world)):
                    method, path, server_level, query, body = split_sample(sample)
                    found = spec.operation(method, pattern)
                    if found is None or (method, pattern) in NOT_IN_SPECS:
                        continue
                    params = {**query, "api-version": api_version(profile.max_version, found[1]["preview"])}
                    response = client.request(method, request_url(server.url, world.collection.name, path, server_level),
                                              params=params, json=body)
                    if response.status_code == 404 and response.headers["content-type"].startswith("text/html"):
                        continue  # a route this profile lacks (the spec test holds those to the specs)
                    if response.status_code == 204 and not found[1]["schema"] and not response.content:
                        continue  # no content where the spec describes none (DELETE subscription)
                    if response.status_code != 200:
                        failures.append(f"{profile_name} {method} {path}: {response.status_code} {response.text[:200]}")
                        continue
                    policy = query.get("errorPolicy") or (body.get("errorPolicy") if isinstance(body, dict) else None)
                    errors = schema_errors(profile.max_version, found[1]["schema"], response.json(),
                                           null_items=str(policy).lower() == "omit")
                    checked += 1
                    if errors:
                        failures.append(f"{profile_name} {method} {path}: " + "; ".join(errors[:3]))
    assert checked and not failures, "\n".join(failures[:20])

"""The whole path over real sockets: simulator -> satellite -> sealed outbox -> receiver."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from standins.ado_simulator.world.pipelines.builds import builds_of
from standins.ado_simulator.world.world import generate_world
from satellite.streams import RECORD_TYPES, STREAMS
from satellite.sync.once import sync_once

from tests.support import PAT, assert_mirrors_truth, start_simulator, truth, write_config

pytestmark = pytest.mark.integration

IMMUTABLE_TYPES = sorted(s.record_type for s in STREAMS if s.immutable) + ["wit.work_item_revision"]
FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)


def _data_stats(stats: dict) -> dict:
    """The receiver's stats without the heartbeats (which every sync sends)."""
    return {k: v for k, v in stats.items() if k != "satellites"}


def sync(config):
    return sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)


def simulator_requests(server) -> list[dict]:
    import httpx

    return httpx.get(f"{server.url}/_sim/requests").json()["requests"]


@pytest.mark.parametrize("profile", ["2019", "2020", "2022", "7.1"])
def test_backfill_delivers_the_ground_truth_exactly_once(tmp_path, receiver, key_files, env, profile):
    world = generate_world(seed=11, scale="tiny")
    with start_simulator(world, profile) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files), env=env)
        result = sync(config)
    assert result.ok, result.errors
    assert_mirrors_truth(receiver, world, profile)  # types this server version lacks must stay empty
    expected = truth(world, profile)
    counts = result.collection.counts_by_type()
    for record_type in IMMUTABLE_TYPES:  # never sent twice; mutable ones may repeat under the same key
        assert counts.get(record_type, 0) == len(expected[record_type]), record_type
    assert result.outbox.batches == 0
    beat = receiver.stats()["satellites"]["test-satellite"]  # the heartbeat of the run
    assert beat["outbox"]["batches"] == 0 and beat["version"] and beat["uptime_s"] > 0
    assert {s["stream"] for s in beat["streams"]} >= {"git.commits", "core.projects"}
    assert all(s["last_error"] is None and s["last_success_at"] for s in beat["streams"])


def test_second_sync_with_nothing_new_uploads_nothing_and_costs_a_bounded_number_of_requests(tmp_path, receiver, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    with start_simulator(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files), env=env)
        assert sync(config).ok
        before = receiver.stats()
        import httpx

        httpx.delete(f"{simulator.url}/_sim/requests")
        again = sync(config)
        requests = simulator_requests(simulator)
    assert again.ok and sum(o.records for o in again.collection.outcomes) == 0
    assert again.drain.delivered == 0 and _data_stats(receiver.stats()) == _data_stats(before)
    truth = world.truth()
    projects, repositories = len(truth["core.project"]), len(truth["git.repository"])
    prs = receiver.get("/v1/satellite/records", type="git.pull_request", data="1")["records"]
    active = sum(1 for pr in prs if pr["data"]["status"] == "active")
    assert 0 < active < len(prs)
    teams, identities = len(truth["core.team"]), len(truth["core.identity"])
    # the YAML pipelines of each project; whether any of them has run (then two build queries say
    # which pipelines have new runs: none) or not (then each one's runs are read again)
    pipeline_records = receiver.get("/v1/satellite/records", type="pipelines.pipeline", data="1")["records"]
    run_records = receiver.get("/v1/satellite/records", type="pipelines.run", data="1")["records"]
    ran = {r["data"]["pipeline"]["id"] for r in run_records}
    by_project: dict[str, list[int]] = {}
    for record in pipeline_records:
        by_project.setdefault(record["data"]["url"].split("/_apis/")[0], []).append(record["data"]["id"])
    run_reads = sum(2 if set(ids) & ran else len(ids) for ids in by_project.values())
    releases = receiver.get("/v1/satellite/records", type="release.release", data="1")["records"]
    release_projects = len({r["data"]["projectReference"]["id"] for r in releases})
    environments = receiver.get("/v1/satellite/records", type="distributedtask.environment", data="1")["records"]
    deployments = receiver.get("/v1/satellite/records", type="distributedtask.environment_deployment", data="1")["records"]
    still_deploying = {r["key"].rsplit(":", 1)[0] for r in deployments if not r["data"].get("finishTime")}
    assert environments and deployments
    assert any(set(ids) & ran for ids in by_project.values())
    expected = (
        2  # version discovery and connectionData
        + projects // 2 + 1  # project pages (page size 2)
        + 1 + 2 + 1  # fields; the reporting revisions for revisions and for comments; the reporting links
        + 1  # the newest TFVC changeset: the one delivered, so no window is asked
        + 6 * projects  # repositories, teams, newest PRs, active PRs, work item types, area/iteration trees
        + 2 * projects  # TFVC branches and labels
        + 3 * projects  # one more page after the short page of the teams, active PRs and labels (caps unknown: paging.SERVER_CAPS)
        + 4 * projects  # build definitions, builds finished since, builds still open, YAML pipelines
        + run_reads  # builds queued and finished since the last run seen, per project with YAML pipelines
        + projects  # YAML environments (6.0+); their deployment records only where one was open (no build activity)
        + len(still_deploying)
        + 3 * projects  # release definitions, deployments modified since, releases created since
        + release_projects  # one page of the walk over releases (edits and abandons), per project with releases
        + repositories  # one refs page each: the refs did not move, so no pushes or commits are asked for
        + active  # the threads of each open PR
        + 2 * teams  # members and iterations
        + teams  # one more page after the short page of members
        + 1 + (identities + 49) // 50  # Project Collection Valid Users, then its members by descriptor
    )
    by_route = Counter(re.sub(r"/\d+(?=/|$)", "/{n}", re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "{id}", r["path"])) for r in requests)
    print(f"nothing new: {len(requests)} requests for {projects} projects, {repositories} repositories, {teams} teams")
    for route, count in sorted(by_route.items()):
        print(f"  {count:3d} {route}")
    assert len(requests) == expected, [r["path"] for r in requests]


def test_pipeline_runs_follow_their_builds_while_only_pipelines_with_build_activity_are_read(tmp_path, receiver, key_files, env):
    """After the first sync, a pipeline's runs are read only when a build of it was queued or
    finished since: runs that finish in between arrive finished, new runs arrive, every stored run
    agrees with the server's single-run route, and a sync with nothing new reads no runs at all."""
    import base64

    import httpx

    world = generate_world(seed=9, scale="tiny")  # two YAML pipelines with a run still going
    auth = {"Authorization": "Basic " + base64.b64encode(f":{PAT}".encode()).decode()}

    def runs_read() -> set[str]:
        return {m.group(1) for r in simulator_requests(simulator) if (m := re.search(r"/_apis/pipelines/(\d+)/runs$", r["path"]))}

    with start_simulator(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files), env=env)
        assert sync(config).ok
        first = {r["key"]: r["data"] for r in receiver.get("/v1/satellite/records", type="pipelines.run", data="1")["records"]}
        world.advance(6)
        httpx.delete(f"{simulator.url}/_sim/requests")
        assert sync(config).ok
        read = runs_read()
        runs = {r["key"]: r["data"] for r in receiver.get("/v1/satellite/records", type="pipelines.run", data="1")["records"]}
        finished = [k for k, data in first.items() if data["state"] != "completed" and runs[k]["state"] == "completed"]
        new = set(runs) - set(first)
        assert finished and new  # the world moved both ways, or this test proves nothing
        assert {str(runs[k]["pipeline"]["id"]) for k in [*finished, *new]} <= read
        with httpx.Client(headers=auth) as http:
            deleted = {build.id for build in builds_of(world).builds if build.deleted}
            for key, data in runs.items():
                if data["id"] in deleted:  # a completed run deleted since: the reconcile's to delete
                    continue
                served = http.get(data["url"], params={"api-version": "7.0"}).raise_for_status().json()
                assert (data["state"], data.get("result")) == (served["state"], served.get("result")), key
        httpx.delete(f"{simulator.url}/_sim/requests")
        quiet = sync(config)
        assert quiet.ok and runs_read() == set()
    # a run delivered completed and deleted since leaves no activity behind: the reconcile deletes it
    assert {k for k, data in runs.items() if data["id"] not in deleted} == set(world.truth()["pipelines.run"])


def test_after_the_server_moves_exactly_what_changed_arrives(tmp_path, receiver, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    with start_simulator(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files), env=env)
        assert sync(config).ok
        before = world.truth()
        created = world.advance(6)
        after = {t: k for t, k in world.truth().items() if t in RECORD_TYPES}
        second = sync(config)
    assert second.ok, second.errors
    counts = second.collection.counts_by_type()
    assert created["commits"] > 0 and counts["git.commit"] == created["commits"]
    for record_type in IMMUTABLE_TYPES:  # exactly the new ones, nothing old again
        assert counts.get(record_type, 0) == len(set(after[record_type]) - set(before[record_type])), record_type
    assert_mirrors_truth(receiver, world, types=RECORD_TYPES - {"wit.comment"})  # deletions included
    # A deleted comment (or the comments of a deleted work item) leaves no revision behind for the
    # incremental path to see: those stay until a full reconciliation. Nothing may be missing.
    comments = set(receiver.keys_of("wit.comment"))
    assert set(after["wit.comment"]) <= comments and comments - set(after["wit.comment"]) <= set(before["wit.comment"])
    assert "core.project" not in counts and "git.repository" not in counts  # unchanged: not sent again
    removed_refs = set(before["git.ref"]) - set(after["git.ref"])
    assert set(receiver.keys_of("git.ref", op="delete")) == removed_refs


def test_bad_pat_is_reported_naming_the_collection_without_the_pat(tmp_path, receiver, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    with start_simulator(world) as simulator:
        collection = simulator.collection_url
        config = load_config(write_config(tmp_path, ado_url=collection, endpoint=receiver.url, key_files=key_files, pat="CANARY-WRONG-PAT-99887766"), env=env)
        result = sync(config)
    assert not result.ok
    assert len(result.errors) == 1 and collection in result.errors[0] and "401" in result.errors[0]
    assert "CANARY-WRONG-PAT-99887766" not in "".join(result.errors)
    assert receiver.stats()["batches"] == 0
    from satellite.agent.status import read_status
    from satellite.store import Store

    store = Store(config.satellite.data_dir)  # what `satellite status` and the status page show
    try:
        (connection,) = [s for s in read_status(store).streams if s.stream == "core.connection"]
    finally:
        store.close()
    assert connection.failing_partitions == 1 and "401" in connection.last_error and collection in connection.last_error


def test_one_failing_integration_does_not_stop_the_others(tmp_path, receiver, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    with start_simulator(world) as simulator:
        broken = (
            "  - id: tfs-broken\n"
            f"    url: {simulator.url}/tfs/NoSuchCollection\n"
            f"    pat: {PAT}\n"
            "    services: [repos]\n"
        )
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files, extra_integration=broken), env=env)
        result = sync(config)
    assert [e.split()[0] for e in result.errors] == ["tfs-broken"]
    assert sorted(receiver.keys_of("git.commit")) == sorted(world.truth()["git.commit"])


def test_a_projects_repositories_are_read_beside_the_project_not_after_every_project(tmp_path, receiver, key_files, env):
    """The collector starts a project's repositories (refs, pushes, commits: chains of pages) as soon as
    they are listed; started after the last project, they ran on alone at the end of a backfill."""
    world = generate_world(seed=11, scale="tiny")
    with start_simulator(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        assert sync(config).ok
        paths = [entry["path"] for entry in simulator_requests(simulator)]
    first_commits = min(i for i, p in enumerate(paths) if p.endswith("/commits"))
    last_builds = max(i for i, p in enumerate(paths) if re.search(r"/_apis/build/builds(/\d+/(timeline|changes))?$", p))
    assert first_commits < last_builds

"""End to end against a messy world (profile 2022): disabled and empty repositories, unicode and very
long names, people without e-mail; between syncs a project renamed, one deleted and a repository
moved; during the second sync a build and a PR deleted. Every record of the live world arrives, what
went is delivered as deletes, and no stream fails."""

from __future__ import annotations

import httpx

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.store import Store
from satellite.sync.once import sync_once
from satellite.sync.sharding import ShardAssignment
from standins.ado_simulator.world.world import generate_world
from tests.support import assert_mirrors_truth, start_simulator, truth, write_config

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)


def sync(config):
    result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors
    return result


def test_a_messy_world_is_mirrored_with_its_deletions(tmp_path, receiver, key_files, env):
    world = generate_world(seed=23, scale="tiny", messy=True)  # its deleted project has builds, runs and releases
    messy = world.messy
    with start_simulator(world, "2022") as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        sync(config)
        assert_mirrors_truth(receiver, world)
        held = {t: set(receiver.keys_of(t)) for t in (
            "core.project", "git.repository", "git.commit", "git.pull_request", "core.team", "build.definition", "build.build",
            "pipelines.run", "release.release", "release.deployment", "distributedtask.environment", "tfvc.branch")}
        world.advance(12)  # renamed, moved, deleted; a build and a PR armed to go during the next sync
        sync(config)
        events = httpx.get(f"{simulator.url}/_sim/messy").json()["events"]
        assert any("during a sync" in e and "build" in e for e in events), events
        assert any("during a sync" in e and "pull request" in e for e in events), events
        store = Store(config.satellite.data_dir)
        try:
            assert store.reset_cursors(config.integrations[0].id) > 0  # the scheduled reconciliation
        finally:
            store.close()
        sync(config)
        # advanced: a comment of a work item deleted since stays (no revision says it went), as without --messy
        assert_mirrors_truth(receiver, world, advanced=True)
        now = truth(world)
        below_disabled = [r for r in simulator.app.requests if f"/repositories/{messy.disabled.id}/" in r.path]
    assert below_disabled == []  # skipped, not read and failed
    for record_type, keys in held.items():
        gone = keys - set(now[record_type])
        assert gone, record_type  # the world deleted some, or this proves nothing
        assert gone <= set(receiver.keys_of(record_type, op="delete")), record_type  # delivered as deletes
    assert messy.doomed in receiver.keys_of("core.project", op="delete")
    assert messy.disabled.id in receiver.keys_of("git.repository")
    renamed = receiver.records("core.project")[messy.renamed][1]
    assert renamed["name"] == world.project(messy.renamed).name and len(renamed["name"]) >= 250
    moved = receiver.records("git.repository")[messy.moved][1]
    assert moved["project"]["id"] == messy.target
    pr_id = next(int(e.rsplit(" ", 4)[-4]) for e in events if e.startswith("deleted pull request"))
    deleted_prs = [k for k in receiver.keys_of("git.pull_request", op="delete") if k.endswith(f":{pr_id}")]
    assert deleted_prs or not [k for k in held["git.pull_request"] if k.endswith(f":{pr_id}")]


def _owner(url: str, count: int, project_id: str | None) -> int:
    """The replica index owning the collection (``project_id`` None) or a project's pairs."""
    shards = [ShardAssignment(index, count) for index in range(count)]
    return next(i for i, s in enumerate(shards) if (s.owns_project(url, project_id) if project_id else s.owns_collection(url)))


def test_sharded_replicas_each_deliver_the_deletes_of_their_part_of_a_deleted_project(tmp_path, receiver, key_files, env):
    """Replicas share the work: the one owning a project's pairs (not only the one delivering the
    projects) finds it gone and deletes what it delivered under it."""
    world = generate_world(seed=23, scale="tiny", messy=True)
    messy = world.messy
    with start_simulator(world, "2022") as simulator:
        url = simulator.collection_url  # its port decides the shards: a count where another replica owns the project
        count = next(n for n in range(2, 9) if _owner(url, n, None) != _owner(url, n, messy.doomed))
        configs = []
        for index in range(count):
            directory = tmp_path / f"shard-{index}"
            directory.mkdir()
            path = write_config(directory, ado_url=url, endpoint=receiver.url, key_files=key_files)
            path.write_text(path.read_text().replace("  data_dir: ./data\n", f"  data_dir: ./data\n  shard: {{count: {count}, index: {index}}}\n"))
            configs.append(load_config(path, env=env))
        for config in configs:
            sync(config)
        doomed_repos = {r.id for r in world.repositories if r.project_id == messy.doomed}
        assert doomed_repos <= set(receiver.keys_of("git.repository"))
        world.advance(12)
        for config in configs:
            sync(config)
        assert_mirrors_truth(receiver, world, types=("core.project", "git.repository", "git.commit", "core.team",
                                                     "build.definition", "release.definition", "tfvc.branch"))
    assert doomed_repos <= set(receiver.keys_of("git.repository", op="delete"))

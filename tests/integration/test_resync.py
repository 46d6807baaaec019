"""``satellite resync`` against the simulator and the receiver: an immutable stream, never sent
again otherwise, is sent again after a resync, and only the selection is; a project is selected by
name through the server; a resync beside a running agent (``satellite run``) on the same data dir
is taken by the agent's next scheduled run."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.store import Store
from satellite.sync.once import sync_once
from satellite.sync.resync import resync
from standins.ado_simulator.app import create_app
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from tests.integration.test_agent import AgentProcess, agent_config
from tests.support import PAT, assert_mirrors_truth, run_cli, start_simulator, wait_until, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)


def sync(config):
    result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors
    return result


def sent_since(config, since: float) -> Counter:
    """Records per stream of the batches acknowledged since ``since`` (the delivery ledger)."""
    store = Store(config.satellite.data_dir)
    try:
        counts: Counter = Counter()
        for row in store.ledger(since):
            counts[row.stream] += row.record_count
        return counts
    finally:
        store.close()


def test_an_immutable_stream_is_sent_again_after_a_resync_and_only_the_selection_is(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="tiny")
    commits = world.truth()["git.commit"]
    with start_simulator(world) as simulator:
        path = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
        config = load_config(path, env=env)
        sync(config)
        before = time.time()
        sync(config)
        assert sent_since(config, before)["git.commits"] == 0  # immutable: never sent again by itself
        before = time.time()
        cli = run_cli("resync", "-c", str(path), "--stream", "git.commits")
        assert cli.returncode == 0, cli.stderr
        repositories = len({k.split(":", 1)[0] for k in commits})
        assert f"tfs-main git.commits: forgot {repositories} cursor(s), {len(commits)} delivered key(s)\n" in cli.stdout
        sync(config)
        sent = sent_since(config, before)
        assert sent["git.commits"] == len(commits)  # every commit again
        assert sent["git.pushes"] == 0 and sent["tfvc.changesets"] == 0  # the other immutable streams: not selected
        before = time.time()
        sync(config)
        assert sent_since(config, before)["git.commits"] == 0  # remembered again
    assert_mirrors_truth(receiver, world)


def test_the_re_read_after_a_resync_also_deletes_what_the_server_no_longer_has(tmp_path, receiver, key_files, env):
    """The live keys stay through a resync: its complete re-read from no cursor deletes the builds
    gone from the server, as a reconciliation would (forgetting them would keep those for good)."""
    world = generate_world(seed=9, scale="tiny")
    with start_simulator(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        sync(config)
        held = set(receiver.keys_of("build.build"))
        world.advance(12)
        sync(config)
        assert resync(config, streams=["build.builds"], echo=lambda text: None) == 0
        sync(config)
        truth = set(world.truth()["build.build"])
    gone = held - truth
    assert gone  # the world deleted some, or this proves nothing
    assert set(receiver.keys_of("build.build")) == truth
    assert gone <= set(receiver.keys_of("build.build", op="delete"))


def test_a_project_by_name_selects_its_repositories_and_teams(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="tiny")
    commits = world.truth()["git.commit"]
    project = max(world.projects, key=lambda p: sum(r.project_id == p.id for r in world.repositories))
    mine = {r.id for r in world.repositories if r.project_id == project.id}
    assert len(mine) < len(world.repositories)  # another project's repositories must stay untouched
    with start_simulator(world) as simulator:
        path = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
        config = load_config(path, env=env)
        sync(config)
        unknown = run_cli("resync", "-c", str(path), "--project", "No Such Project")
        assert unknown.returncode == 2 and "no project 'No Such Project'" in unknown.stderr
        before = time.time()
        cli = run_cli("resync", "-c", str(path), "--project", project.name.upper(), "--stream", "git.commits", "--stream", "core.teams")
        assert cli.returncode == 0, cli.stderr
        assert f"git.commits: forgot {len(mine)} cursor(s)" in cli.stdout and "core.teams: forgot 1 cursor(s)" in cli.stdout
        sync(config)
        sent = sent_since(config, before)
        assert sent["git.commits"] == sum(k.split(":", 1)[0] in mine for k in commits)
        teams = [data for op, data in receiver.records("core.team").values() if op == "upsert"]
        assert 0 < sent["core.teams"] == sum(t["projectId"] == project.id for t in teams) < len(teams)
        assert sent["git.refs"] == 0 and sent["git.pushes"] == 0  # streams not selected
    assert_mirrors_truth(receiver, world)


def test_a_resync_beside_a_running_agent_is_taken_by_its_next_run(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="tiny")
    commits = world.truth()["git.commit"]
    with serve_in_thread(create_app(world, pats={PAT: frozenset({"full"})})) as simulator:
        path = agent_config(tmp_path, simulator.url, receiver.url, key_files)
        agent = AgentProcess(path, env, tmp_path / "agent.log")
        try:
            config = load_config(path, env=env)
            wait_until(lambda: sent_since(config, 0)["git.commits"] == len(commits), 60, "the first run to deliver the commits")
            before = time.time()
            cli = run_cli("resync", "-c", str(path), "--stream", "git.commits")  # no data-dir lock: the agent holds it
            assert cli.returncode == 0, cli.stderr
            assert "forgot" in cli.stdout
            wait_until(lambda: sent_since(config, before)["git.commits"] == len(commits), 60,
                       "the agent's next run to send every commit again")
            ledger = run_cli("ledger", "-c", str(path), "--format", "json", "--since", "5m")  # beside the agent too
            assert ledger.returncode == 0, ledger.stderr
            rows = json.loads(ledger.stdout)
            assert sum(r["record_count"] for r in rows if r["stream"] == "git.commits") >= 2 * len(commits)
        finally:
            code = agent.stop()
    assert code == 0
    assert_mirrors_truth(receiver, world)

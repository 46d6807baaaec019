"""The whole path over real sockets: simulator -> satellite -> sealed outbox -> receiver."""

from __future__ import annotations

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.simulator.profiles import PROFILES
from satellite.simulator.world import generate_world
from satellite.streams import RECORD_TYPES
from satellite.sync.runner import sync_once

from .conftest import PAT, simulator_server, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)


def sync(config):
    return sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)


def simulator_requests(server) -> list[dict]:
    import httpx

    return httpx.get(f"{server.url}/_sim/requests").json()["requests"]


@pytest.mark.parametrize("profile", ["2019", "2020", "2022", "7.1"])
def test_backfill_delivers_the_ground_truth_exactly_once(tmp_path, receiver, key_files, env, profile):
    world = generate_world(seed=11, scale="tiny")
    with simulator_server(world, profile) as simulator:
        config = load_config(write_config(tmp_path, ado_url=f"{simulator.url}/tfs/DefaultCollection", endpoint=receiver.url, key_files=key_files), env=env)
        result = sync(config)
    assert result.ok, result.errors
    truth = {t: k for t, k in world.truth(PROFILES[profile].max_version).items() if t in RECORD_TYPES}
    assert set(truth) == RECORD_TYPES
    for record_type, keys in truth.items():
        assert sorted(receiver.keys_of(record_type)) == sorted(keys), record_type
    stats = receiver.stats()
    total = sum(len(k) for k in truth.values())
    assert stats["records_received"] == total  # every record arrived once, none twice
    assert result.collection.counts_by_type() == {t: len(k) for t, k in truth.items()}
    assert result.outbox.batches == 0


def test_second_sync_with_nothing_new_uploads_nothing_and_costs_one_request_per_repository(tmp_path, receiver, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    with simulator_server(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=f"{simulator.url}/tfs/DefaultCollection", endpoint=receiver.url, key_files=key_files), env=env)
        assert sync(config).ok
        before = receiver.stats()
        import httpx

        httpx.delete(f"{simulator.url}/_sim/requests")
        again = sync(config)
        requests = simulator_requests(simulator)
    assert again.ok and sum(o.records for o in again.collection.outcomes) == 0
    assert again.drain.delivered == 0 and receiver.stats() == before
    truth = world.truth()
    projects, repositories = len(truth["core.project"]), len(truth["git.repository"])
    # version discovery and connectionData + project pages (page size 2) + one repository list per project
    # + one refs page per repository
    project_pages = projects // 2 + 1
    assert len(requests) == 2 + project_pages + projects + repositories, [r["path"] for r in requests]


def test_after_the_server_moves_only_the_new_commits_arrive(tmp_path, receiver, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    with simulator_server(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=f"{simulator.url}/tfs/DefaultCollection", endpoint=receiver.url, key_files=key_files), env=env)
        assert sync(config).ok
        old_truth = world.truth()
        received_before = receiver.stats()["records_received"]
        created = world.advance(4)
        new_truth = world.truth()
        second = sync(config)
    assert second.ok, second.errors
    new_commits = set(new_truth["git.commit"]) - set(old_truth["git.commit"])
    assert created["commits"] == len(new_commits) > 0
    assert second.collection.counts_by_type() == {"git.commit": len(new_commits)}
    assert receiver.stats()["records_received"] - received_before == len(new_commits)
    assert sorted(receiver.keys_of("git.commit")) == sorted(new_truth["git.commit"])


def test_bad_pat_is_reported_naming_the_collection_without_the_pat(tmp_path, receiver, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    with simulator_server(world) as simulator:
        collection = f"{simulator.url}/tfs/DefaultCollection"
        config = load_config(write_config(tmp_path, ado_url=collection, endpoint=receiver.url, key_files=key_files, pat="CANARY-WRONG-PAT-99887766"), env=env)
        result = sync(config)
    assert not result.ok
    assert len(result.errors) == 1 and collection in result.errors[0] and "401" in result.errors[0]
    assert "CANARY-WRONG-PAT-99887766" not in "".join(result.errors)
    assert receiver.stats()["batches"] == 0


def test_one_failing_integration_does_not_stop_the_others(tmp_path, receiver, key_files, env):
    world = generate_world(seed=11, scale="tiny")
    with simulator_server(world) as simulator:
        broken = (
            "  - id: tfs-broken\n"
            f"    url: {simulator.url}/tfs/NoSuchCollection\n"
            f"    pat: {PAT}\n"
            "    services: [repos]\n"
        )
        config = load_config(write_config(tmp_path, ado_url=f"{simulator.url}/tfs/DefaultCollection", endpoint=receiver.url,
                                          key_files=key_files, extra_integration=broken), env=env)
        result = sync(config)
    assert [e.split()[0] for e in result.errors] == ["tfs-broken"]
    assert sorted(receiver.keys_of("git.commit")) == sorted(world.truth()["git.commit"])

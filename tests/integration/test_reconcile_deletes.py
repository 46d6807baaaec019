"""A reconciliation (every cursor forgotten, the next sync reads from none) deletes the builds, runs,
pull requests and releases the server no longer has, and nothing that is still there."""

from __future__ import annotations

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.store import Store
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world
from tests.support import start_simulator, write_config

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
TYPES = ("build.build", "pipelines.run", "git.pull_request", "release.release")


def sync(config):
    return sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)


def test_a_reconciliation_deletes_what_the_server_no_longer_has(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="tiny")
    with start_simulator(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        assert sync(config).ok
        held = {t: set(receiver.keys_of(t)) for t in TYPES}
        world.advance(12)
        assert sync(config).ok
        store = Store(config.satellite.data_dir)
        try:
            assert store.reset_cursors(config.integrations[0].id) > 0  # what the scheduled reconciliation does
        finally:
            store.close()
        result = sync(config)
        truth = world.truth()
    assert result.ok, result.errors
    gone = {t: held[t] - set(truth[t]) for t in TYPES}
    assert gone["build.build"] and gone["pipelines.run"]  # the world deleted some, or this proves nothing
    for t in TYPES:
        assert set(receiver.keys_of(t)) == set(truth[t]), t  # nothing gone kept, nothing there deleted
        assert gone[t] <= set(receiver.keys_of(t, op="delete")), t

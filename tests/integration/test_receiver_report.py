"""``satellite receiver report`` over what a real sync delivered: simulator -> satellite -> receiver,
the world moves, a second sync, then the report command on the receiver's data dir.

The receiver runs on the simulator's clock (as in the demo), so freshness measures the changes made
after the first sync. Every metric the world and the satellite's streams support has samples.
"""

from __future__ import annotations

import json

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.streams import RECORD_TYPES
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from standins.sei_receiver import ReceiverStorage, create_receiver_app
from standins.sei_receiver.report import METRIC_IDS
from tests.support import (
    Receiver,
    receiver_keys,
    run_cli,
    start_simulator,
    write_config,
)

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
NEEDS = {"lead_time": "build.change", "pr_coding": "git.pull_request_commit", "pr_total": "git.pull_request_commit"}


def synced_twice(tmp_path, key_files, env, profile: str, seed: int = 11):
    """The receiver's data dir after a backfill, six hours of server activity and an incremental sync."""
    world = generate_world(seed=seed, scale="tiny")
    data_dir = tmp_path / "receiver"
    storage = ReceiverStorage(data_dir, clock=lambda: float(world.clock))
    receiver = Receiver(storage, serve_in_thread(create_receiver_app(storage, receiver_keys(key_files))))
    try:
        with start_simulator(world, profile) as simulator:
            config = load_config(write_config(tmp_path / "satellite", ado_url=simulator.collection_url,
                                              endpoint=receiver.url, key_files=key_files), env=env)
            assert sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY).ok
            world.advance(6)
            second = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
            assert second.ok, second.errors
    finally:
        receiver.close()
    return data_dir


def test_the_report_has_samples_for_every_metric_the_world_supports(tmp_path, key_files, env):
    data_dir = synced_twice(tmp_path, key_files, env, "2022")
    done = run_cli("receiver", "report", "--data-dir", str(data_dir), "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"generated_at", "server", "metrics"} and list(document["metrics"]) == list(METRIC_IDS)
    assert document["server"]["api_versions"] == ["7.0"]  # the heartbeat names the version the collector detected
    empty = [metric_id for metric_id, metric in document["metrics"].items()
             if metric["summary"]["count"] == 0 and NEEDS.get(metric_id, "build.build") in RECORD_TYPES]
    assert not empty, f"metrics without samples: {empty}"
    assert all(m["available"] for m in document["metrics"].values())
    assert all(m["reason"] is None for m in document["metrics"].values())  # YAML environments are there on 2022
    assert all(m["skipped"] == 0 for m in document["metrics"].values()), {
        k: m["skipped"] for k, m in document["metrics"].items() if m["skipped"]}
    table = run_cli("receiver", "report", "--data-dir", str(data_dir))
    assert table.returncode == 0 and all(f"[{metric_id}]" in table.stdout for metric_id in METRIC_IDS)


def test_on_server_2019_the_deployment_metrics_say_yaml_environments_are_not_available(tmp_path, key_files, env):
    data_dir = synced_twice(tmp_path, key_files, env, "2019")
    done = run_cli("receiver", "report", "--data-dir", str(data_dir), "--json")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)["metrics"]
    for metric_id in ("deployment_frequency", "change_failure_rate", "time_to_restore", "lead_time"):
        reason = metrics[metric_id]["reason"] or ""
        assert metrics[metric_id]["available"] and "not available on this server version" in reason, (metric_id, reason)
    assert metrics["pipeline_duration"]["summary"]["count"] > 0 and metrics["pipeline_duration"]["reason"] is None

"""The receiver's report against the simulator's ground truth, at each of the four server profiles.

One sync of a small world (simulator -> satellite -> receiver), then ``build_report`` over what the
receiver stored, compared metric by metric with ``world_metrics`` (computed from the model, with
none of the report's code): availability, counts and durations exactly, medians equal. Every
metric that differs is listed, with what differs, in one failure.
"""

from __future__ import annotations

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.sync.once import sync_once
from standins.ado_simulator.truth import METRIC_IDS, world_metrics
from standins.ado_simulator.truth.compare import differences
from standins.ado_simulator.truth.environments import yaml_deployments
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import generate_world
from standins.sei_receiver.report import build_report
from tests.support import start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
ADVANCE = 48  # hours


@pytest.mark.parametrize("profile", ["2019", "2020", "2022", "7.1"])
def test_report_matches_the_ground_truth(tmp_path, receiver, key_files, env, profile):
    world = generate_world(seed=7, scale="small")
    moved = world.advance(ADVANCE)  # two days of activity: YAML re-runs, late-visible builds and deployments
    assert moved.get("builds_rerun") and moved.get("builds_late") and moved.get("deployments_late")
    with start_simulator(world, profile) as simulator:
        config = load_config(write_config(tmp_path / "satellite", ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files, batch_records=500), env=env)
        result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors
    truth = world_metrics(world, PROFILES[profile].max_version)  # the world has not moved since the sync
    report = build_report(receiver.storage).to_json()["metrics"]
    lines = [line for metric_id in METRIC_IDS for line in differences(metric_id, report.get(metric_id), truth[metric_id])]
    # a world worth comparing: every metric has samples, YAML deployments where the server has them
    assert all(truth[m].count for m in METRIC_IDS), [m for m in METRIC_IDS if not truth[m].count]
    yaml_pipelines = {d.pipeline for d in yaml_deployments(world)}
    assert bool(yaml_pipelines & {g.name for g in truth["deployment_frequency"].groups}) == (profile != "2019")
    assert not lines, f"profile {profile}: the report differs from the truth:\n" + "\n".join(lines)

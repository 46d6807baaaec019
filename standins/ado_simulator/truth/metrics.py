"""Ground truth of every metric of docs/metrics.md, computed from the simulator's own model.

    from standins.ado_simulator.truth import world_metrics
    truth = world_metrics(world, "7.0")      # {"pipeline_duration": MetricTruth(...), ...}

Never from records or response bodies, and with none of the receiver report's code: the test
that compares the two (tests/integration/test_metrics_truth.py) means something only if they are
separate. The world is read under its lock as the server shows it at ``world.clock``.
Freshness is not a model quantity (it is the receiver's clock against the server's) and has no truth.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from standins.ado_simulator.truth import pipelines
from standins.ado_simulator.truth.deployments import (
    change_failure_rate,
    classic_deployments,
    deployment_frequency,
    time_to_restore,
)
from standins.ado_simulator.truth.environments import YAML_SINCE, yaml_deployments
from standins.ado_simulator.truth.figures import MetricTruth
from standins.ado_simulator.truth.lead_time import lead_time
from standins.ado_simulator.truth.pull_requests import pull_request_metrics
from standins.ado_simulator.truth.work_items import work_item_cycle_time

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["METRIC_IDS", "YAML_UNAVAILABLE", "world_metrics"]

METRIC_IDS = ("pipeline_duration", "queue_time", "job_duration", "stage_status", "release_stage_status",
              "deployment_frequency", "change_failure_rate", "time_to_restore", "lead_time",
              "pr_coding", "pr_pickup", "pr_review", "pr_merge", "pr_total", "work_item_cycle_time")
DEPLOYMENT_METRICS = ("deployment_frequency", "change_failure_rate", "time_to_restore", "lead_time")
YAML_UNAVAILABLE = "YAML environments: not available on this server version"


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def world_metrics(world: World, max_version: str) -> dict[str, MetricTruth]:
    """Every metric id of ``METRIC_IDS`` -> its truth on a server of api-version ``max_version``.

    Before YAML environments exist (``YAML_SINCE``) the deployment metrics come from classic releases
    alone and say so in ``reason`` (still available: the classic part is there)."""
    yaml = _version(max_version) >= _version(YAML_SINCE)
    with world.lock:
        found: list[MetricTruth] = [pipelines.pipeline_duration(world), pipelines.queue_time(world),
                                    *pipelines.timeline_metrics(world), pipelines.release_stage_status(world)]
        deployments = classic_deployments(world) + (yaml_deployments(world) if yaml else [])
        found += [deployment_frequency(deployments), change_failure_rate(deployments), time_to_restore(deployments),
                  lead_time(world, deployments)]
        found += pull_request_metrics(world).values()
        found.append(work_item_cycle_time(world))
    metrics = {m.id: m for m in found}
    if not yaml:
        for metric_id in DEPLOYMENT_METRICS:
            metrics[metric_id] = _with_reason(metrics[metric_id], YAML_UNAVAILABLE)
    return {metric_id: metrics[metric_id] for metric_id in METRIC_IDS}


def _with_reason(metric: MetricTruth, reason: str) -> MetricTruth:
    return replace(metric, reason=reason)

"""``build_report``: every metric of docs/metrics.md from one read of the receiver's database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from standins.sei_receiver.report import dora, flow, freshness, pipelines
from standins.sei_receiver.report.model import Metric, Report
from standins.sei_receiver.report.records import Snapshot, load_snapshot

__all__ = ["METRICS", "METRIC_IDS", "build_report", "report_of"]

METRICS: tuple[Callable[[Snapshot], Metric | tuple[Metric, ...]], ...] = (
    pipelines.pipeline_duration,
    pipelines.queue_time,
    pipelines.job_duration,
    pipelines.stage_status,
    pipelines.release_stage_status,
    dora.dora_metrics,
    flow.pr_metrics,
    flow.work_item_cycle_time,
    freshness.freshness_metrics,
)

METRIC_IDS = (
    "pipeline_duration", "queue_time", "job_duration", "stage_status", "release_stage_status",
    "deployment_frequency", "change_failure_rate", "time_to_restore", "lead_time",
    "pr_coding", "pr_pickup", "pr_review", "pr_merge", "pr_total", "work_item_cycle_time",
    "freshness_git_push", "freshness_build", "freshness_work_item",
)


def report_of(snapshot: Snapshot, now: datetime | None = None) -> Report:
    """The report of records already read (pure: no I/O)."""
    metrics: list[Metric] = []
    for compute in METRICS:
        result = compute(snapshot)
        metrics.extend(result if isinstance(result, tuple) else (result,))
    order = {metric_id: n for n, metric_id in enumerate(METRIC_IDS)}
    metrics.sort(key=lambda m: order.get(m.id, len(order)))
    return Report(now or datetime.now(UTC), snapshot.api_versions, tuple(metrics))


def build_report(source, now: datetime | None = None) -> Report:
    """``source``: a ``ReceiverStorage``, a receiver data dir, or its ``receiver.db``."""
    path = Path(getattr(source, "db_path", source))
    if path.is_dir():
        path = path / "receiver.db"
    if not path.is_file():
        raise FileNotFoundError(f"no receiver database at {path}")
    return report_of(load_snapshot(path), now)

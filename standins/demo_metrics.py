"""The demo's gap table: what the hosted integration cannot show, computed from what the satellite
delivered (the receiver's report), each figure checked against the simulator's ground truth.

The gaps are the hosted product's Azure DevOps "Known Issues": five CI/CD duration widgets, the
pipeline stage status, the lead-time widgets and "up to 24 hours" for data to show. Below them the
DORA four and the flow metrics SEI shows, all from the same records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from standins.ado_simulator.truth import MetricTruth
from standins.ado_simulator.truth.compare import NOT_AVAILABLE, differences
from standins.ado_simulator.truth.figures import Sample, duration_metric
from standins.ado_simulator.truth.instants import US, iso_instant

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World
    from standins.sei_receiver.report import Report

__all__ = ["GAPS", "differences", "push_freshness", "gap_table"]


# (what the hosted integration lacks, metric ids that close it); the first id is the one shown.
GAPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("CI/CD job duration (report, single stat, trend)", ("job_duration",)),
    ("CI/CD pipeline jobs duration (report, trend)", ("pipeline_duration", "queue_time")),
    ("pipeline stage status", ("stage_status", "release_stage_status")),
    ("lead time for changes", ("lead_time",)),
    ("data may take up to 24 hours to show", ("freshness_git_push",)),
)
ALSO: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("deployment frequency", ("deployment_frequency",)),
    ("change failure rate", ("change_failure_rate",)),
    ("time to restore service", ("time_to_restore",)),
    ("PR cycle time (first commit to merged)", ("pr_total", "pr_coding", "pr_pickup", "pr_review", "pr_merge")),
    ("work item cycle time", ("work_item_cycle_time",)),
)


def push_freshness(world: "World", first_batch_at: float, received_at: float) -> MetricTruth:
    """Freshness of pushes from the model: every push after the receiver's first batch, received at
    ``received_at`` (the demo's receiver runs on the world's clock, so both are server times)."""
    samples: list[Sample] = []
    with world.lock:
        for repository in world.repositories:
            project = next(p.name for p in world.projects if p.id == repository.project_id)
            with world.reading(repository.id) as history:
                for push in history.pushes:
                    changed = iso_instant(push.date)
                    if changed > first_batch_at * US:
                        end = int(received_at * US)
                        samples.append(Sample(project, (end - changed) // US, end))
    return duration_metric("freshness_git_push", samples)


NOUNS = {"job_duration": "jobs", "pipeline_duration": "pipeline runs", "queue_time": "pipeline runs",
         "lead_time": "changes", "freshness_git_push": "pushes since the first sync", "time_to_restore": "restores",
         "pr_total": "merged PRs", "work_item_cycle_time": "closed work items"}


def _figures(metric, line: str) -> str:
    """What the table shows of a metric: ``1,204 jobs, p50 3m12s, p90 9m1s``; stages with their results."""
    if not metric.available:
        return line
    s = metric.summary
    if metric.unit == "count":
        top = sorted(((k, n) for k, n in metric.counts.items() if k not in ("attempts", "reruns")), key=lambda kv: -kv[1])[:3]
        reruns = metric.counts.get("reruns", 0)
        return f"{s.count:,} stages: " + ", ".join(f"{k} {n:,}" for k, n in top) + f"; {reruns:,} re-run"
    if metric.unit == "seconds" and metric.id in NOUNS:
        from standins.sei_receiver.report.stats import human_duration

        return f"{s.count:,} {NOUNS[metric.id]}, p50 {human_duration(s.p50)}, p90 {human_duration(s.p90)}"
    return line


def gap_table(report: "Report", truth: Mapping[str, MetricTruth]) -> tuple[str, bool]:
    """The table, and whether every figure in it matches its truth."""
    from standins.sei_receiver.report.text import summary_line

    metrics = {m.id: m for m in report.metrics}
    as_json = report.to_json()["metrics"]
    lines, all_match = [], True

    def rows(title: str, entries: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        nonlocal all_match
        lines.append(title)
        for gap, ids in entries:
            shown = metrics[ids[0]]
            wrong = [line for metric_id in ids if metric_id in truth
                     for line in differences(metric_id, as_json.get(metric_id), truth[metric_id])]
            all_match &= not wrong
            verdict = "= truth" if not wrong else "MISMATCH"
            lines.append(f"  {gap:<48} {_figures(shown, summary_line(shown)):<72} {verdict}")
            if shown.reason and NOT_AVAILABLE in shown.reason:
                lines.append(f"  {'':<48} ({shown.reason})")
            lines.extend(f"      {line}" for line in wrong[:4])

    rows("What the hosted Azure DevOps integration cannot show, from what the satellite delivered:", GAPS)
    rows("And the DORA four and flow metrics from the same records:", ALSO)
    return "\n".join(lines), all_match

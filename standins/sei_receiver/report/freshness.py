"""Freshness: the receiver time of the batch that brought a record minus the record's change time on the
server, for changes made after the receiver's first batch (a backfill of history is not late)."""

from __future__ import annotations

from standins.sei_receiver.report.fields import text, time_of
from standins.sei_receiver.report.model import Metric, duration_metric
from standins.sei_receiver.report.records import Snapshot
from standins.sei_receiver.report.stats import Sample
from standins.sei_receiver.report.times import from_epoch, seconds_between

__all__ = ["FRESHNESS", "freshness_metrics"]

FRESHNESS = (  # id, title, record type, path to the change time, path to the project name
    ("freshness_git_push", "Freshness of pushes", "git.push", ("date",), ("repository", "project", "name")),
    ("freshness_build", "Freshness of builds", "build.build", ("lastChangedDate",), ("project", "name")),
    ("freshness_work_item", "Freshness of work item revisions", "wit.work_item_revision",
     ("fields", "System.ChangedDate"), ("fields", "System.TeamProject")),
)


def freshness_metrics(snapshot: Snapshot) -> tuple[Metric, ...]:
    first = snapshot.first_batch_at
    metrics = []
    for metric_id, title, record_type, changed_at, project_at in FRESHNESS:
        samples, skipped = [], 0
        for record in snapshot.of(record_type):
            changed = time_of(record.data, *changed_at)
            if changed is None or record.received_at is None:
                skipped += 1
                continue
            if first is None or changed.timestamp() <= first:
                continue
            received = from_epoch(record.received_at)
            samples.append(Sample(text(record.data, *project_at) or "-", seconds_between(changed, received), received))
        reason = None if samples else "no change on the server after the receiver's first batch (a backfill is not late)"
        metrics.append(duration_metric(metric_id, title, samples, skipped=skipped, reason=reason))
    return tuple(metrics)

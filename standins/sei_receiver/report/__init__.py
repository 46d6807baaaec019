"""``satellite receiver report``: the metrics of docs/metrics.md computed from the records the receiver stored.

``build_report(storage_or_db_path)`` -> ``Report``; ``Report.to_json()`` is the interface the HTML page
and the ground-truth comparison code against. Its shape, exactly:

    {"generated_at": "2026-12-04T18:40:00.123456Z",
     "server": {"api_versions": ["7.0", ...]},          # from the heartbeats; [] = unknown
     "metrics": {"<id>": {
         "title": str,
         "unit": "seconds" | "ratio" | "count" | "per_week",
         "available": bool,                               # False: the server version lacks the data
         "reason": str | null,                            # why not available, or what part is missing
         "summary": {"count": int, "p50": int | null, "p90": int | null, "value": float | null},
         "groups": [{"name": str, "count": int, "p50": int | null, "p90": int | null, "counts": {str: int}}],
         "weekly": [{"week": "2024-W03", "count": int, "p50": int | null}],
         "counts": {str: int},
         "skipped": int}}}                                # records lacking a field the metric needs

Metric ids, in this order: pipeline_duration, queue_time, job_duration, stage_status, release_stage_status,
deployment_frequency, change_failure_rate, time_to_restore, lead_time, pr_coding, pr_pickup, pr_review,
pr_merge, pr_total, work_item_cycle_time, freshness_git_push, freshness_build, freshness_work_item.

- Durations (unit "seconds") are whole seconds; p50/p90 are nearest-rank samples; ``weekly`` is the ISO week
  of each sample's end time, sorted; ``groups`` are sorted by name.
- pipeline_duration, queue_time: groups per pipeline (``definition.name``); pipeline_duration's counts are
  builds per result (overall and per group).
- job_duration: groups ``"<pipeline> / <job name>"``.
- stage_status (build stages, groups per pipeline) and release_stage_status (classic release environments,
  groups per release definition): unit "count"; summary.count = stages; counts (overall and per group) =
  stages per result/status, plus ``reruns`` (stages with attempt > 1) and ``attempts`` (sum of attempts).
- deployment_frequency: unit "per_week"; summary.count = succeeded + partially succeeded production
  deployments, summary.value = deployments per week; weekly = every ISO week from the first deployment's to
  the last's (0 where none); counts = {week: deployments} of the weeks that had some (no zeros); groups
  per deployment pipeline, their counts per result (succeeded, partiallySucceeded).
- change_failure_rate: unit "ratio"; summary.value = failed / (succeeded + partiallySucceeded + failed),
  null without deployments; summary.count = that denominator; counts = {succeeded, partiallySucceeded,
  failed, canceled}; groups per deployment pipeline (counts alike).
- time_to_restore, lead_time: seconds; groups per deployment pipeline / build pipeline.
- pr_coding .. pr_total: seconds, groups per repository name. work_item_cycle_time: groups per work item type.
- freshness_*: seconds, groups per project name (where the record names one); without a change after the
  receiver's first batch, count 0 and ``reason`` says so (available: it is a measurement of nothing late).
- The deployment metrics join classic releases and YAML environments; where the server version has no YAML
  environments (before api-version 6.0) they stay available from classic releases and ``reason`` says
  "YAML environments: not available on this server version (...)".
"""

from standins.sei_receiver.report.build import METRIC_IDS, build_report
from standins.sei_receiver.report.model import Group, Metric, Report, Summary, Week

__all__ = ["METRIC_IDS", "Group", "Metric", "Report", "Summary", "Week", "build_report"]

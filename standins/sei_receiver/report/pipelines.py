"""CI/CD metrics from builds and their timelines: pipeline duration, queue time, job duration, stage status
(docs/metrics.md, "CI/CD job duration and pipeline duration" and "Stage status per run")."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace

from standins.sei_receiver.report.fields import dig, integer, text, time_of
from standins.sei_receiver.report.model import Group, Metric, Summary, duration_metric
from standins.sei_receiver.report.records import Snapshot
from standins.sei_receiver.report.stats import Sample
from standins.sei_receiver.report.times import seconds_between

__all__ = ["build_key_of", "job_duration", "pipeline_duration", "queue_time", "release_stage_status", "stage_status"]


def build_key_of(timeline_key: str) -> str:
    """``{collectionId}:{buildId}:{recordId}`` -> ``{collectionId}:{buildId}``."""
    return timeline_key.rsplit(":", 1)[0]


def _completed_builds(snapshot: Snapshot):
    """(record, definition name, start, finish) of each completed build with both times; and how many lacked one."""
    found, skipped = [], 0
    for record in snapshot.of("build.build"):
        if text(record.data, "status") != "completed":
            continue
        name, start, finish = text(record.data, "definition", "name"), time_of(record.data, "startTime"), time_of(record.data, "finishTime")
        if name is None or start is None or finish is None:
            skipped += 1
            continue
        found.append((record, name, start, finish))
    return found, skipped


def pipeline_duration(snapshot: Snapshot) -> Metric:
    builds, skipped = _completed_builds(snapshot)
    results: dict[str, Counter] = defaultdict(Counter)
    for record, name, _, _ in builds:
        results[name][text(record.data, "result") or "none"] += 1
    samples = [Sample(name, seconds_between(start, finish), finish) for _, name, start, finish in builds]
    per_group = {name: dict(sorted(c.items())) for name, c in results.items()}
    metric = duration_metric("pipeline_duration", "Pipeline duration", samples, skipped=skipped, group_counts=per_group)
    return replace(metric, counts=dict(sorted(sum(results.values(), Counter()).items())))


def queue_time(snapshot: Snapshot) -> Metric:
    builds, skipped = _completed_builds(snapshot)
    samples = []
    for record, name, start, finish in builds:
        queued = time_of(record.data, "queueTime")
        if queued is None:
            skipped += 1
            continue
        samples.append(Sample(name, seconds_between(queued, start), finish))
    return duration_metric("queue_time", "Queue time", samples, skipped=skipped)


def job_duration(snapshot: Snapshot) -> Metric:
    """Jobs of completed timelines, grouped by ``pipeline / job``; a job never started is no sample."""
    pipelines = {r.key: text(r.data, "definition", "name") for r in snapshot.of("build.build")}
    samples, skipped = [], 0
    for record in snapshot.of("build.timeline_record"):
        data = record.data
        if text(data, "type") != "Job" or text(data, "state") != "completed":
            continue
        start, finish = time_of(data, "startTime"), time_of(data, "finishTime")
        if start is None and "startTime" not in data:
            continue  # skipped: it never ran
        pipeline, job = pipelines.get(build_key_of(record.key)), text(data, "name")
        if start is None or finish is None or pipeline is None or job is None:
            skipped += 1
            continue
        samples.append(Sample(f"{pipeline} / {job}", seconds_between(start, finish), finish))
    return duration_metric("job_duration", "CI/CD job duration", samples, skipped=skipped)


def stage_status(snapshot: Snapshot) -> Metric:
    """Stages of build timelines per pipeline: counts per result (a stage not finished counts under its
    state), ``reruns`` (stages with attempt > 1) and ``attempts`` (their sum)."""
    pipelines = {r.key: text(r.data, "definition", "name") for r in snapshot.of("build.build")}
    per_group: dict[str, Counter] = defaultdict(Counter)
    skipped = 0
    for record in snapshot.of("build.timeline_record"):
        data = record.data
        if text(data, "type") != "Stage":
            continue
        pipeline = pipelines.get(build_key_of(record.key))
        status = text(data, "result") or text(data, "state")
        if pipeline is None or status is None:
            skipped += 1
            continue
        attempt = integer(data, "attempt") or 1
        per_group[pipeline].update({status: 1, "reruns": int(attempt > 1), "attempts": attempt})
    return _status_metric("stage_status", "Stage status per run", per_group, skipped)


def release_stage_status(snapshot: Snapshot) -> Metric:
    """Classic release environments per release definition: counts per status, ``reruns`` (deployed more
    than once) and ``attempts`` (deploy steps)."""
    per_group: dict[str, Counter] = defaultdict(Counter)
    skipped = 0
    for record in snapshot.of("release.release"):
        definition = text(record.data, "releaseDefinition", "name")
        environments = dig(record.data, "environments")
        if definition is None or not isinstance(environments, list):
            skipped += 1
            continue
        for environment in environments:
            status = text(environment, "status")
            steps = dig(environment, "deploySteps")
            if status is None:
                skipped += 1
                continue
            attempts = len(steps) if isinstance(steps, list) else 0
            per_group[definition].update({status: 1, "reruns": int(attempts > 1), "attempts": attempts})
    return _status_metric("release_stage_status", "Release stage status per run", per_group, skipped)


_TALLIES = ("reruns", "attempts")


def _status_metric(metric_id: str, title: str, per_group: dict[str, Counter], skipped: int) -> Metric:
    total = sum(per_group.values(), Counter())
    groups = tuple(Group(name, _items(c), counts=_counts(c)) for name, c in sorted(per_group.items()))
    return Metric(metric_id, title, "count", Summary(_items(total)), groups, (), _counts(total), skipped=skipped)


def _items(counter: Counter) -> int:
    return sum(n for k, n in counter.items() if k not in _TALLIES)


def _counts(counter: Counter) -> dict[str, int]:
    """Statuses sorted, then reruns and attempts (always present)."""
    statuses = {k: counter[k] for k in sorted(counter) if k not in _TALLIES}
    return statuses | {t: counter.get(t, 0) for t in _TALLIES}

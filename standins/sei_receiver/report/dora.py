"""The DORA four from production deployments: deployment frequency, change failure rate, time to restore
service, lead time for changes (docs/metrics.md, "Deployments")."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

from standins.sei_receiver.report.deployments import (
    Deployment,
    production_deployments,
    yaml_reason,
)
from standins.sei_receiver.report.fields import integer, text, time_of
from standins.sei_receiver.report.model import (
    Group,
    Metric,
    Summary,
    Week,
    duration_metric,
)
from standins.sei_receiver.report.records import Snapshot
from standins.sei_receiver.report.stats import Sample
from standins.sei_receiver.report.times import iso_week, seconds_between

__all__ = ["change_failure_rate", "deployment_frequency", "dora_metrics", "lead_time", "time_to_restore"]


def dora_metrics(snapshot: Snapshot) -> tuple[Metric, ...]:
    """The four, from one read of the production deployments."""
    deployments = production_deployments(snapshot)
    reason = yaml_reason(snapshot)
    metrics = (
        deployment_frequency(deployments.items),
        change_failure_rate(deployments.items),
        time_to_restore(deployments.items),
        lead_time(snapshot, deployments.items),
    )
    return tuple(replace(m, reason=reason, skipped=m.skipped + deployments.skipped) for m in metrics)


def deployment_frequency(deployments: tuple[Deployment, ...]) -> Metric:
    """Succeeded and partially succeeded production deployments; per week over every week from the first
    deployment's to the last's (weeks without one count 0)."""
    done = [d for d in deployments if d.succeeded]
    per_week = Counter(iso_week(d.finish) for d in done)
    weeks = _weeks_between(min(d.finish for d in done), max(d.finish for d in done)) if done else []
    per_group: dict[str, Counter] = defaultdict(Counter)
    for d in done:
        per_group[d.pipeline_name][d.result] += 1
    groups = tuple(Group(name, sum(c.values()), counts=dict(sorted(c.items()))) for name, c in sorted(per_group.items()))
    value = len(done) / len(weeks) if weeks else None
    return Metric("deployment_frequency", "Deployment frequency", "per_week", Summary(len(done), value=value), groups,
                  tuple(Week(w, per_week.get(w, 0)) for w in weeks), {w: per_week[w] for w in weeks if per_week[w]})


def _weeks_between(first: datetime, last: datetime) -> list[str]:
    monday = (first - timedelta(days=first.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    weeks = []
    while monday <= last:
        weeks.append(iso_week(monday))
        monday += timedelta(days=7)
    return weeks


def change_failure_rate(deployments: tuple[Deployment, ...]) -> Metric:
    """failed / (succeeded + partiallySucceeded + failed); canceled ones are counted apart, not in the rate."""
    per_group: dict[str, Counter] = defaultdict(Counter)
    for d in deployments:
        per_group[d.pipeline_name][d.result] += 1
    total = sum(per_group.values(), Counter())
    groups = tuple(Group(name, _judged(c), counts=_outcomes(c)) for name, c in sorted(per_group.items()))
    judged = _judged(total)
    value = total["failed"] / judged if judged else None
    return Metric("change_failure_rate", "Change failure rate", "ratio", Summary(judged, value=value), groups, (),
                  _outcomes(total))


def _judged(counts: Counter) -> int:
    return counts["succeeded"] + counts["partiallySucceeded"] + counts["failed"]


def _outcomes(counts: Counter) -> dict[str, int]:
    return {k: counts.get(k, 0) for k in ("succeeded", "partiallySucceeded", "failed", "canceled")}


def time_to_restore(deployments: tuple[Deployment, ...]) -> Metric:
    """Per pipeline, by finish time: a run of failures ends at the next success; canceled ones are passed over."""
    by_pipeline: dict[tuple, list[Deployment]] = defaultdict(list)
    for d in deployments:
        by_pipeline[d.pipeline].append(d)
    samples = []
    for items in by_pipeline.values():
        first_failure = None
        for d in items:  # already ordered by finish
            if d.result == "failed" and first_failure is None:
                first_failure = d
            elif d.succeeded and first_failure is not None:
                samples.append(Sample(d.pipeline_name, seconds_between(first_failure.finish, d.finish), d.finish))
                first_failure = None
    return duration_metric("time_to_restore", "Time to restore service", samples)


def lead_time(snapshot: Snapshot, deployments: tuple[Deployment, ...]) -> Metric:
    """First production deployment shipping a commit minus its time, once per commit id; a deployment of build
    B ships the changes of every build of B's definition and branch with an id up to B's."""
    builds = {r.key: r.data for r in snapshot.of("build.build")}
    lines: dict[tuple, list[tuple[int, datetime, str]]] = defaultdict(list)
    for d in deployments:
        build = builds.get(d.build_key) if d.succeeded and d.build_key else None
        line = _line_of(d.build_key, build) if build is not None else None
        if line is not None:
            lines[line].append((integer(build, "id"), d.finish, text(build, "definition", "name") or str(line[1])))
    shipping = {line: _earliest_from(items) for line, items in lines.items()}
    earliest: dict[str, tuple[datetime, datetime, str]] = {}  # commit id -> (deployed, committed, pipeline)
    skipped = 0
    for record in snapshot.of("build.change"):
        build_key = record.key.rsplit(":", 1)[0]
        build = builds.get(build_key)
        change, committed = text(record.data, "id"), time_of(record.data, "timestamp")
        line = _line_of(build_key, build) if build is not None else None
        if change is None or committed is None or line is None:
            skipped += 1
            continue
        if line not in shipping:
            continue
        found = shipping[line](integer(build, "id"))
        if found is not None and (change not in earliest or found[0] < earliest[change][0]):
            earliest[change] = (found[0], committed, found[1])
    samples = [Sample(name, seconds_between(committed, deployed), deployed) for deployed, committed, name in earliest.values()]
    return duration_metric("lead_time", "Lead time for changes", samples, skipped=skipped)


def _line_of(build_key: str, build) -> tuple | None:
    """(collection, definition id, branch): the builds one deployment of a later build also ships."""
    definition, branch, number = integer(build, "definition", "id"), text(build, "sourceBranch"), integer(build, "id")
    if definition is None or branch is None or number is None:
        return None
    return build_key.split(":", 1)[0], definition, branch


def _earliest_from(items: list[tuple[int, datetime, str]]):
    """build id -> (earliest finish, pipeline) of the deployments of builds with an id >= it, or None."""
    items = sorted(items, key=lambda i: i[0])
    ids = [i[0] for i in items]
    suffix: list[tuple[datetime, str]] = []
    best = None
    for _, finish, name in reversed(items):
        if best is None or finish < best[0]:
            best = (finish, name)
        suffix.append(best)
    suffix.reverse()

    def earliest(build_id: int | None):
        if build_id is None:
            return None
        at = bisect.bisect_left(ids, build_id)
        return suffix[at] if at < len(ids) else None

    return earliest

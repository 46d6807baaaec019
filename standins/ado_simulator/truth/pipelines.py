"""CI/CD truth from the build and release model: pipeline and job durations, queue time, stage status.

Everything is read as the server shows it at ``world.clock``: builds that exist (not deleted),
completed builds for durations, timelines of started builds through ``BuildDomain.timeline``,
releases that are not deleted with their deployments' statuses at the clock.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING

from standins.ado_simulator.truth.figures import (
    GroupTruth,
    MetricTruth,
    Sample,
    duration_metric,
)
from standins.ado_simulator.truth.instants import (
    FINISHED,
    QUEUED,
    STARTED,
    build_instant,
    seconds_between,
    timeline_instant,
)
from standins.ado_simulator.world.pipelines.builds import (
    COMPLETED,
    NOT_STARTED,
    Build,
    BuildDomain,
    builds_of,
)
from standins.ado_simulator.world.pipelines.releases import releases_of

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["completed_builds", "job_duration", "pipeline_duration", "queue_time", "release_stage_status", "stage_status", "timeline_metrics"]

STAGES = "\0stages"  # the per-group tally of stages (environments), kept apart from the result names


def completed_builds(world: World) -> list[Build]:
    """The builds a reader sees as completed now (deleted ones are gone)."""
    return [b for b in builds_of(world).builds if not b.deleted and b.status == COMPLETED]


def _pipeline(domain: BuildDomain, build: Build) -> str:
    return domain.definitions[build.definition - 1].name


def pipeline_duration(world: World) -> MetricTruth:
    """finishTime - startTime of every completed build, per pipeline (definition name); counts: builds per result."""
    domain = builds_of(world)
    samples = []
    per_group: dict[str, Counter[str]] = defaultdict(Counter)
    for build in completed_builds(world):
        start, finish = build_instant(build.started, build.id, STARTED), build_instant(build.finished, build.id, FINISHED)
        pipeline = _pipeline(domain, build)
        samples.append(Sample(pipeline, seconds_between(start, finish), finish))
        per_group[pipeline][build.result] += 1
    total: Counter[str] = Counter()
    for counts in per_group.values():
        total.update(counts)
    return duration_metric("pipeline_duration", samples, group_counts=per_group, counts=total)


def queue_time(world: World) -> MetricTruth:
    """startTime - queueTime of the same builds, per pipeline; weeks of the build's finish, as for its duration."""
    domain = builds_of(world)
    samples = []
    for build in completed_builds(world):
        queued, start = build_instant(build.queued, build.id, QUEUED), build_instant(build.started, build.id, STARTED)
        finish = build_instant(build.finished, build.id, FINISHED)
        samples.append(Sample(_pipeline(domain, build), seconds_between(queued, start), finish))
    return duration_metric("queue_time", samples)


def _started_builds(world: World) -> list[Build]:
    """Builds with a timeline now: started and not deleted."""
    return [b for b in builds_of(world).builds if not b.deleted and b.status != NOT_STARTED]


def timeline_metrics(world: World) -> tuple[MetricTruth, MetricTruth]:
    """(job_duration, stage_status) from one pass over the timelines (generating them is the costly part).

    Job duration: completed Job records with both times, per "pipeline / job". Stage status: Stage records
    per pipeline, counts per result (one not finished counts under its state), ``reruns`` (attempt > 1) and
    ``attempts`` (the sum of attempts); ``count`` = the stage records."""
    domain = builds_of(world)
    samples = []
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for build in _started_builds(world):
        pipeline = _pipeline(domain, build)
        counts = per[pipeline]
        for record in domain.timeline(build, world.clock):
            if record.type == "Stage":
                counts[STAGES] += 1
                counts[record.result or record.state] += 1
                counts["attempts"] += record.attempt
                counts["reruns"] += record.attempt > 1
            elif record.type == "Job" and record.state == "completed" and record.start is not None \
                    and record.finish is not None:
                start = timeline_instant(record.start, record.id, finish=False)
                finish = timeline_instant(record.finish, record.id, finish=True)
                samples.append(Sample(f"{pipeline} / {record.name}", seconds_between(start, finish), finish))
    return duration_metric("job_duration", samples), _status_metric("stage_status", per, STAGES)


def job_duration(world: World) -> MetricTruth:
    return timeline_metrics(world)[0]


def stage_status(world: World) -> MetricTruth:
    return timeline_metrics(world)[1]


def release_stage_status(world: World) -> MetricTruth:
    """Every environment of every (not deleted) release, per release definition name: counts per environment
    ``status`` as the server shows it at the clock, ``reruns`` (more than one deploy step) and ``attempts``
    (deploy steps)."""
    domain = releases_of(world)
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for release in domain.releases:
        if release.deleted:
            continue
        definition = domain.definitions[release.definition - 1]
        counts = per[definition.name]
        deployments = domain.deployments_of(release)
        for index in range(len(definition.environments)):
            counts[STAGES] += 1
            counts[domain.environment_status(release, index, world.clock)] += 1
            steps = sum(1 for d in deployments if d.environment == index)
            counts["attempts"] += steps
            if steps > 1:
                counts["reruns"] += 1
    return _status_metric("release_stage_status", per, STAGES)


def _status_metric(metric_id: str, per: dict[str, Counter[str]], unit: str) -> MetricTruth:
    """count = the stages (environments); counts without that unit, zero counts left out."""
    total: Counter[str] = Counter()
    groups = []
    for name in sorted(per):
        total.update(per[name])
        groups.append(GroupTruth(name, per[name][unit], counts=_without(per[name], unit)))
    return MetricTruth(metric_id, count=total[unit], counts=_without(total, unit), groups=tuple(groups))


def _without(counts: Counter[str], unit: str) -> dict[str, int]:
    """The statuses met, then ``reruns`` and ``attempts`` (always, 0 included)."""
    statuses = {k: v for k, v in sorted(counts.items()) if k not in (unit, "reruns", "attempts") and v}
    return statuses | {"reruns": counts["reruns"], "attempts": counts["attempts"]}

"""Production deployments from the model (classic releases and YAML environments) and the DORA four.

docs/metrics.md "Deployments": a production environment's name, lower-cased, is ``prod``,
``production`` or starts with ``prod``. Classic: the deployments of releases that are not deleted,
finished as the clock shows them (``completedOn``), of the release's build; pipeline =
(release definition, environment name). YAML: see ``yaml_deployments``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from standins.ado_simulator.truth.figures import (
    GroupTruth,
    MetricTruth,
    Sample,
    WeekTruth,
    duration_metric,
    iso_week,
)
from standins.ado_simulator.truth.instants import (
    FINISHED,
    release_instant,
    seconds_between,
)
from standins.ado_simulator.world.pipelines.releases import releases_of

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = [
    "FINISHED_RESULTS",
    "GOOD",
    "ProductionDeployment",
    "change_failure_rate",
    "classic_deployments",
    "deployment_frequency",
    "is_production",
    "time_to_restore",
]

GOOD = ("succeeded", "partiallySucceeded")
FINISHED_RESULTS = GOOD + ("failed", "canceled")


@dataclass(frozen=True, slots=True)
class ProductionDeployment:
    """One finished deployment to a production environment."""

    source: str  # "classic" | "yaml"
    key: str  # the pipeline: classic "release:<definition id>:<environment name>", YAML "yaml:<definition id>:<environment id>"
    pipeline: str  # its name: classic "<release definition> / <environment>", YAML "<pipeline> / <environment>"
    build_id: int
    result: str  # succeeded | partiallySucceeded | failed | canceled
    finish_us: int


def is_production(name: str) -> bool:
    lowered = name.lower()
    return lowered in ("prod", "production") or lowered.startswith("prod")


def classic_deployments(world: World) -> list[ProductionDeployment]:
    """Finished deployments to production environments of releases that are not deleted."""
    domain = releases_of(world)
    clock = world.clock
    found = []
    for deployment in domain.deployments:
        release = domain.releases[deployment.release - 1]
        definition = domain.definitions[release.definition - 1]
        name = definition.environments[deployment.environment]
        if release.deleted or not is_production(name) or not deployment.done(clock):
            continue
        finish = release_instant(deployment.completed, deployment.id, FINISHED)
        found.append(ProductionDeployment("classic", f"release:{definition.id}:{name}", f"{definition.name} / {name}", release.build,
                                          deployment.status(clock), finish))
    return found


def _weeks_between(first: str, last: str) -> list[str]:
    """Every ISO week from ``first`` to ``last``, both included."""
    monday = dt.date.fromisocalendar(int(first[:4]), int(first[6:]), 1)
    weeks = []
    while True:
        year, week, _ = monday.isocalendar()
        weeks.append(f"{year}-W{week:02d}")
        if weeks[-1] >= last:
            return weeks
        monday += dt.timedelta(days=7)


def deployment_frequency(deployments: list[ProductionDeployment]) -> MetricTruth:
    """Succeeded and partially succeeded production deployments: count; weekly over every week from the first
    deployment's to the last's (0 where none); value = deployments per such week; counts = the weeks that had
    some; groups per pipeline with their counts per result."""
    good = [d for d in deployments if d.result in GOOD]
    per_week = Counter(iso_week(d.finish_us) for d in good)
    weeks = _weeks_between(min(per_week), max(per_week)) if per_week else []
    per_pipeline: dict[str, Counter[str]] = defaultdict(Counter)
    for d in good:
        per_pipeline[d.pipeline][d.result] += 1
    groups = tuple(GroupTruth(name, sum(c.values()), counts=dict(sorted(c.items())))
                   for name, c in sorted(per_pipeline.items()))
    return MetricTruth("deployment_frequency", count=len(good), value=len(good) / len(weeks) if weeks else None,
                       counts={week: n for week, n in sorted(per_week.items())}, groups=groups,
                       weekly=tuple(WeekTruth(week, per_week[week], None) for week in weeks))


def _failure_counts(deployments: list[ProductionDeployment]) -> dict[str, int]:
    return {result: sum(1 for d in deployments if d.result == result) for result in FINISHED_RESULTS}


def _rate(counts: dict[str, int]) -> tuple[int, float | None]:
    counted = counts["succeeded"] + counts["partiallySucceeded"] + counts["failed"]
    return counted, counts["failed"] / counted if counted else None


def change_failure_rate(deployments: list[ProductionDeployment]) -> MetricTruth:
    """failed / (succeeded + partiallySucceeded + failed); canceled ones are not counted. Per pipeline alike."""
    per: dict[str, list[ProductionDeployment]] = defaultdict(list)
    for d in deployments:
        per[d.pipeline].append(d)
    groups = []
    for name in sorted(per):
        counts = _failure_counts(per[name])
        groups.append(GroupTruth(name, _rate(counts)[0], counts=counts))
    counts = _failure_counts(deployments)
    counted, rate = _rate(counts)
    return MetricTruth("change_failure_rate", count=counted, value=rate, counts=counts, groups=tuple(groups))


def time_to_restore(deployments: list[ProductionDeployment]) -> MetricTruth:
    """Per pipeline, by finish time: a run of failed deployments ends at the next good one; the sample is that
    one's finish minus the run's first failure's finish. Canceled deployments neither fail nor restore."""
    per: dict[str, list[ProductionDeployment]] = defaultdict(list)
    for d in deployments:
        per[d.key].append(d)
    samples = []
    for items in per.values():
        first_failure: int | None = None
        for d in sorted(items, key=lambda d: d.finish_us):
            if d.result == "failed" and first_failure is None:
                first_failure = d.finish_us
            elif d.result in GOOD and first_failure is not None:
                samples.append(Sample(d.pipeline, seconds_between(first_failure, d.finish_us), d.finish_us))
                first_failure = None
    return duration_metric("time_to_restore", samples)

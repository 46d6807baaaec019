"""The figures a metric reports (count, nearest-rank p50/p90, counts, groups, weeks), as typed values.

docs/metrics.md: p50/p90 are nearest-rank (``sorted[ceil(p * n) - 1]``), so a median is always a
sample; a trend per week groups samples by the ISO week (``YYYY-Www``) of the sample's end time.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "GroupTruth",
    "MetricTruth",
    "Sample",
    "WeekTruth",
    "duration_metric",
    "iso_week",
    "nearest_rank",
    "unavailable",
    "weekly",
]


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample of ``group``: ``seconds`` (a whole-second duration) ending at ``end_us`` (Unix microseconds)."""

    group: str
    seconds: int
    end_us: int


@dataclass(frozen=True, slots=True)
class WeekTruth:
    week: str  # ISO week of the end times, "2024-W05"
    count: int
    p50: int


@dataclass(frozen=True, slots=True)
class GroupTruth:
    """The figures of one group (a pipeline, a pipeline and job, a release definition...)."""

    name: str
    count: int
    p50: int | None = None
    p90: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MetricTruth:
    """What the simulator's own model says a metric is. ``available`` False: the server version lacks
    the data (``reason`` says why); never zeros in its place."""

    id: str
    available: bool = True
    reason: str | None = None
    count: int = 0
    p50: int | None = None
    p90: int | None = None
    value: float | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    groups: tuple[GroupTruth, ...] = ()
    weekly: tuple[WeekTruth, ...] = ()

    def group(self, name: str) -> GroupTruth | None:
        return next((g for g in self.groups if g.name == name), None)


def nearest_rank(values: Iterable[int], p: float) -> int | None:
    """``sorted[ceil(p * n) - 1]`` in integer arithmetic (p in hundredths), None for no samples."""
    ordered = sorted(values)
    if not ordered:
        return None
    hundredths = round(p * 100)
    rank = -(-hundredths * len(ordered) // 100)  # ceil without floating point
    return ordered[max(rank, 1) - 1]


def iso_week(end_us: int) -> str:
    year, week, _ = dt.datetime.fromtimestamp(end_us / 1_000_000, dt.UTC).isocalendar()
    return f"{year}-W{week:02d}"


def weekly(samples: Iterable[Sample]) -> tuple[WeekTruth, ...]:
    """Count and p50 per ISO week of the samples' end times, oldest week first."""
    weeks: dict[str, list[int]] = defaultdict(list)
    for sample in samples:
        weeks[iso_week(sample.end_us)].append(sample.seconds)
    return tuple(WeekTruth(week, len(values), nearest_rank(values, 0.5) or 0) for week, values in sorted(weeks.items()))


def duration_metric(metric_id: str, samples: Iterable[Sample], *,
                    group_counts: Mapping[str, Mapping[str, int]] | None = None,
                    counts: Mapping[str, int] | None = None) -> MetricTruth:
    """A duration metric: count, p50, p90 overall, per group (sorted by name, with ``group_counts``) and per week."""
    samples = list(samples)
    per: dict[str, list[int]] = defaultdict(list)
    for sample in samples:
        per[sample.group].append(sample.seconds)
    groups = tuple(GroupTruth(name, len(values), nearest_rank(values, 0.5), nearest_rank(values, 0.9),
                              dict((group_counts or {}).get(name, {})))
                   for name, values in sorted(per.items()))
    values = [s.seconds for s in samples]
    return MetricTruth(metric_id, count=len(values), p50=nearest_rank(values, 0.5), p90=nearest_rank(values, 0.9),
                       counts=dict(counts or {}), groups=groups, weekly=weekly(samples))


def unavailable(metric_id: str, reason: str) -> MetricTruth:
    return MetricTruth(metric_id, available=False, reason=reason)

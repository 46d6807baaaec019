"""What the report holds: one ``Metric`` per id, and the ``Report``; both render to the JSON of the module docstring."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from standins.sei_receiver.report.stats import Sample, by_group, by_week, percentile

__all__ = ["Group", "Metric", "Report", "Summary", "Week", "duration_metric", "unavailable"]

Unit = Literal["seconds", "ratio", "count", "per_week"]


@dataclass(frozen=True)
class Summary:
    count: int
    p50: int | None = None
    p90: int | None = None
    value: float | None = None

    def to_json(self) -> dict:
        return {"count": self.count, "p50": self.p50, "p90": self.p90, "value": self.value}


@dataclass(frozen=True)
class Group:
    name: str
    count: int
    p50: int | None = None
    p90: int | None = None
    counts: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "count": self.count, "p50": self.p50, "p90": self.p90, "counts": dict(self.counts)}


@dataclass(frozen=True)
class Week:
    week: str
    count: int
    p50: int | None = None

    def to_json(self) -> dict:
        return {"week": self.week, "count": self.count, "p50": self.p50}


@dataclass(frozen=True)
class Metric:
    id: str
    title: str
    unit: Unit
    summary: Summary
    groups: tuple[Group, ...] = ()
    weekly: tuple[Week, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    available: bool = True
    reason: str | None = None
    skipped: int = 0  # records lacking a field this metric needs

    def to_json(self) -> dict:
        return {
            "title": self.title, "unit": self.unit, "available": self.available, "reason": self.reason,
            "summary": self.summary.to_json(), "groups": [g.to_json() for g in self.groups],
            "weekly": [w.to_json() for w in self.weekly], "counts": dict(self.counts), "skipped": self.skipped,
        }


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    api_versions: tuple[str, ...]
    metrics: tuple[Metric, ...]

    def metric(self, metric_id: str) -> Metric:
        return next(m for m in self.metrics if m.id == metric_id)

    def to_json(self) -> dict:
        return {
            "generated_at": self.generated_at.isoformat().replace("+00:00", "Z"),
            "server": {"api_versions": list(self.api_versions)},
            "metrics": {m.id: m.to_json() for m in self.metrics},
        }


def duration_metric(metric_id: str, title: str, samples: Iterable[Sample], *, skipped: int = 0,
                    reason: str | None = None, group_counts: Mapping[str, Mapping[str, int]] | None = None) -> Metric:
    """A metric of spans in seconds: count, p50, p90 overall, per group (sorted by name) and per ISO week."""
    samples = list(samples)
    values = [s.seconds for s in samples]
    groups = tuple(
        Group(name, len(v), percentile(v, 0.5), percentile(v, 0.9), (group_counts or {}).get(name, {}))
        for name, v in sorted(by_group(samples).items())
    )
    weekly = tuple(Week(week, len(v), percentile(v, 0.5)) for week, v in by_week(samples).items())
    summary = Summary(len(values), percentile(values, 0.5), percentile(values, 0.9))
    return Metric(metric_id, title, "seconds", summary, groups, weekly, {}, True, reason, skipped)


def unavailable(metric_id: str, title: str, unit: Unit, reason: str) -> Metric:
    """A metric the server cannot supply: no samples, never a zero that reads as a measurement."""
    return Metric(metric_id, title, unit, Summary(0), available=False, reason=reason)

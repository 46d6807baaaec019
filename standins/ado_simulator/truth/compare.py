"""Report against truth: what a report's JSON says differently from the simulator's ground truth.

The report's JSON is the interface (``satellite receiver report --json``); none of the report's code
is used here, so the comparison means something.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from standins.ado_simulator.truth.figures import MetricTruth

__all__ = ["differences", "NOT_AVAILABLE"]

NOT_AVAILABLE = "not available"


def _same_value(report: float | None, truth: float | None) -> bool:
    if report is None or truth is None:
        return report is truth
    return math.isclose(report, truth, rel_tol=1e-9, abs_tol=1e-12)


def differences(metric_id: str, report: Mapping | None, truth: MetricTruth) -> list[str]:
    """What the report's JSON says differently from the truth about one metric (empty: they agree):
    availability, counts and durations exactly, medians equal, per group and per week."""
    if report is None:
        return [f"{metric_id}: missing from the report"]
    found = []
    if report["available"] != truth.available:
        found.append(f"available: report {report['available']}, truth {truth.available}")
    if (NOT_AVAILABLE in (report["reason"] or "")) != (NOT_AVAILABLE in (truth.reason or "")):
        found.append(f"reason: report {report['reason']!r}, truth {truth.reason!r}")
    summary = report["summary"]
    for name in ("count", "p50", "p90"):
        if summary[name] != getattr(truth, name):
            found.append(f"{name}: report {summary[name]}, truth {getattr(truth, name)}")
    if not _same_value(summary["value"], truth.value):
        found.append(f"value: report {summary['value']}, truth {truth.value}")
    if dict(report["counts"]) != dict(truth.counts):
        found.append(f"counts: report {report['counts']}, truth {dict(truth.counts)}")
    groups = {g["name"]: (g["count"], g["p50"], g["p90"], dict(g["counts"])) for g in report["groups"]}
    expected = {g.name: (g.count, g.p50, g.p90, dict(g.counts)) for g in truth.groups}
    if groups != expected:
        differ = sorted(n for n in groups.keys() | expected.keys() if groups.get(n) != expected.get(n))
        found.append(f"{len(differ)} groups differ, e.g. " + "; ".join(
            f"{n!r}: report {groups.get(n)}, truth {expected.get(n)}" for n in differ[:3]))
    weeks = [(w["week"], w["count"], w["p50"]) for w in report["weekly"]]
    expected_weeks = [(w.week, w.count, w.p50) for w in truth.weekly]
    if weeks != expected_weeks:
        differ = [(a, b) for a, b in zip(weeks, expected_weeks) if a != b][:2]
        found.append(f"weekly: report {len(weeks)} weeks, truth {len(expected_weeks)}; first differing {differ}")
    return [f"{metric_id}: {line}" for line in found]

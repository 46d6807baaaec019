"""The demo's comparison of report and truth finds every kind of difference (it must be able to fail)."""

from __future__ import annotations

import pytest

from standins.ado_simulator.truth import GroupTruth, MetricTruth, WeekTruth
from standins.ado_simulator.truth.compare import differences

TRUTH = MetricTruth("lead_time", count=3, p50=60, p90=120, counts={}, groups=(GroupTruth("CI", 3, 60, 120),),
                    weekly=(WeekTruth("2024-W03", 3, 60),))


def report(**changes) -> dict:
    metric = {"available": True, "reason": None, "summary": {"count": 3, "p50": 60, "p90": 120, "value": None},
              "counts": {}, "groups": [{"name": "CI", "count": 3, "p50": 60, "p90": 120, "counts": {}}],
              "weekly": [{"week": "2024-W03", "count": 3, "p50": 60}]}
    for path, value in changes.items():
        target = metric
        *parents, last = path.split("__")
        for step in parents:
            target = target[int(step)] if step.isdigit() else target[step]
        target[last] = value
    return metric


def test_a_report_equal_to_the_truth_has_no_difference():
    assert differences("lead_time", report(), TRUTH) == []


@pytest.mark.parametrize("change", [
    {"available": False}, {"reason": "not available on this server version"}, {"summary__count": 4}, {"summary__p50": 61},
    {"summary__p90": 119}, {"summary__value": 0.5}, {"counts": {"failed": 1}}, {"groups__0__p50": 59},
    {"groups__0__name": "CD"}, {"weekly__0__week": "2024-W04"}, {"weekly__0__count": 2},
])
def test_every_kind_of_difference_is_found(change):
    found = differences("lead_time", report(**change), TRUTH)
    assert found and all(line.startswith("lead_time: ") for line in found)


def test_a_metric_missing_from_the_report_is_a_difference():
    assert differences("lead_time", None, TRUTH) == ["lead_time: missing from the report"]

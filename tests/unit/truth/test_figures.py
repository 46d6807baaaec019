"""Nearest-rank percentiles, ISO weeks and the figures of a duration metric."""

from __future__ import annotations

import datetime as dt

from standins.ado_simulator.truth.figures import (
    GroupTruth,
    Sample,
    WeekTruth,
    duration_metric,
    iso_week,
    nearest_rank,
)
from standins.ado_simulator.truth.instants import US, seconds_between


def _us(text: str) -> int:
    when = dt.datetime.fromisoformat(text)
    return int(when.timestamp()) * US + when.microsecond


def test_nearest_rank_is_always_a_sample():
    assert nearest_rank([], 0.5) is None
    assert nearest_rank([7], 0.5) == nearest_rank([7], 0.9) == 7
    assert nearest_rank(range(1, 11), 0.5) == 5 and nearest_rank(range(1, 11), 0.9) == 9
    assert nearest_rank([3, 1, 2], 0.5) == 2 and nearest_rank([3, 1, 2], 0.9) == 3
    assert nearest_rank([4, 1], 0.5) == 1  # ceil(0.5 * 2) - 1 = 0: the lower one, never 2.5
    assert [nearest_rank(range(n), 0.9) for n in (19, 20, 21)] == [17, 17, 18]


def test_whole_seconds_floor_the_microseconds_both_ways():
    start = _us("2024-01-01T00:00:00.9000000Z")
    assert seconds_between(start, _us("2024-01-01T00:00:10.8999999Z")) == 9
    assert seconds_between(start, _us("2024-01-01T00:00:10.9000009Z")) == 10
    assert seconds_between(_us("2024-01-01T00:00:10Z"), _us("2024-01-01T00:00:09.5Z")) == -1


def test_iso_weeks_cross_years_as_iso_does():
    assert iso_week(_us("2024-01-01T00:00:00Z")) == "2024-W01"
    assert iso_week(_us("2023-01-01T12:00:00Z")) == "2022-W52"
    assert iso_week(_us("2024-12-30T00:00:00Z")) == "2025-W01"


def test_duration_metric_summary_groups_and_weeks():
    monday, next_week = _us("2024-01-08T10:00:00Z"), _us("2024-01-15T10:00:00Z")
    samples = [Sample("b", 30, monday), Sample("a", 10, monday), Sample("a", 20, next_week), Sample("a", 40, next_week)]
    metric = duration_metric("x", samples, group_counts={"a": {"succeeded": 3}})
    assert (metric.count, metric.p50, metric.p90, metric.available) == (4, 20, 40, True)
    assert metric.groups == (GroupTruth("a", 3, 20, 40, {"succeeded": 3}), GroupTruth("b", 1, 30, 30, {}))
    assert metric.weekly == (WeekTruth("2024-W02", 2, 10), WeekTruth("2024-W03", 2, 20))
    empty = duration_metric("y", [])
    assert (empty.count, empty.p50, empty.groups, empty.weekly) == (0, None, (), ())

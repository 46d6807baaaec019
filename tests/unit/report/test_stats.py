"""Times as .NET writes them, whole-second spans, nearest-rank percentiles, ISO weeks, human durations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from standins.sei_receiver.report.stats import human_duration, percentile
from standins.sei_receiver.report.times import iso_week, parse_time, seconds_between


@pytest.mark.parametrize("text, expected", [
    ("2024-01-02T00:01:17.0007919Z", datetime(2024, 1, 2, 0, 1, 17, 791, tzinfo=UTC)),
    ("2024-02-13T21:44:00Z", datetime(2024, 2, 13, 21, 44, tzinfo=UTC)),
    ("2024-03-22T17:01:35.919Z", datetime(2024, 3, 22, 17, 1, 35, 919000, tzinfo=UTC)),
    ("2024-03-22T18:01:35.5+01:00", datetime(2024, 3, 22, 17, 1, 35, 500000, tzinfo=UTC)),
    ("2024-03-22T12:31:35-0430", datetime(2024, 3, 22, 17, 1, 35, tzinfo=UTC)),
    ("2024-03-22T17:01:35", datetime(2024, 3, 22, 17, 1, 35, tzinfo=UTC)),
])
def test_server_times_parse_to_utc_microseconds(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("value", [None, "", "yesterday", 17, "2024-13-45T00:00:00Z", {"date": "x"}])
def test_what_is_not_a_time_is_none(value):
    assert parse_time(value) is None


def test_spans_floor_to_whole_seconds_after_truncating_to_microseconds():
    start = parse_time("2024-01-01T00:00:00.9999999Z")
    assert seconds_between(start, parse_time("2024-01-01T00:00:10.9999990Z")) == 10
    assert seconds_between(start, parse_time("2024-01-01T00:00:10.9999989Z")) == 9
    assert seconds_between(parse_time("2024-01-01T00:00:10Z"), parse_time("2024-01-01T00:00:09.5Z")) == -1


def test_nearest_rank_percentiles_are_samples():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([4, 1, 3, 2], 0.5) == 2  # ceil(0.5 * 4) = 2nd
    assert percentile([5, 1, 4, 2, 3], 0.5) == 3
    assert percentile(range(1, 11), 0.9) == 9
    assert percentile(range(1, 12), 0.9) == 10  # ceil(9.9) = 10th


def test_iso_weeks_follow_the_iso_calendar():
    assert iso_week(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-W01"
    assert iso_week(datetime(2024, 12, 30, tzinfo=UTC)) == "2025-W01"
    assert iso_week(datetime(2021, 1, 3, tzinfo=UTC)) == "2020-W53"


@pytest.mark.parametrize("seconds, text", [(None, "-"), (0, "0s"), (45, "45s"), (192, "3m12s"), (3900, "1h5m"),
                                           (187200, "2d4h"), (-192, "-3m12s")])
def test_human_durations(seconds, text):
    assert human_duration(seconds) == text

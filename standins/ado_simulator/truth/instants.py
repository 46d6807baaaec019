"""Model times as the server writes them, in Unix microseconds (what a reader parses them to).

The model keeps whole seconds; the wire adds a fraction derived from an id (builds, timeline
records, pull requests: 7 digits; releases: milliseconds; work item revisions: the revision's
millisecond stamp). docs/metrics.md takes durations as ``floor(finish - start)`` of the times
parsed to microseconds, so a sub-second fraction can take one second off a duration: the truth
needs the same instants. Each rule mirrors the body builder named in its docstring
(tests/unit/truth checks them against the bodies).
"""

from __future__ import annotations

import datetime as dt

from standins.ado_simulator.world.pipelines.builds import time_key

__all__ = [
    "FINISHED",
    "QUEUED",
    "STARTED",
    "US",
    "build_instant",
    "iso_instant",
    "pull_request_instant",
    "release_instant",
    "revision_instant",
    "seconds_between",
    "timeline_instant",
]

US = 1_000_000
QUEUED, STARTED, FINISHED = 0, 1, 2  # the ``kind`` of a build time (builds.stamp) and of a release time


def _ticks_us(seconds: int, ticks: int) -> int:
    """A 7-digit fraction (100 ns ticks) parsed to microseconds: the 7th digit is dropped."""
    return seconds * US + ticks // 10


def build_instant(seconds: int, build_id: int, kind: int) -> int:
    """queueTime / startTime / finishTime of a build (``builds.stamp``)."""
    return _ticks_us(*time_key(seconds, build_id, kind))


def timeline_instant(seconds: int, record_id: str, finish: bool) -> int:
    """startTime / finishTime of a timeline record (``build_bodies.timeline_json``)."""
    return _ticks_us(seconds, (int(record_id[:8], 16) + (3_333_331 if finish else 0)) % 10_000_000)


def pull_request_instant(seconds: int, pr_id: int, closed: bool) -> int:
    """creationDate / closedDate of a pull request (``pr_bodies.pull_request_json``)."""
    return _ticks_us(seconds, (pr_id + (1 if closed else 0)) * 2654435761 % 10_000_000)


def release_instant(seconds: int, key: int, kind: int) -> int:
    """A release-management time: milliseconds derived from an id (``releases.release_time``)."""
    return seconds * US + ((key * 7919 + kind * 331) % 1000) * 1000


def revision_instant(stamp_ms: int) -> int:
    """``System.ChangedDate`` of a work item revision: its millisecond stamp (``wit_bodies.wit_date``)."""
    return stamp_ms * 1000


def iso_instant(text: str) -> int:
    """An ISO time the model keeps as text (commit author dates): whole seconds or a fraction."""
    when = dt.datetime.fromisoformat(text)
    return int(when.timestamp()) * US + when.microsecond


def seconds_between(start_us: int, end_us: int) -> int:
    """Whole seconds from ``start_us`` to ``end_us``: ``floor``, negative spans included."""
    return (end_us - start_us) // US

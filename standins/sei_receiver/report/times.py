"""Server times as the Azure DevOps REST API writes them, parsed to UTC; whole-second spans; ISO weeks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["from_epoch", "iso_week", "parse_time", "seconds_between"]

# 2024-01-02T00:01:17.0007919Z, 2024-02-13T21:44:00Z, 2024-03-22T17:01:35.919+01:00, no zone = UTC
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?\Z", re.IGNORECASE
)


def parse_time(value: object) -> datetime | None:
    """A UTC datetime (fraction truncated to microseconds), or None for anything that is not an ISO time."""
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if zone and zone.upper() != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros)
    except ValueError:
        return None
    return (local - offset).replace(tzinfo=UTC)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def seconds_between(start: datetime, end: datetime) -> int:
    """``floor(end - start)`` in whole seconds (negative spans floor down too)."""
    delta = end - start
    return delta.days * 86400 + delta.seconds


def iso_week(moment: datetime) -> str:
    """``2024-W03``: the ISO year and week of a UTC time."""
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"

"""``schedule.backfill_window``: the hours (wall clock, in a time zone) when backfills may use the
server's full limit.

    window = BackfillWindow.parse("19:00-07:00", "Europe/Berlin")
    window.contains(datetime.now(timezone.utc))     # True from 19:00 to 06:59:59 Berlin time

A window whose start is after its end wraps over midnight; equal ends mean the whole day. The local
time of the instant decides, so a window keeps its wall-clock hours over daylight saving changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BackfillWindow", "parse_window", "parse_zone"]

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[time, time]:
    """``HH:MM-HH:MM`` -> (start, end); ValueError naming the expected form otherwise."""
    match = _WINDOW.match(text)
    if not match:
        raise ValueError('must be "HH:MM-HH:MM", e.g. "19:00-07:00"')
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("hours must be 00..23 and minutes 00..59")
    return time(h1, m1), time(h2, m2)


def parse_zone(name: str) -> tzinfo:
    """An IANA time zone (``Europe/Berlin``, ``UTC``); ValueError if unknown. ``UTC`` needs no time
    zone database (an image without one still starts with the default)."""
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError):
        raise ValueError("must be an IANA time zone such as UTC or Europe/Berlin") from None


@dataclass(frozen=True, slots=True)
class BackfillWindow:
    """From ``start`` (inclusive) to ``end`` (exclusive), local time in ``zone``."""

    start: time
    end: time
    zone: tzinfo

    @classmethod
    def parse(cls, text: str, zone: str = "UTC") -> BackfillWindow:
        start, end = parse_window(text)
        return cls(start, end, parse_zone(zone))

    def contains(self, instant: datetime) -> bool:
        """Whether ``instant`` (timezone-aware) falls inside the window."""
        local = instant.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        if self.start > self.end:
            return local >= self.start or local < self.end
        return True

"""The satellite's clock: UTC timestamps as records and batch headers write them."""

from __future__ import annotations

import time
from datetime import datetime, timezone

__all__ = ["utc_now"]

_last_now: tuple[int, str] = (0, "")


def utc_now() -> str:
    """Now in UTC to the millisecond, ``2024-05-01T12:00:00.123Z`` (formatted once per millisecond:
    a page of records shares it)."""
    global _last_now
    millis = time.time_ns() // 1_000_000
    last = _last_now
    if last[0] == millis:
        return last[1]
    moment = datetime.fromtimestamp(millis // 1000, timezone.utc).replace(microsecond=millis % 1000 * 1000)
    text = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    _last_now = (millis, text)
    return text

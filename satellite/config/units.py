"""Human units in configuration: durations ("30s", "5m", "1h30m", "1d") and byte sizes ("4MiB").

Parsers raise ``ValueError`` with a message that never contains the input.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = ["parse_duration", "format_duration", "parse_size", "format_size", "KiB", "MiB", "GiB"]

KiB = 1024
MiB = 1024**2
GiB = 1024**3

_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:\d+(?:ms|[dhms]))+")
_DURATION_PART = re.compile(r"(\d+)(ms|[dhms])")

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": KiB, "mib": MiB, "gib": GiB, "tib": 1024**4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")

DURATION_HINT = "expected a duration such as 500ms, 30s, 5m, 1h, 1d or a number of seconds"
SIZE_HINT = "expected a size such as 4MiB, 1GiB or a number of bytes"


def parse_duration(value: object) -> timedelta:
    """A timedelta from an int/str of seconds or a string like "30s", "5m", "1h30m", "1d"."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(DURATION_HINT)
        return _seconds(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text.isdigit():
            return _seconds(int(text))
        if _DURATION.fullmatch(text):
            return _seconds(sum(int(n) * (0.001 if u == "ms" else _DURATION_UNITS[u]) for n, u in _DURATION_PART.findall(text)))
    raise ValueError(DURATION_HINT)


def _seconds(seconds: float) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except OverflowError:  # beyond timedelta's 999999999 days
        raise ValueError(DURATION_HINT) from None


def format_duration(value: timedelta) -> str:
    """The shortest unit form of a duration, e.g. "5m", "1h30m", "0s"."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in _DURATION_UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_size(value: object) -> int:
    """Bytes from an int or a string like "4MiB", "512 KiB", "1GB", "1024"."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(SIZE_HINT)
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip().lower())
        if match and match.group(2) in _SIZE_UNITS:
            number = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
            if not math.isfinite(number):  # hundreds of digits
                raise ValueError(SIZE_HINT)
            return int(round(number))
    raise ValueError(SIZE_HINT)


def format_size(value: int) -> str:
    """A byte count in the largest binary unit that divides it, e.g. "4MiB"."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)

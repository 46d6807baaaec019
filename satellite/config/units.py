"""Human units in configuration: durations ("30s", "5m", "1h30m", "1d") and byte sizes ("4MiB").

Parsers raise ``ValueError`` with a message that never contains the input.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

__all__ = [
    "DURATION_PATTERN", "DURATION_HINT", "parse_duration", "format_duration",
    "SIZE_HINT", "parse_size", "format_size", "KiB", "MiB", "GiB",
]

KiB = 1024
MiB = 1024**2
GiB = 1024**3

_DURATION_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# The one definition of duration syntax: the parser matches it and the config JSON Schema (and so
# the Helm values schema) publishes it. Written for every regex dialect a validator may use
# (Python, ECMA-262, Go RE2): ASCII digits, letters of both cases, explicit whitespace, no flags.
_WS = r"[ \t\r\n]*"
_NUMBER = "[0-9]+"
_UNIT = "(?:[mM][sS]|[dDhHmMsS])"  # "ms" before "m"
DURATION_PATTERN = f"^{_WS}(?:{_NUMBER}{_WS}|(?:{_NUMBER}{_WS}{_UNIT}{_WS})+)$"
_DURATION = re.compile(DURATION_PATTERN)
_DURATION_PART = re.compile(f"({_NUMBER}){_WS}({_UNIT})")
_UNIT_MS = {"ms": 1, **{unit: seconds * 1000 for unit, seconds in _DURATION_UNITS.items()}}

_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
    "kib": KiB, "mib": MiB, "gib": GiB, "tib": 1024**4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")

DURATION_HINT = "expected a duration such as 500ms, 30s, 5m, 1h, 1d or a number of seconds"
SIZE_HINT = "expected a size such as 4MiB, 1GiB or a number of bytes"


def parse_duration(value: object) -> timedelta:
    """A timedelta from an int/str of seconds or a string like "500ms", "30s", "5m", "1h30m", "1d".

    A string is accepted exactly when it matches ``DURATION_PATTERN``; only its range is checked
    beyond that (beyond ``timedelta`` is an error).
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(DURATION_HINT)
        return _milliseconds(value * 1000)
    if isinstance(value, str) and _DURATION.fullmatch(value):
        try:
            parts = _DURATION_PART.findall(value)
            if not parts:  # bare seconds
                return _milliseconds(int(value) * 1000)
            return _milliseconds(sum(int(n) * _UNIT_MS[u.lower()] for n, u in parts))
        except ValueError:  # more digits than int() converts
            pass
    raise ValueError(DURATION_HINT)


def _milliseconds(count: int) -> timedelta:
    try:
        return timedelta(milliseconds=count)
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

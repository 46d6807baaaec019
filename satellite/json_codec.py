"""Fast JSON for the hot paths: orjson, with the standard library where orjson says no.

The satellite parses every server response and encodes every record it collects; with the
standard ``json`` module those two steps were most of its CPU in a backfill. orjson does both
several times faster. Where it refuses what the standard module accepts (writing integers
beyond 64 bits or non-string keys; reading ``NaN``/``Infinity``, a byte order mark, UTF-16),
the standard module does the job: the output is the same compact UTF-8 either way. Two
differences stay: a non-finite float is written as ``null`` (``NaN`` is not JSON, and the
receiver's parser may refuse it), and an integer beyond 64 bits is read as a float (Azure DevOps
sends none: its ids, counts and sizes are 32 or 64 bit).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps", "loads", "canonical"]

_SORTED = orjson.OPT_SORT_KEYS


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (``separators=(",", ":")``, non-ASCII as is)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def canonical(value: Any) -> bytes:
    """Like ``dumps`` with keys sorted: equal values give equal bytes (for hashes and cursors)."""
    try:
        return orjson.dumps(value, option=_SORTED)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ``ValueError`` (or ``UnicodeDecodeError``) on anything that is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # re-parse with the standard module, which also gives the familiar message for real garbage
        return json.loads(data)

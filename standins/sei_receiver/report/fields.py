"""Reading a field of a record's data that may be missing or of another type: None, never an exception."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from standins.sei_receiver.report.times import parse_time

__all__ = ["dig", "integer", "items", "text", "time_of"]


def dig(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(name)
    return data


def text(data: Any, *path: str) -> str | None:
    value = dig(data, *path)
    return value if isinstance(value, str) else None


def integer(data: Any, *path: str) -> int | None:
    """An int, or a string of one (``"10"``, as ADO writes property values)."""
    value = dig(data, *path)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def time_of(data: Any, *path: str) -> datetime | None:
    return parse_time(dig(data, *path))


def items(data: Any, *path: str) -> list:
    """A list field, or [] for anything else."""
    value = dig(data, *path)
    return value if isinstance(value, list) else []

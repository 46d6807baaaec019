"""What streams produce: records (contract 4.1) and checkpoints. Pure, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Literal

from satellite import json_codec
from satellite.clock import utc_now

__all__ = ["Record", "Checkpoint", "StreamItem", "trim", "content_hash", "upsert", "delete", "nested"]


def trim(data: Any) -> Any:
    """The server's parsed JSON without ``_links`` (anywhere in it), removed in place: a parsed
    response belongs to the stream reading it, and nothing reads ``_links``."""
    kind = type(data)
    if kind is dict:
        data.pop("_links", None)
        for value in data.values():
            if type(value) in _NESTED:
                trim(value)
    elif kind is list:
        for value in data:
            if type(value) in _NESTED:
                trim(value)
    return data


_NESTED = (dict, list)


def content_hash(data: Any) -> str:
    """A short digest of a JSON value, equal for equal values whatever their key order."""
    return hashlib.sha256(json_codec.canonical(data)).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Record:
    """One collected item (contract 4.1)."""

    type: str
    key: str
    op: Literal["upsert", "delete"]
    observed_at: str
    data: dict | None

    def to_json(self) -> dict:
        return {"type": self.type, "key": self.key, "op": self.op, "observed_at": self.observed_at, "data": self.data}


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The cursor (its encoded text, ``satellite.streams.cursors``) that is safe to store once
    every record before it is stored."""

    cursor: str


StreamItem = Record | Checkpoint


def upsert(record_type: str, key: str, data: dict) -> Record:
    """A record of the server's JSON as it is now."""
    return Record(record_type, key, "upsert", utc_now(), trim(data))


def delete(record_type: str, key: str) -> Record:
    return Record(record_type, key, "delete", utc_now(), None)


def nested(record_type: str, parent_key: str, items: Iterable[dict], field: str = "id") -> Iterator[Record]:
    """Upserts of the parts of a record (a PR's threads, a build's timeline records), each keyed
    ``<parent key>:<its field>`` (a dotted path: ``"item.path"``)."""
    steps = field.split(".")
    for item in items:
        value: Any = item
        for step in steps:
            value = value[step]
        yield upsert(record_type, f"{parent_key}:{value}", item)

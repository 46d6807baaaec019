"""What streams produce: records and checkpoints, plus the snapshot-diff helper.

A stream's ``read`` yields ``Record``s and, after the records a cursor covers, a ``Checkpoint``
holding that cursor. The sync loop seals records into batches and stores each batch with the
latest checkpoint seen before it in one transaction, so a cursor never runs ahead of the data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Literal, Protocol

from satellite.ado.client import AdoClient

__all__ = ["Record", "Checkpoint", "StreamItem", "StreamContext", "Stream", "trim", "content_hash", "snapshot_diff", "utc_now"]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def trim(data: Any) -> Any:
    """The server's JSON without ``_links`` (anywhere in it)."""
    if isinstance(data, dict):
        return {k: trim(v) for k, v in data.items() if k != "_links"}
    if isinstance(data, list):
        return [trim(v) for v in data]
    return data


def content_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


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
    """The cursor (JSON text) that is safe to store once every record before it is stored."""

    cursor: str


StreamItem = Record | Checkpoint


@dataclass(frozen=True, slots=True)
class StreamContext:
    """What a stream reads with and where it stands."""

    client: AdoClient
    partition: str
    cursor: str | None
    page_sizes: Any  # satellite.config.PageSizes: .projects, .refs, .commits, ...
    already_delivered: Callable[[list[str]], set[str]] = lambda keys: set()


class Stream(Protocol):
    """A declared stream: a name, the record type it emits, its service and how to read it.

    ``immutable`` streams (records never change once written, e.g. commits) have the keys of every
    stored batch remembered, so a record reachable again by another path is not sent twice.
    """

    name: str
    record_type: str
    service: str
    immutable: bool

    def read(self, ctx: StreamContext) -> Iterator[StreamItem]: ...


def snapshot_diff(
    record_type: str,
    items: Iterable[tuple[str, dict]],
    previous_cursor: str | None,
) -> Iterator[StreamItem]:
    """Full-refresh streams: emit what changed since the last snapshot, deletions included.

    The cursor is ``{"hashes": {key: content hash}}`` of the last delivered snapshot.
    """
    previous: dict[str, str] = json.loads(previous_cursor)["hashes"] if previous_cursor else {}
    current: dict[str, str] = {}
    for key, data in items:
        data = trim(data)
        digest = content_hash(data)
        current[key] = digest
        if previous.get(key) != digest:
            yield Record(record_type, key, "upsert", utc_now(), data)
    for key in sorted(previous.keys() - current.keys()):
        yield Record(record_type, key, "delete", utc_now(), None)
    yield Checkpoint(json.dumps({"hashes": dict(sorted(current.items()))}, separators=(",", ":")))

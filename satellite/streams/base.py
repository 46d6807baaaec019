"""What streams are and what they produce.

A stream is declared once: its name, the record type it emits, its service, the scope it runs
at (once per collection, project, repository or team), the first api-version that has it, and
whether its records are immutable. There are two kinds:

- ``SnapshotStream``: full refresh. It lists items; the framework emits only what changed since
  the last delivered snapshot (hash per key), and deletions. Its list also feeds the streams
  below it (projects -> repositories -> refs ...).
- ``IncrementalStream``: reads from a cursor and yields ``Record``s, and after the records a
  cursor covers, a ``Checkpoint`` holding that cursor.

The sync loop seals records into batches and stores each batch with the latest checkpoint seen
before it in one transaction, so a cursor never runs ahead of the data.
"""

from __future__ import annotations

import hashlib
import json

from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Callable, ClassVar, Iterable, Iterator, Literal, Mapping

from satellite import json_codec
from satellite.clock import utc_now
from satellite.ado.client import AdoClient

__all__ = [
    "Record",
    "Checkpoint",
    "StreamItem",
    "StreamContext",
    "Scope",
    "SnapshotStream",
    "IncrementalStream",
    "trim",
    "content_hash",
    "snapshot_diff",
    "utc_now",
    "upsert",
    "delete",
    "cursor_json",
    "parse_time",
    "latest_time",
]


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
    """The cursor (JSON text) that is safe to store once every record before it is stored."""

    cursor: str


StreamItem = Record | Checkpoint


class Scope(str, Enum):
    """How often a stream runs: once per collection, or once per project, repository or team.

    ``COLLECTION_END`` runs once per collection after every other scope, and sees in
    ``ctx.listed`` what the team-scope snapshot streams listed (e.g. identities of team members).
    """

    COLLECTION = "collection"
    PROJECT = "project"
    REPOSITORY = "repository"
    TEAM = "team"
    COLLECTION_END = "collection (last)"


@dataclass(frozen=True, slots=True)
class StreamContext:
    """What a stream reads with and where it stands.

    Attributes:
        client: the collection's client.
        partition: "<collection>/<parent id>" (empty parent id at collection scope).
        cursor: the last stored cursor of this stream and partition, or None on the first run.
        page_sizes: ``satellite.config.PageSizes``.
        collection_id: the collection's instance id (prefix of keys of per-collection integer ids).
        backfill_start: the configured backfill start, for streams that read by date.
        listed: what the snapshot streams already run for the same parent listed, by stream name
            (e.g. the commits stream reuses ``listed["git.refs"]`` instead of asking again).
        already_delivered: for immutable streams, which of these keys were stored before.
    """

    client: AdoClient
    partition: str
    cursor: str | None
    page_sizes: Any
    collection_id: str = ""
    backfill_start: str | None = None  # ISO date-time where the first run of a dated stream starts
    listed: Mapping[str, list[dict]] = field(default_factory=dict)
    already_delivered: Callable[[list[str]], set[str]] = lambda keys: set()


class _StreamDeclaration:
    name: ClassVar[str]
    record_type: ClassVar[str]
    also_emits: ClassVar[tuple[str, ...]] = ()  # further record types (e.g. a PR's threads)
    key_format: ClassVar[str]  # how the record key is built, for the docs table
    cursor: ClassVar[str] = "snapshot hashes"  # what the cursor holds, for the docs table
    service: ClassVar[str]  # "core" (always collected) or one of satellite.config.SERVICES
    scope: ClassVar[Scope]
    min_version: ClassVar[str] = "5.0"
    immutable: ClassVar[bool] = False  # records never change once written: remember keys, never resend


class SnapshotStream(_StreamDeclaration):
    """Full refresh + hash diff. Subclasses implement ``list`` and ``key``."""

    def list(self, ctx: StreamContext, parent: dict | None) -> Iterable[dict]:
        raise NotImplementedError

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        raise NotImplementedError

    def diff(self, ctx: StreamContext, parent: dict | None, items: list[dict]) -> Iterator[StreamItem]:
        return snapshot_diff(self.record_type, ((self.key(ctx, i, parent), i) for i in items), ctx.cursor)


class IncrementalStream(_StreamDeclaration):
    """Reads from a cursor. Subclasses implement ``read``."""

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        raise NotImplementedError


def snapshot_diff(
    record_type: str,
    items: Iterable[tuple[str, dict]],
    previous_cursor: str | None,
) -> Iterator[StreamItem]:
    """Emit what changed since the last snapshot, deletions included.

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


def upsert(record_type: str, key: str, data: dict) -> Record:
    """A record of the server's JSON as it is now."""
    return Record(record_type, key, "upsert", utc_now(), trim(data))


def delete(record_type: str, key: str) -> Record:
    return Record(record_type, key, "delete", utc_now(), None)


def cursor_json(value: Any) -> Checkpoint:
    return Checkpoint(json.dumps(value, sort_keys=True, separators=(",", ":")))


def parse_time(value: str) -> datetime:
    """An Azure DevOps timestamp (``Z`` or offset, 0-7 fractional digits) as an aware datetime."""
    text = value.strip().replace("Z", "+00:00")
    main, sep, rest = text.partition(".")
    if sep:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits):]
        text = f"{main}.{digits[:6].ljust(6, '0')}{zone}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def latest_time(values: Iterable[str | None]) -> str | None:
    """The latest of some timestamps (compared as times, not as text), or None."""
    present = [v for v in values if v]
    return max(present, key=parse_time) if present else None

"""What streams are: declarations, and the two kinds the framework runs.

A stream is declared once: its name, the record type it emits, how its keys are built
(``key_format``), its kind of cursor, its service, the scope it runs at (once per collection,
project, repository or team), the first api-version that has it, and whether its records are
immutable. There are two kinds:

- ``SnapshotStream``: full refresh. It lists items; the framework emits only what changed since
  the last delivered snapshot (hash per key), and deletions. Its list also feeds the streams
  below it (projects -> repositories -> refs ...).
- ``IncrementalStream``: ``read_since`` gets the stored cursor, parsed into the declared kind,
  and yields ``Record``s and, after the records a cursor covers, a ``Checkpoint`` holding it.
  For immutable streams the framework drops records whose key was delivered before.

The sync loop seals records into batches and stores each batch with the latest checkpoint seen
before it in one transaction, so a cursor never runs ahead of the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from string import Formatter
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping

import structlog

from satellite.ado.client import AdoClient
from satellite.clock import utc_now
from satellite.streams.cursors import Cursor, SnapshotHashes, latest_time, parse_time
from satellite.streams.records import (
    Checkpoint,
    Quarantined,
    Record,
    StreamItem,
    UnreadableItem,
    content_hash,
    delete,
    item_id,
    key_value,
    nested,
    trim,
    upsert,
)

log = structlog.get_logger(__name__)

__all__ = [
    "Record",
    "Checkpoint",
    "Quarantined",
    "UnreadableItem",
    "StreamItem",
    "StreamContext",
    "Scope",
    "KeyFormat",
    "SnapshotStream",
    "IncrementalStream",
    "trim",
    "content_hash",
    "snapshot_diff",
    "only_new",
    "utc_now",
    "upsert",
    "delete",
    "nested",
    "parse_time",
    "latest_time",
]


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
        cursor: the last stored cursor of this stream and partition (encoded), or None on the first run.
        page_sizes: ``satellite.config.PageSizes``.
        collection_id: the collection's instance id (prefix of keys of per-collection integer ids).
        backfill_start: the configured backfill start, for streams that read by date.
        listed: what the snapshot streams already run for the same parent listed, by stream name
            (e.g. the commits stream reuses ``listed["git.refs"]`` instead of asking again).
        overlap: how far before their last time the time cursors read again (``limits.cursor_overlap``).
        already_delivered: for immutable streams, which of these keys were delivered before: stored
            in an earlier batch, or handed to the batch being filled.
    """

    client: AdoClient
    partition: str
    cursor: str | None
    page_sizes: Any
    collection_id: str = ""
    backfill_start: str | None = None  # ISO date-time where the first run of a dated stream starts
    listed: Mapping[str, list[dict]] = field(default_factory=dict)
    already_delivered: Callable[[list[str]], set[str]] = lambda keys: set()
    overlap: timedelta = timedelta(minutes=5)  # ``limits.cursor_overlap``: how far time cursors read back


@dataclass(frozen=True, slots=True)
class KeyFormat:
    """How a stream's record key is built, and what the docs table shows (``str()``).

    ``{collectionId}`` is the collection's instance id, the placeholder named ``parent`` is the
    parent's id, and any other placeholder is the item's field of that name, or of the dotted
    path ``fields`` gives for it.

        KeyFormat("{teamId}:{identityId}", {"identityId": "identity.id"}, parent="teamId")
    """

    template: str
    fields: Mapping[str, str] = field(default_factory=dict)
    parent: str | None = None
    _paths: tuple[tuple[str, tuple[str, ...]], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [name for _, name, _, _ in Formatter().parse(self.template) if name]
        paths = tuple((name, tuple(self.fields.get(name, name).split("."))) for name in names)
        object.__setattr__(self, "_paths", paths)

    def __str__(self) -> str:
        return self.template

    def build(self, collection_id: str, item: Mapping[str, Any], parent: Mapping[str, Any] | None) -> str:
        values: dict[str, Any] = {}
        for name, path in self._paths:
            if name == "collectionId":
                values[name] = collection_id
            elif name == self.parent:
                values[name] = parent["id"]  # type: ignore[index]
            else:
                values[name] = key_value(item, path)  # UnreadableItem: lacks it, or not an id
        return self.template.format_map(values)


class _StreamDeclaration:
    name: ClassVar[str]
    record_type: ClassVar[str]
    also_emits: ClassVar[tuple[str, ...]] = ()  # further record types (e.g. a PR's threads)
    # The types nested in a record (keyed ``<its key>:<id...>``; its ``also_emits``, or another stream's,
    # e.g. a repository's refs and commits): a delete of the record deletes them too (contract: the
    # receiver removes the nested records with their parent).
    nested_types: ClassVar[tuple[str, ...]] = ()
    key_format: ClassVar[KeyFormat]
    cursor: ClassVar[type[Cursor]] = SnapshotHashes
    service: ClassVar[str]  # "core" (always collected) or one of satellite.config.SERVICES
    scope: ClassVar[Scope]
    min_version: ClassVar[str] = "5.0"
    immutable: ClassVar[bool] = False  # records never change once written: remember keys, never resend
    # record types whose live keys the store keeps (keys of ids only, never names), so that a complete
    # re-read from no cursor (a reconciliation) can delete those it no longer meets (sync/collector.py)
    reconciled: ClassVar[tuple[str, ...]] = ()
    # record types whose live keys the store keeps too, never reconciled (no route confirms one gone): they
    # are deleted only with the project they were read under, once it answers 404 (sync/departed.py)
    held: ClassVar[tuple[str, ...]] = ()

    def key(self, ctx: StreamContext, item: Mapping[str, Any], parent: Mapping[str, Any] | None) -> str:
        """The record key of ``item`` under ``parent``, as ``key_format`` says.

        Raises:
            UnreadableItem: the item lacks a field of its key (``quarantine`` it).
        """
        return self.key_format.build(ctx.collection_id, item, parent)

    def upsert_of(self, ctx: StreamContext, item: dict, parent: Mapping[str, Any] | None) -> Record | Quarantined:
        """The upsert of an item, or its quarantine when it cannot be keyed."""
        try:
            return upsert(self.record_type, self.key(ctx, item, parent), item)
        except UnreadableItem as exc:
            return self.quarantine(item, exc)

    def quarantine(self, item: Any, reason: Exception, record_type: str | None = None) -> Quarantined:
        return Quarantined(record_type or self.record_type, item_id(item), str(reason))

    def gone(self, ctx: StreamContext, parent: dict | None, record_type: str, keys: list[str]) -> list[str]:
        """Of ``keys`` (live keys of a ``reconciled`` type a complete re-read did not meet), those the
        server confirms gone. By default all: a destroyed work item answers nothing anywhere. A stream
        whose list may miss a live item while it is read (an item moving between two queries, offset
        paging shifted by a removal) asks for each alone: only a 404 (or a ``deleted`` answer) is
        gone; any other error raises and the read deletes nothing."""
        return list(keys)


class SnapshotStream(_StreamDeclaration):
    """Full refresh + hash diff. Subclasses implement ``list``."""

    def list(self, ctx: StreamContext, parent: dict | None) -> Iterable[dict]:
        raise NotImplementedError

    def diff(self, ctx: StreamContext, parent: dict | None, items: list[dict]) -> Iterator[StreamItem]:
        keyed, skipped = [], []
        for item in items:
            try:
                keyed.append((self.key(ctx, item, parent), item))
            except UnreadableItem as exc:
                skipped.append(self.quarantine(item, exc))
        yield from skipped
        # an unreadable item may be one held before: nothing is deleted from a listing with one
        yield from snapshot_diff(self.record_type, keyed, ctx.cursor, deletions=not skipped)


class IncrementalStream(_StreamDeclaration):
    """Reads from a cursor. Subclasses declare ``cursor`` and implement ``read_since``."""

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        """What changed since the stored cursor; for immutable streams, only what was not delivered."""
        items = self.read_since(ctx, parent, self.cursor.from_text(ctx.cursor))
        return only_new(items, ctx.already_delivered) if self.immutable else iter(items)

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: Any) -> Iterable[StreamItem]:
        raise NotImplementedError


def snapshot_diff(
    record_type: str,
    items: Iterable[tuple[str, dict]],
    previous_cursor: str | None,
    deletions: bool = True,
) -> Iterator[StreamItem]:
    """Emit what changed since the last snapshot, deletions included (cursor: ``SnapshotHashes``).

    Delete guard: a listing that would delete more than ``max(10, 20%)`` of the keys held is not
    believed at once (a server answering a partial list, a permission change): its deletions are
    held, logged and kept in the cursor (``deletes_held``, shown by ``status``), and applied when the
    next listing agrees (the same keys still missing)."""
    last = SnapshotHashes.from_text(previous_cursor)
    previous = last.hashes
    current: dict[str, str] = {}
    for key, data in items:
        data = trim(data)
        digest = content_hash(data)
        current[key] = digest
        if previous.get(key) != digest:
            yield Record(record_type, key, "upsert", utc_now(), data)
    missing = sorted(previous.keys() - current.keys())
    if missing and not deletions:  # the listing had an unreadable item: keep what it did not show
        yield SnapshotHashes(dict(sorted({**current, **{k: previous[k] for k in missing}}.items())), last.held).checkpoint()
        return
    if len(missing) > max(GUARD_MIN_DELETES, len(previous) * GUARD_SHARE) and not set(missing) <= set(last.held):
        log.warning("snapshot_deletes_held", record_type=record_type, deletes=len(missing), of=len(previous),
                    hint="the next listing applies them if it agrees; see satellite status")
        kept = {key: previous[key] for key in missing}
        yield SnapshotHashes(dict(sorted({**current, **kept}.items())), tuple(missing)).checkpoint()
        return
    for key in missing:
        yield Record(record_type, key, "delete", utc_now(), None)
    yield SnapshotHashes(dict(sorted(current.items()))).checkpoint()


GUARD_MIN_DELETES, GUARD_SHARE = 10, 0.2  # the delete guard: more deletions than max(10, 20%) wait for a second listing


def only_new(items: Iterable[StreamItem], delivered: Callable[[list[str]], set[str]], chunk: int = 500) -> Iterator[StreamItem]:
    """``items`` less the records whose key was delivered before, or met earlier in ``items``.

    Records are asked about ``chunk`` at a time, and before each checkpoint (which stays after
    the records it covers).
    """
    held: list[Record] = []

    def release() -> Iterator[Record]:
        if not held:
            return
        known = set(delivered([r.key for r in held]))
        for record in held:
            if record.key not in known:
                known.add(record.key)
                yield record
        held.clear()

    for item in items:
        if isinstance(item, Checkpoint):
            yield from release()
            yield item
            continue
        if isinstance(item, Quarantined):
            yield item
            continue
        held.append(item)
        if len(held) >= chunk:
            yield from release()
    yield from release()

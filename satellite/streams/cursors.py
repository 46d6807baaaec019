"""Cursors: where a stream stands, one small frozen class per kind, that parses and encodes itself.

A stream declares its kind (``cursor = BranchHeads``); the framework parses the stored text
(``Kind.from_text``, None or "" -> the kind's start) and a stream hands back a new position
with ``cursor.checkpoint()``. The text is compact JSON with sorted keys: the encoding of every
release so far, so cursors stored by an older satellite parse, and encode back to the same text.

    SnapshotHashes      {"hashes": {key: content hash}}          snapshot streams
    ContinuationToken   {"token": t}                             reporting walks
    IdHighWater         {"last_id": n}                           changesets
    BranchHeads         {"heads": {branch: commit}}              commits
    PushesCursor        {"push_id": n, "refs": fingerprint}      pushes
    PullRequestsCursor  {"max_id": n, "open": {id: OpenPullRequest}}
    BuildsCursor        {"finish": t, "at_finish": [ids], "finish_window": {id: [t, hash]}, "open": {id: hash}}
    ReleasesCursor      {"created": t, "at_created": [ids], "created_window": {...}, "modified": t, "at_modified": [ids],
                         "modified_window": {...}, "sweep": ReleaseSweep,
                         "open_deployments": {id: [t, hash]}}
    PipelineRunsCursor  {"max": {pipeline: n}, "open": {run: [pipeline, hash]}, "activity": t, "seen": [tags]}
                        "environments": {id: [highest deployment record id, {open record id: hash}]}

``Watermark`` (a time, and the ids and content hashes of the items read in an overlap window before
it) is the cursor of the streams that read "since a time": each read starts the overlap before the
time, so items visible late are found, and the window tells unchanged items from new or changed ones.
The ``*_window`` keys are absent from cursors stored before it; those still parse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Iterable, Mapping, TypeVar

from satellite.streams.records import Checkpoint

__all__ = [
    "EPOCH",
    "Cursor",
    "SnapshotHashes",
    "ContinuationToken",
    "IdHighWater",
    "BranchHeads",
    "PushesCursor",
    "Watermark",
    "OpenPullRequest",
    "PullRequestsCursor",
    "BuildsCursor",
    "ReleaseSweep",
    "ReleasesCursor",
    "OpenRun",
    "EnvironmentMark",
    "PipelineRunsCursor",
    "parse_time",
    "format_time",
    "latest_time",
    "earliest_time",
]

C = TypeVar("C", bound="Cursor")


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


def format_time(value: datetime) -> str:
    """A time as the server writes it (UTC, ``Z``, 7 fractional digits)."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def latest_time(values: Iterable[str | None]) -> str | None:
    """The latest of some timestamps (compared as times, not as text), or None."""
    present = [v for v in values if v]
    return max(present, key=parse_time) if present else None


EPOCH = "1970-01-01T00:00:00Z"  # earlier than any item's time


def earliest_time(values: Iterable[str | None]) -> str | None:
    """The earliest of some timestamps (compared as times, not as text), or None."""
    present = [v for v in values if v]
    return min(present, key=parse_time) if present else None


class Cursor:
    """A kind of cursor. Subclasses are frozen dataclasses whose defaults are the first run's position."""

    summary: ClassVar[str]  # what it holds, for the docs table

    @classmethod
    def from_text(cls: type[C], text: str | None) -> C:
        """The stored cursor, or the start when there is none."""
        return cls.from_json(json.loads(text)) if text else cls()

    @classmethod
    def from_json(cls: type[C], data: Any) -> C:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def encode(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.encode())


@dataclass(frozen=True, slots=True)
class SnapshotHashes(Cursor):
    """A content hash per key of the last delivered snapshot."""

    summary: ClassVar[str] = "snapshot hashes"
    hashes: Mapping[str, str] = field(default_factory=dict)
    held: tuple[str, ...] = ()  # keys gone from the last listing whose deletion waits for the next to agree

    @classmethod
    def from_json(cls, data: Any) -> "SnapshotHashes":
        return cls(data["hashes"], tuple(data.get("deletes_held", ())))

    def to_json(self) -> dict[str, Any]:
        held = {"deletes_held": list(self.held)} if self.held else {}  # sorts first: ``status`` shows it
        return {**held, "hashes": dict(self.hashes)}


@dataclass(frozen=True, slots=True)
class ContinuationToken(Cursor):
    """The continuation token of a reporting API: a watermark the server keeps valid."""

    summary: ClassVar[str] = "reporting continuation token"
    token: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> "ContinuationToken":
        return cls(data["token"])

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token}


@dataclass(frozen=True, slots=True)
class IdHighWater(Cursor):
    """The highest id delivered, of ids that only grow."""

    summary: ClassVar[str] = "last id delivered"
    last_id: int = 0

    @classmethod
    def from_json(cls, data: Any) -> "IdHighWater":
        return cls(data["last_id"])

    def to_json(self) -> dict[str, Any]:
        return {"last_id": self.last_id}


@dataclass(frozen=True, slots=True)
class BranchHeads(Cursor):
    """The head commit of each branch whose history was delivered."""

    summary: ClassVar[str] = "delivered branch heads"
    heads: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> "BranchHeads":
        return cls(data["heads"])

    def to_json(self) -> dict[str, Any]:
        return {"heads": dict(self.heads)}


@dataclass(frozen=True, slots=True)
class PushesCursor(Cursor):
    """The highest push id delivered, a fingerprint of the refs then (no ref moved: no push), and the
    highest push id of the walk before (``floor``), down to which the next walk reads.

    Push ids are given out as pushes begin and become visible as they commit: two pushes to one
    repository at once can commit out of order, so a push can appear below the highest id already
    read. Its ref update commits with it (the refs move again), and the next walk, reading down to
    the walk before's highest id, meets it; the pushes met again are known delivered (immutable).
    """

    summary: ClassVar[str] = "last push id + refs fingerprint + the last push id of the walk before"
    push_id: int = 0
    refs: str | None = None
    floor: int | None = None  # None: a cursor older than it (reads down to ``push_id``)

    @property
    def walk_to(self) -> int:
        """The push id the next walk reads down to (exclusive)."""
        return self.push_id if self.floor is None else min(self.floor, self.push_id)

    @classmethod
    def from_json(cls, data: Any) -> "PushesCursor":
        return cls(data["push_id"], data["refs"], data.get("floor"))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"push_id": self.push_id, "refs": self.refs}
        if self.floor is not None:
            body["floor"] = self.floor
        return body


@dataclass(frozen=True, slots=True)
class Watermark:
    """A time cursor with an overlap window: the latest time delivered, and the id and content hash of
    every item read at or after that time less the overlap.

    Items can become visible after later ones were read (a transaction committed late, clocks of two
    application tiers apart), so each read starts ``overlap`` before the latest time (``since``); the
    window tells an item already delivered unchanged (same id, same hash: ``admits`` is False) from
    one new or changed. ``advanced`` records what a read saw and drops what fell out of the window, so
    the cursor holds only the ids and hashes of a few minutes' items.

    A cursor stored before the window (``window`` None: the ids at exactly ``time``) reads once from
    ``time`` itself, as it did, and has its window from then on.
    """

    time: str | None = None
    ids: frozenset[int] = frozenset()  # ids at exactly ``time`` (the older cursors' tie-break)
    window: Mapping[int, tuple[str, str]] | None = None  # id -> (time, content hash), items since time - overlap

    def since(self, overlap: timedelta) -> str | None:
        """Where the next read starts: the latest time less the overlap (a cursor without window: the time)."""
        if self.time is None or self.window is None:
            return self.time
        return format_time(parse_time(self.time) - overlap)

    def admits(self, time: str | None, item_id: int, digest: str | None = None) -> bool:
        """Whether an item is new or changed: not one already read with this content (with the time
        it had then, for a cursor without window)."""
        if self.window is None:
            return not (item_id in self.ids and time == self.time)
        seen = self.window.get(item_id)
        return seen is None or seen[1] != digest

    def advanced(self, seen: Iterable[tuple[str | None, int, str]], overlap: timedelta, move: bool = True,
                 keep_from: str | None = None) -> "Watermark":
        """The mark after reading these (time, id, content hash) items: the latest time (unless not
        ``move``), and the window of the items at or after it (or ``keep_from``, if earlier) less ``overlap``."""
        seen = [item for item in seen if item[0]]
        newest = latest_time([self.time, *(time for time, _, _ in seen)]) if move else self.time
        if newest is None:
            return self
        window = dict(self.window or {})
        window.update((item_id, (time, digest)) for time, item_id, digest in seen)  # type: ignore[misc]
        floor = parse_time(earliest_time([newest, keep_from]) or newest) - overlap
        kept = {i: entry for i, entry in window.items() if parse_time(entry[0]) >= floor}
        at = frozenset(i for i, (time, _) in kept.items() if time == newest)
        return Watermark(newest, at, kept)

    @classmethod
    def from_json(cls, data: Any, time_key: str, ids_key: str) -> "Watermark":
        window = data.get(f"{time_key}_window")
        parsed = None if window is None else {int(i): (entry[0], entry[1]) for i, entry in window.items()}
        return cls(data[time_key], frozenset(data[ids_key]), parsed)

    def to_json(self, time_key: str, ids_key: str) -> dict[str, Any]:
        body: dict[str, Any] = {time_key: self.time, ids_key: sorted(self.ids)}
        if self.window is not None:
            body[f"{time_key}_window"] = {str(i): list(entry) for i, entry in sorted(self.window.items())}
        return body


@dataclass(frozen=True, slots=True)
class OpenPullRequest:
    """A PR that was active when last read: its repository and the hashes of it and its threads."""

    repo: str
    pr: str
    threads: str

    def to_json(self) -> dict[str, str]:
        return {"pr": self.pr, "repo": self.repo, "threads": self.threads}


@dataclass(frozen=True, slots=True)
class PullRequestsCursor(Cursor):
    summary: ClassVar[str] = "highest PR id of the list of new PRs + hashes of open PRs"
    max_id: int = 0
    open: Mapping[str, OpenPullRequest] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> "PullRequestsCursor":
        return cls(data["max_id"], {k: OpenPullRequest(v["repo"], v["pr"], v["threads"]) for k, v in data["open"].items()})

    def to_json(self) -> dict[str, Any]:
        return {"max_id": self.max_id, "open": {k: v.to_json() for k, v in self.open.items()}}


@dataclass(frozen=True, slots=True)
class BuildsCursor(Cursor):
    """Completed builds delivered up to a finish time, the hash of each build open last run, and a
    time no later than the server's clock when the open builds were last listed (``visible_at``).

    A build queued after that listing was not in it, so its finish time is later than ``visible_at``:
    the next read of completed builds starts no later than it (less the overlap), whatever the newest
    finish time read meanwhile. Without it a build whose completion is committed late (it reads as
    running while later builds read as completed) and that no listing of open builds ever met would
    be missed for good.
    """

    summary: ClassVar[str] = ("last finish time (+ ids and hashes in the overlap) + hashes of open builds"
                              " + the time the open builds were last listed")
    finished: Watermark = Watermark()
    open: Mapping[str, str] = field(default_factory=dict)
    visible_at: str | None = None  # None: a cursor stored before it; EPOCH: no build was visible

    def since(self, overlap: timedelta) -> str | None:
        """Where the next read of completed builds starts (None: from the backfill start)."""
        since = self.finished.since(overlap)
        if since is None or self.visible_at is None or self.finished.window is None:
            return since
        return earliest_time([since, format_time(parse_time(self.visible_at) - overlap)])

    @classmethod
    def from_json(cls, data: Any) -> "BuildsCursor":
        return cls(Watermark.from_json(data, "finish", "at_finish"), data["open"], data.get("visible_at"))

    def to_json(self) -> dict[str, Any]:
        body = {**self.finished.to_json("finish", "at_finish"), "open": dict(self.open)}
        if self.visible_at is not None:
            body["visible_at"] = self.visible_at
        return body


@dataclass(frozen=True, slots=True)
class ReleaseSweep:
    """A walk over every release of a project, one page per sync, for edits no time filter shows.

    A release modified at or after ``since`` is read again, unless ``read`` holds it with that
    ``modifiedOn``. ``token`` is the page to read next (None: the walk starts again); when a walk
    ends, ``since`` becomes ``started`` less the overlap (the latest server time known when that walk
    began), so every release edited after the previous walk passed it is caught by this one.
    """

    token: str | None = None
    since: str | None = None
    started: str | None = None
    read: Mapping[int, str] = field(default_factory=dict)  # id -> modifiedOn, only for modifiedOn >= since

    @classmethod
    def from_json(cls, data: Any) -> "ReleaseSweep":
        return cls(data["token"], data["since"], data["started"], {int(i): m for i, m in data["read"].items()})

    def to_json(self) -> dict[str, Any]:
        return {"token": self.token, "since": self.since, "started": self.started,
                "read": {str(i): m for i, m in sorted(self.read.items())}}


@dataclass(frozen=True, slots=True)
class ReleasesCursor(Cursor):
    summary: ClassVar[str] = "last created and modified times (+ ids and hashes in the overlap) + the release sweep"
    created: Watermark = Watermark()
    modified: Watermark = Watermark()
    sweep: ReleaseSweep = ReleaseSweep()  # the default in cursors older than it
    # deployments not final when last read: id -> (the time they started or were queued, content hash)
    open: Mapping[int, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> "ReleasesCursor":
        sweep = ReleaseSweep.from_json(data["sweep"]) if "sweep" in data else ReleaseSweep()
        open_ = {int(i): (entry[0], entry[1]) for i, entry in data.get("open_deployments", {}).items()}
        return cls(Watermark.from_json(data, "created", "at_created"), Watermark.from_json(data, "modified", "at_modified"),
                   sweep, open_)

    def to_json(self) -> dict[str, Any]:
        body = {**self.created.to_json("created", "at_created"), **self.modified.to_json("modified", "at_modified")}
        if self.sweep != ReleaseSweep():
            body["sweep"] = self.sweep.to_json()
        if self.open:
            body["open_deployments"] = {str(i): list(entry) for i, entry in sorted(self.open.items())}
        return body


@dataclass(frozen=True, slots=True)
class OpenRun:
    """A pipeline run not finished when last read: its pipeline (None in cursors older than it) and hash."""

    pipeline: str | None
    digest: str

    @classmethod
    def from_json(cls, data: Any) -> "OpenRun":
        return cls(str(data[0]), data[1]) if isinstance(data, list) else cls(None, data)

    def to_json(self) -> Any:
        return [self.pipeline, self.digest] if self.pipeline is not None else self.digest


@dataclass(frozen=True, slots=True)
class EnvironmentMark:
    """Where the deployment records of one YAML environment were read to: the highest record id
    delivered (``top``), the records open when read (id -> hash), the highest id of the walk before
    (``floor``, down to which the next walk reads) and the ids delivered above it (``recent``).

    Record ids are given out as records are inserted and become visible as they commit: two runs
    deploying to one environment at once can commit out of order, so a record can appear below the
    highest id already read. Reading down to the walk before's top, and sending what is above it
    and not in ``recent``, delivers it with the next walk; nothing already sent is sent again.
    """

    top: int = 0
    open: Mapping[int, str] = field(default_factory=dict)
    floor: int | None = None  # None: a mark older than it (reads down to ``top``)
    recent: frozenset[int] = frozenset()

    @property
    def walk_to(self) -> int:
        """The record id the next walk reads down to (exclusive)."""
        lowest = self.top if self.floor is None else min(self.floor, self.top)
        return min([lowest, *(i - 1 for i in self.open)])

    def delivered(self, record_id: int) -> bool:
        """Whether this record was delivered before (whatever its state then)."""
        if record_id > self.top:
            return False
        return self.floor is None or record_id <= self.floor or record_id in self.recent

    @classmethod
    def from_json(cls, data: Any) -> "EnvironmentMark":
        top, open_ = data[0], {int(i): h for i, h in data[1].items()}
        if len(data) < 4:  # [top, open] as stored before the floor
            return cls(top, open_)
        return cls(top, open_, data[2], frozenset(data[3]))

    def to_json(self) -> list:
        body: list = [self.top, {str(i): h for i, h in sorted(self.open.items())}]
        if self.floor is not None:
            body += [self.floor, sorted(self.recent)]
        return body


@dataclass(frozen=True, slots=True)
class PipelineRunsCursor(Cursor):
    summary: ClassVar[str] = ("highest run id per pipeline + hashes of open runs + time of the latest build activity"
                              " + the time the activity was last read + highest deployment record id, open records and"
                              " the walk before's highest id per environment")
    max: Mapping[str, int] = field(default_factory=dict)
    open: Mapping[str, OpenRun] = field(default_factory=dict)
    activity: str | None = None  # none before any run was seen, or in a cursor older than it
    seen: frozenset[str] = frozenset()  # "q<id>"/"f<id>" of builds and runs queued/finished near ``activity``
    environments: Mapping[str, EnvironmentMark] = field(default_factory=dict)  # by YAML environment id
    # a time the server's clock had passed when the last read began (as ``BuildsCursor.visible_at``):
    # the next activity queries start no later than it. None: a cursor older than it; EPOCH: no build then
    visible_at: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> "PipelineRunsCursor":
        open_runs = {k: OpenRun.from_json(v) for k, v in data["open"].items()}
        marks = {e: EnvironmentMark.from_json(m) for e, m in data.get("environments", {}).items()}
        return cls(data["max"], open_runs, data.get("activity"), frozenset(data.get("seen", ())), marks,
                   data.get("visible_at"))

    def to_json(self) -> dict[str, Any]:
        body = {"max": dict(self.max), "open": {k: v.to_json() for k, v in self.open.items()},
                "activity": self.activity, "seen": sorted(self.seen)}
        if self.visible_at is not None:
            body["visible_at"] = self.visible_at
        if self.environments:
            body["environments"] = {e: mark.to_json() for e, mark in sorted(self.environments.items())}
        return body


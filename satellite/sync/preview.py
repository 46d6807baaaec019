"""A sample of what a stream would seal, read from the server without storing anything.

``satellite preview`` (the security review's "show me exactly what you send") runs a stream the way
the collector does (``sync/collector.py``: the same ``StreamContext``, the same route-naming unit
guard, ``list`` + ``diff`` or ``read`` from no cursor) but with no store behind it: no cursor is read
or saved, no key remembered, no batch sealed. It stops after ``limit`` records per stream and reads
parents (projects, repositories, teams) one at a time only until it has them, with pages no larger
than the sample, so a preview never walks a whole backfill.

What it returns is what ``BatchWriter`` would seal: each record as the privacy policy leaves it
(``apply``: the policy's ``apply``; None, out of scope, is not sealed), encoded later by the same
``ndjson_line``. Unlike a sync, the immutable streams' de-duplication against earlier deliveries
does not apply (a preview shows the sample, delivered or not); a key met twice in one read is
shown once, as a sync sends it once.

The collector's listings a stream reads (``ctx.listed``: the refs before the commits, the pipelines
and environments before the runs; those of the snapshot streams of its scope declared before it) are
listed only when the stream asks for one, once per parent for the whole preview. The identities
stream alone goes without the team members (the collector hands it those of every team of the
collection): its sample is the collection's valid users.

Scope filters: the collector's own (``ListingScope``, from ``Collector``) leave out excluded
repositories, TFVC branches and work item types. The policy recognises the comments and links of
a work item of an excluded type once it met one of its revisions: a preview meets only the
revisions of its sample, so with ``work_item_types`` excluding some, its comments and links may
show items a sync (which reads every revision) leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

from satellite.ado.client import AdoClient
from satellite.errors import AdoError
from satellite.streams import (
    ProjectsStream,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    TeamsStream,
)
from satellite.streams.base import Quarantined, UnreadableItem
from satellite.streams.git import RepositoriesStream
from satellite.sync.unit_guard import RouteTracker, guarded, with_route

__all__ = ["DEFAULT_MAX_REQUESTS", "ListingScope", "Sampler", "StreamSample", "sample_page_sizes"]

DEFAULT_MAX_REQUESTS = 200  # per stream: a stream that must read more before its sample is complete stops there

Apply = Callable[[Record], "Record | None"]


@dataclass(frozen=True, slots=True)
class StreamSample:
    """Up to ``limit`` records of one stream, as they would be sealed.

    ``parents``: the partitions read (projects, repositories, teams; 1 at collection scope);
    ``out_of_scope``: records the policy left out (not sealed, not counted in the limit);
    ``error``: the server error that ended the read (naming collection and route), if any."""

    integration_id: str
    collection: str
    stream: str
    records: tuple[Record, ...]
    requests: int
    parents: int = 0
    out_of_scope: int = 0
    quarantined: int = 0
    error: str | None = None
    skipped: str | None = None  # why the stream was not read at all (not on this server version)
    stopped: bool = False  # the request budget ran out before ``limit`` records


def sample_page_sizes(page_sizes, limit: int):
    """``page_sizes`` with no page larger than the sample needs (a floor of 10 keeps tiny samples sane)."""
    cap = max(limit, 10)
    return page_sizes.model_copy(update={name: min(value, cap) for name, value in page_sizes.model_dump().items()})


@dataclass
class _Budget:
    wanted: int
    records: list[Record] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    out_of_scope: int = 0
    quarantined: int = 0

    @property
    def full(self) -> bool:
        return len(self.records) >= self.wanted


class Sampler:
    """Samples the streams of one collection with one client (``client`` is already open)."""

    def __init__(self, integration, client: AdoClient, page_sizes, apply: Apply, *, overlap,
                 max_requests: int = DEFAULT_MAX_REQUESTS, scope: ListingScope | None = None) -> None:
        """``scope``: the collector's scope filters of the snapshot listings (default: none)."""
        self.integration = integration
        self.max_requests = max_requests
        self.scope = scope or ListingScope()
        self.client = client
        self.page_sizes = page_sizes
        self.apply = apply
        self.overlap = overlap
        backfill = integration.backfill.start
        self._backfill = f"{backfill.isoformat()}T00:00:00Z" if backfill else None
        self._collection_id: str | None = None
        self._listings: dict[tuple[str, str], list[dict]] = {}  # (stream, parent id) -> listed items

    def sample(self, stream, enabled: list, limit: int) -> StreamSample:
        """Up to ``limit`` records of ``stream`` (``enabled``: the integration's streams, in run order)."""
        started = self.client.request_count
        budget = _Budget(limit)
        name = self.client.target.name
        tracker = _Budgeted(self.client, started + self.max_requests)
        parents = 0
        try:
            version = self.client.api_version()
            if not version.at_least(stream.min_version):
                return StreamSample(self.integration.id, name, stream.name, (), self.client.request_count - started,
                                    skipped=f"not on this server ({version.server_name}; the stream needs {stream.min_version})")
            self._collection_id = self.client.collection_id()
            siblings = {s.name: s for s in enabled[: _index(enabled, stream)] if s.scope is stream.scope and isinstance(s, SnapshotStream)}
            for parent, parent_id in self._parents(stream.scope, tracker):
                if budget.full:
                    break
                parents += 1
                listed = _OnDemand(siblings, lambda sibling, p=parent, i=parent_id: self._listing(sibling, p, i, tracker))
                self._read(stream, self._context(tracker, parent_id, listed), parent, tracker, budget)
        except AdoError as exc:
            return self._result(stream, budget, started, parents, error=with_route(str(exc), tracker))
        except _BudgetSpent:
            return self._result(stream, budget, started, parents, stopped=True)
        return self._result(stream, budget, started, parents)

    def _result(self, stream, budget: _Budget, started: int, parents: int, error: str | None = None,
                stopped: bool = False) -> StreamSample:
        return StreamSample(self.integration.id, self.client.target.name, stream.name, tuple(budget.records),
                            self.client.request_count - started, parents, budget.out_of_scope, budget.quarantined, error,
                            stopped=stopped)

    def _context(self, tracker: RouteTracker, parent_id: str, listed: Mapping[str, list[dict]]) -> StreamContext:
        return StreamContext(
            tracker,  # type: ignore[arg-type]
            f"{self.client.target.name}/{parent_id}",
            None,  # from no cursor, as a first run
            self.page_sizes,
            collection_id=self._collection_id or "",
            backfill_start=self._backfill,
            listed=listed,
            overlap=self.overlap,
        )

    def _read(self, stream, ctx: StreamContext, parent: dict | None, tracker: RouteTracker, budget: _Budget) -> None:
        if isinstance(stream, SnapshotStream):
            items = self._listing(stream, parent, ctx.partition.split("/", 1)[1], tracker)
            produced = guarded(lambda: stream.diff(ctx, parent, items), tracker, stream.name)
        else:  # read_since, not read: the de-duplication against earlier deliveries does not apply
            if stream.name in self.scope.after_listing and parent is not None:
                self._listing(self.scope.after_listing[stream.name](), parent, ctx.partition.split("/", 1)[1], tracker)
            produced = self.scope.records(stream.name, guarded(
                lambda: stream.read_since(ctx, parent, stream.cursor.from_text(None)), tracker, stream.name))
        try:
            for item in produced:
                if isinstance(item, Quarantined):
                    budget.quarantined += 1
                if not isinstance(item, Record):
                    continue
                if stream.immutable and (item.type, item.key) in budget.seen:
                    continue  # met twice in one read: a sync sends it once
                budget.seen.add((item.type, item.key))
                shaped = self.apply(item)
                if shaped is None:
                    budget.out_of_scope += 1
                    continue
                budget.records.append(shaped)
                if budget.full:
                    return  # the read stops here: nothing more is asked of the server
        finally:
            produced.close()

    def _listing(self, stream: SnapshotStream, parent: dict | None, parent_id: str, tracker: RouteTracker) -> list[dict]:
        """What a snapshot stream lists for ``parent``, trimmed as the collector's diff leaves it;
        read once per preview."""
        cached = self._listings.get((stream.name, parent_id))
        if cached is None:
            ctx = self._context(tracker, parent_id, {})
            cached = self.scope.listing(stream.name, list(guarded(lambda: stream.list(ctx, parent), tracker, stream.name)))
            for _ in guarded(lambda: stream.diff(ctx, parent, cached), tracker, stream.name):
                pass  # the diff trims the listed items in place
            self._listings[(stream.name, parent_id)] = cached
        return cached

    def _keyed_listing(self, stream: SnapshotStream, parent: dict | None, parent_id: str, tracker: RouteTracker) -> list[dict]:
        ctx = self._context(tracker, parent_id, {})
        return [item for item in self._listing(stream, parent, parent_id, tracker) if _keyed(stream, ctx, item, parent)]

    def _parents(self, scope: Scope, tracker: RouteTracker) -> Iterator[tuple[dict | None, str]]:
        """The partitions of a scope, one at a time (a parent's listing is read only when reached)."""
        if scope in (Scope.COLLECTION, Scope.COLLECTION_END):
            yield None, ""
            return
        projects = self._keyed_listing(ProjectsStream(self.integration.projects.matches), None, "", tracker)
        if scope is Scope.PROJECT:
            yield from ((project, project["id"]) for project in projects)
            return
        below = RepositoriesStream() if scope is Scope.REPOSITORY else TeamsStream()
        for project in projects:
            for child in self._keyed_listing(below, project, project["id"], tracker):
                if scope is Scope.REPOSITORY and child.get("isDisabled"):
                    continue
                yield child, child["id"]


@dataclass(frozen=True)
class ListingScope:
    """What the collector leaves out before the policy sees a record: ``listing(stream, items)``, a
    snapshot listing without what the scope filters exclude (excluded repositories are then never
    read below); ``records(stream, items)``, a stream's items without those of excluded repositories;
    ``after_listing``: stream -> the snapshot stream of its scope whose listing must come first (it
    tells which repositories are excluded)."""

    listing: Callable[[str, list[dict]], list[dict]] = lambda stream, items: items
    records: Callable[[str, Iterator], Iterator] = lambda stream, items: items
    after_listing: Mapping[str, Callable[[], SnapshotStream]] = field(default_factory=dict)


class _BudgetSpent(Exception):
    """A stream's sample asked for more requests than the preview allows it (no stream catches this)."""


class _Budgeted(RouteTracker):
    """The unit's client, refusing the requests past ``until`` (the client's count when it stops)."""

    def __init__(self, client: AdoClient, until: int) -> None:
        super().__init__(client)
        self._until = until

    def _check(self) -> None:
        if self._client.request_count >= self._until:
            raise _BudgetSpent()

    def get(self, path: str, *args, **kwargs):
        self._check()
        return super().get(path, *args, **kwargs)

    def post(self, path: str, *args, **kwargs):
        self._check()
        return super().post(path, *args, **kwargs)

    def get_list(self, path: str, *args, **kwargs):
        self._check()
        return super().get_list(path, *args, **kwargs)

    def _pages(self, path: str, pages):
        self._check()
        for page in super()._pages(path, pages):
            yield page
            self._check()

    def get_many(self, paths, *args, **kwargs):
        for body in super().get_many(paths, *args, **kwargs):
            self._check()
            yield body


class _OnDemand(Mapping):
    """``ctx.listed`` of a preview: a sibling snapshot stream's listing, read when first asked for."""

    def __init__(self, streams: dict[str, SnapshotStream], listing: Callable[[SnapshotStream], list[dict]]) -> None:
        self._streams, self._listing = streams, listing

    def __getitem__(self, name: str) -> list[dict]:
        return self._listing(self._streams[name])  # KeyError: not a listing the collector would hold

    def __iter__(self) -> Iterator[str]:
        return iter(self._streams)

    def __len__(self) -> int:
        return len(self._streams)


def _index(enabled: list, stream) -> int:
    return next((i for i, s in enumerate(enabled) if s.name == stream.name), len(enabled))


def _keyed(stream, ctx: StreamContext, item: dict, parent: dict | None) -> bool:
    try:
        return bool(stream.key(ctx, item, parent))
    except UnreadableItem:
        return False

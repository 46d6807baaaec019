"""Collect one integration: every enabled stream, scope by scope.

    collection ─ projects ─┬─ per project: repositories, ...
                           ├─ per repository: refs, pushes, commits, ...  (concurrently)
                           └─ per team: ...

Each (stream, partition) is one unit of work; a unit that fails (deleted project, missing
scope, garbage body) is reported and the others go on. A stream the server version lacks is
skipped with one info line. Repositories and teams are read concurrently, bounded by
``limits.concurrency`` (one HTTP connection pool per collection). The collection-wide streams
other than projects (work item reporting walks, changesets: long chains of dependent requests)
each run in their own thread beside all of that, within the same connection limit.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from threading import Lock
from typing import Callable

import httpx
import structlog

from satellite.ado.client import AdoClient, CollectionTarget, TlsOptions
from satellite.ado.versions import ApiVersion
from satellite.errors import AdoError
from satellite.events.focus import Focus
from satellite.metrics import QUARANTINED, RECORDS
from satellite.politeness import BackfillWindow, GateSettings, Work, doing, gate_for
from satellite.privacy.policy import PrivacyPolicy
from satellite.privacy.scope import ScopeFilter
from satellite.retrying import RetryPolicy
from satellite.sealing.sealer import Sealer
from satellite.store import INTEGRATION_VERSION, CursorKey, Store
from satellite.streams import (
    STREAMS,
    ProjectsStream,
    Record,
    RepositoriesStream,
    Scope,
    SnapshotStream,
    StreamContext,
    TeamsStream,
)
from satellite.streams.base import Quarantined, UnreadableItem, delete
from satellite.streams.cursors import SnapshotHashes
from satellite.streams.records import item_id
from satellite.sync.batching import BatchWriter, PendingBudget, WriteResult
from satellite.sync.departed import DepartedProject, departed_projects
from satellite.sync.listings import SHARED_STREAMS, ListingKey, SharedListings
from satellite.sync.sharding import ShardAssignment
from satellite.sync.unit_guard import RouteTracker, guarded, with_route

__all__ = ["Collector", "StreamOutcome", "CollectionReport", "collection_targets"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StreamOutcome:
    """How one unit of work went."""

    integration_id: str
    collection: str
    stream: str
    partition: str
    records: int
    batches: int
    counts_by_type: dict[str, int]
    error: str | None = None
    seconds: float = 0.0


@dataclass
class CollectionReport:
    outcomes: list[StreamOutcome] = field(default_factory=list)
    requests: int = 0
    _lock: Lock = field(default_factory=Lock, repr=False)

    def add(self, outcome: StreamOutcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    @property
    def errors(self) -> list[StreamOutcome]:
        return [o for o in self.outcomes if o.error]

    def counts_by_stream(self) -> dict[str, int]:
        """Records collected per stream (all partitions)."""
        totals: dict[str, int] = {}
        for outcome in self.outcomes:
            totals[outcome.stream] = totals.get(outcome.stream, 0) + outcome.records
        return totals

    def counts_by_type(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for outcome in self.outcomes:
            for record_type, n in outcome.counts_by_type.items():
                totals[record_type] = totals.get(record_type, 0) + n
        return totals


def collection_targets(integration, tls: TlsOptions, proxy: str | None, timeout: float, retry: RetryPolicy) -> list[CollectionTarget]:
    """The collections an integration covers: its URL, named ones, or all ("*") from the server."""
    if not integration.collections:
        return [CollectionTarget(integration.url, integration.url.rstrip("/").rsplit("/", 1)[-1])]
    names = list(integration.collections)
    if names == ["*"]:
        server = AdoClient(CollectionTarget(integration.url, "server"), integration.pat, tls=tls, proxy=proxy, timeout=timeout, retry=retry)
        with server:
            names = []
            tracker = RouteTracker(server)
            for page in guarded(lambda: tracker.pages_by_offset("_apis/projectCollections", page_size=100), tracker, "core.collections"):
                names.extend(guarded(lambda: [c["name"] for c in page], tracker, "core.collections"))
    return [CollectionTarget(f"{integration.url.rstrip('/')}/{name}", name) for name in names]


class Collector:
    """Runs every due stream of one integration into the outbox."""

    def __init__(
        self,
        integration,
        limits,
        store: Store,
        sealer: Sealer,
        *,
        retry: RetryPolicy = RetryPolicy(),
        transport_factory: Callable[[], httpx.BaseTransport] | None = None,
        on_record: Callable[[Record], None] | None = None,
        shard: ShardAssignment = ShardAssignment(),
        admit: Callable[[int], None] | None = None,
        services: tuple[str, ...] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        policy: PrivacyPolicy | None = None,
        incremental_only: bool = False,
        focus: Focus | None = None,
        listings: SharedListings | None = None,
    ) -> None:
        """``services``: only the streams of these services ("core" included); default: core and the
        integration's enabled services. ``should_stop``: checked between units and records.
        ``incremental_only``: skip the units that would read from no cursor (first runs, reconciliations):
        the agent's run beside a long backfill of the same job, which keeps everything else fresh. A
        unit another collector of this process is running is always skipped.
        ``policy``: the privacy policy every record passes before it is sealed (default: none); its
        scope filters also leave excluded repositories, TFVC branches and work item types out of
        the listings, so the units below an excluded repository never run.
        ``focus``: an event-driven run (satellite/events): only the due units it names, each from its
        normal cursor; the parents they need (projects, repositories) are listed, not delivered. The
        due units another collector was running are left in ``units_elsewhere`` (still due).
        ``listings``: the projects and teams lists the agent's jobs of one sweep share (sync/listings.py)."""
        self.focus = focus
        self.listings = listings
        self.units_elsewhere: list[tuple[str, str, str]] = []  # (collection id, stream, parent id), focus runs
        self.policy = policy or PrivacyPolicy.none()
        self.incremental_only = incremental_only
        self.scope = ScopeFilter(self.policy)  # the repositories it excluded are remembered over the run
        self.on_record = on_record
        self.admit = admit
        self.should_stop = should_stop
        self.shard = shard
        self.integration = integration
        self.limits = limits
        self.store = store
        self.sealer = sealer
        self.retry = retry
        # the records the units hold unsealed, together: the peak memory must not grow with the units open
        self._pending = PendingBudget(PENDING_BATCHES * limits.batch.max_bytes)
        self._tls = TlsOptions(verify=integration.tls.verify, ca_bundle=integration.tls.ca_bundle)
        self._transport_factory = transport_factory
        schedule = integration.schedule
        window = BackfillWindow.parse(schedule.backfill_window, schedule.time_zone) if schedule.backfill_window else None
        self._backfill_work = Work(backfill=True, window=window, share=schedule.backfill_share, should_stop=should_stop)
        self._incremental_work = Work(should_stop=should_stop)
        wanted = set(services) if services is not None else {"core", *integration.services}
        self._streams = [
            self._projects_stream() if cls is ProjectsStream else cls()
            for cls in STREAMS
            if cls.service in wanted and (cls.service == "core" or cls.service in integration.services)
            and (focus is None or cls.name in focus.streams)
        ]

    def _projects_stream(self) -> ProjectsStream:
        return ProjectsStream(self.integration.projects.matches)

    def _client(self, target: CollectionTarget) -> AdoClient:
        return AdoClient(
            target,
            self.integration.pat,
            tls=self._tls,
            proxy=self.integration.proxy,
            timeout=self.limits.request_timeout.total_seconds(),
            retry=self.retry,
            max_connections=self.limits.concurrency,
            transport_factory=self._transport_factory,  # one transport per connection
            gate=gate_for(target.url, GateSettings.from_limits(self.limits)),  # shared by all on the server
        )

    def run(self, report: CollectionReport) -> None:
        try:
            targets = collection_targets(
                self.integration, self._tls, self.integration.proxy, self.limits.request_timeout.total_seconds(), self.retry
            )
        except AdoError as exc:
            self._fail(report, "", "core.collections", "", exc)
            self.store.record_outcome(CursorKey(self.integration.id, "core.collections", "/"), error=str(exc))
            return
        for target in targets:
            with self._client(target) as client:
                try:
                    self._collect_collection(client, report)
                finally:
                    report.requests += client.request_count

    # -- walking the scopes ------------------------------------------------------------------

    def _collect_collection(self, client: AdoClient, report: CollectionReport) -> None:
        # The connection itself (version, PAT) is a row of the status too: a refused PAT must show there.
        connection = CursorKey(self.integration.id, "core.connection", f"{client.target.name}/")
        try:
            version = client.api_version()
            collection_id = client.collection_id()
        except AdoError as exc:
            self._fail(report, client.target.name, "core.connection", "", exc)
            self.store.record_outcome(connection, error=str(exc))
            return
        self.store.record_outcome(connection)
        detected = json.dumps({"api_version": version.base, "server": version.server_name})
        if self.store.get_state(INTEGRATION_VERSION + self.integration.id) != detected:  # the heartbeat says it
            self.store.set_state(INTEGRATION_VERSION + self.integration.id, detected)
        streams = self._supported(version, client.target.name)
        owner = self.shard.owns_collection(client.target.url)  # collection-wide data: one replica
        if self.focus is not None:
            self._collect_focused(client, report, streams, collection_id, owner)
            return
        # Everything below needs the projects; the other collection-wide streams need nothing, and
        # each is a chain of dependent requests: they run beside the projects, repositories and teams.
        aside = [s for s in streams if owner and s.scope is Scope.COLLECTION and s.name != ProjectsStream.name]
        run = _ScopeRunner(self, client, report, [s for s in streams if s not in aside], collection_id)
        with ThreadPoolExecutor(max_workers=max(1, len(aside)), thread_name_prefix="collection") as pool:
            alongside = [pool.submit(_ScopeRunner(self, client, report, group, collection_id), Scope.COLLECTION, None, "")
                         for group in self._aside_groups(aside)]
            self._collect_below(client, report, run, owner, streams)
            for future in alongside:
                future.result()  # re-raises store failures, which must stop the run

    def _aside_groups(self, aside: list) -> list[list]:
        """Each collection-wide stream in a thread of its own; but with a work item type filter, the
        revisions first and then the links and comments in one thread: the policy learns from the
        revisions which work items are of an excluded type (their comments and links carry no type;
        a new comment or link makes a revision, read in the same walk)."""
        if not self.policy.filters_work_item_types:
            return [[s] for s in aside]
        together = [s for s in aside if s.name in _TYPED_BY_REVISIONS]
        return [[s] for s in aside if s not in together] + ([together] if together else [])

    def _collect_below(self, client: AdoClient, report: CollectionReport, run: "_ScopeRunner", owner: bool, streams: list) -> None:
        """The projects, then what is below them (a project's repositories and teams once it is done), then
        the collection's last streams."""
        held = self._held_projects(client, owner, streams)  # before the projects stream moves its cursor
        listed = run(Scope.COLLECTION, None, "") if owner else {}
        projects = listed.get(ProjectsStream.name)
        if projects is None:  # this replica or this job does not deliver projects, but needs the list
            try:
                projects = self._list_only(client, self._projects_stream(), None)
            except AdoError as exc:
                self._fail(report, client.target.name, ProjectsStream.name, "", exc)
                return
        if held and projects is not None:
            self._departed(client, report, run, held, {p["id"] for p in projects if isinstance(p.get("id"), str)})
        projects = [p for p in projects if self.shard.owns_project(client.target.url, p["id"])]
        needs_teams = any(s.scope is Scope.TEAM for s in streams)

        futures: list[Future] = []  # the repositories' units
        team_futures: list[Future] = []

        def start_repositories(name: str, listed_repositories: list[dict]) -> None:
            """A project's repositories start as soon as they are listed, beside the rest of the project:
            their commits are chains of pages that, started last, ran on alone at the end of a backfill."""
            if name != "git.repositories":
                return
            for disabled in (r for r in listed_repositories if r.get("isDisabled")):  # its reads answer 404 TF401019
                log.info("repository_disabled", integration=self.integration.id, collection=client.target.name,
                         repository=disabled.get("id"), hint="its record is delivered; refs, commits and pushes when enabled")
            if not self.should_stop():
                futures.extend([below_pool.submit(run, Scope.REPOSITORY, r, r["id"])
                                for r in listed_repositories if not r.get("isDisabled")])

        def project_scope(project: dict) -> dict[str, list[dict]]:
            below = run.by_service(Scope.PROJECT, project, project["id"], on_listed=start_repositories)
            if needs_teams and TeamsStream.name not in below and not self.should_stop():
                try:
                    below[TeamsStream.name] = self._list_only(client, TeamsStream(), project)
                except AdoError as exc:
                    self._fail(report, client.target.name, TeamsStream.name, project["id"], exc)
            return below

        # A project's teams start as soon as that project is done, beside the projects still running.
        with ThreadPoolExecutor(max_workers=self.limits.concurrency, thread_name_prefix="collect") as below_pool:
            with ThreadPoolExecutor(max_workers=self.limits.concurrency, thread_name_prefix="project") as pool:
                for done in as_completed([pool.submit(project_scope, p) for p in projects]):  # side by side
                    below = done.result()  # re-raises store failures, which must stop the run
                    if not self.should_stop():
                        team_futures += [below_pool.submit(run, Scope.TEAM, t, t["id"]) for t in below.get(TeamsStream.name, [])]
            for future in futures:
                future.result()  # re-raises store failures, which must stop the run
            below_teams: dict[str, list[dict]] = {}
            for future in team_futures:
                for name, items in future.result().items():
                    below_teams.setdefault(name, []).extend(items)
        if self.should_stop():
            return
        if owner:
            run(Scope.COLLECTION_END, None, "", below_teams)

    def _collect_focused(self, client: AdoClient, report: CollectionReport, streams: list, collection_id: str,
                         owner: bool) -> None:
        """An event-driven run: the due collection-wide units, then per due project its due units and
        those of its due repositories (the project and repository lists read, not delivered: the
        scope filters and the shard still decide)."""
        focus = self.focus
        due = focus.in_collection(collection_id)
        names = focus.streams_of(due, "")
        if owner and names:
            _ScopeRunner(self, client, report, [s for s in streams if s.scope is Scope.COLLECTION and s.name in names],
                         collection_id)(Scope.COLLECTION, None, "")
        project_ids = {d.project_id for d in due if d.project_id}
        if not project_ids or self.should_stop():
            return
        try:
            projects = self._list_only(client, self._projects_stream(), None)
        except AdoError as exc:
            self._fail(report, client.target.name, ProjectsStream.name, "", exc)
            return
        for project in projects:
            project_id = str(project.get("id", "")).lower()
            if project_id not in project_ids or not self.shard.owns_project(client.target.url, project["id"]):
                continue
            below = [d for d in due if d.project_id == project_id and d.parent_id != project_id]
            names = focus.streams_of(due, project_id)
            repositories: list[dict] = []
            if below or "git.pull_requests" in names:  # the repository filter applies to pull requests too
                try:
                    listed = self.scope.listing(RepositoriesStream.name, self._list_only(client, RepositoriesStream(), project))
                except AdoError as exc:
                    self._fail(report, client.target.name, RepositoriesStream.name, project["id"], exc)
                    continue
                repositories = [r for r in listed if not r.get("isDisabled")]
            if names and not self.should_stop():
                _ScopeRunner(self, client, report, [s for s in streams if s.scope is Scope.PROJECT and s.name in names],
                             collection_id)(Scope.PROJECT, project, project["id"])
            for repository in repositories:
                names = focus.streams_of(below, str(repository.get("id", "")))
                if names and not self.should_stop():
                    _ScopeRunner(self, client, report, [s for s in streams if s.scope is Scope.REPOSITORY and s.name in names],
                                 collection_id)(Scope.REPOSITORY, repository, repository["id"])

    def _held_projects(self, client: AdoClient, owner: bool, streams: list) -> set[str]:
        """The project ids of the last delivered projects snapshot; a replica that does not deliver the
        projects (sharding): those under which its project-scope snapshots hold something."""
        prefix = f"{client.target.name}/"
        if owner:
            cursor = self.store.get_cursor(CursorKey(self.integration.id, ProjectsStream.name, prefix))
            return set(SnapshotHashes.from_text(cursor).hashes) if cursor else set()
        names = {s.name for s in streams if s.scope is Scope.PROJECT and isinstance(s, SnapshotStream)}
        held: set[str] = set()
        for _, stream, partition in sorted(self.store.partitions(self.integration.id)):
            project_id = partition.removeprefix(prefix)
            if stream in names and partition.startswith(prefix) and project_id and project_id not in held:
                cursor = self.store.get_cursor(CursorKey(self.integration.id, stream, partition))
                if cursor and SnapshotHashes.from_text(cursor).hashes:
                    held.add(project_id)
        return held

    def _departed(self, client: AdoClient, report: CollectionReport, run: "_ScopeRunner", held: set[str], listed: set[str]) -> None:
        """The projects held before, not listed now and answering 404 alone: each project-scope unit
        under them delivers what it held as deletes (sync/departed.py)."""
        held = {p for p in held if self.shard.owns_project(client.target.url, p)}
        try:
            gone = departed_projects(client, held, listed)
        except AdoError as exc:
            self._fail(report, client.target.name, ProjectsStream.name, "", exc)
            return
        for project_id in gone:
            log.info("project_departed", integration=self.integration.id, collection=client.target.name, project=project_id)
            for stream in run.streams:
                if stream.scope is Scope.PROJECT and not self.should_stop():
                    key = CursorKey(self.integration.id, stream.name, f"{client.target.name}/{project_id}")
                    unit = DepartedProject(stream, lambda t, key=key: self.store.live_keys(key, t))
                    self._run_unit(report, client, unit, {"id": project_id}, project_id, {}, run.collection_id)

    def _list_only(self, client: AdoClient, stream: SnapshotStream, parent: dict | None) -> list[dict]:
        """A parent list (projects, teams) this run needs but does not deliver."""
        tracker = RouteTracker(client)
        ctx = StreamContext(tracker, "", None, self.limits.page_sizes)  # type: ignore[arg-type]
        partition = f"{client.target.name}/{parent['id'] if parent is not None else ''}"
        try:
            listing = self._listing(stream, ctx, parent, tracker, partition)
            return list(guarded(lambda: [i for i in listing if _keyed(stream, ctx, i, parent)], tracker, stream.name))
        except AdoError as exc:
            raise type(exc)(with_route(str(exc), tracker), collection=exc.collection, status=exc.status,
                            retry_after=exc.retry_after) from None

    def _listing(self, stream: SnapshotStream, ctx: StreamContext, parent: dict | None, tracker: RouteTracker,
                 partition: str) -> list[dict]:
        """A snapshot stream's list of a partition, as the server gave it: from another job of the sweep
        if it read it (``listings``), else read now."""
        def read() -> list[dict]:
            return list(guarded(lambda: stream.list(ctx, parent), tracker, stream.name))

        if self.listings is None or stream.name not in SHARED_STREAMS:
            return read()
        return self.listings.list(ListingKey(self.integration.id, stream.name, partition), read)

    def _supported(self, version: ApiVersion, collection: str) -> list:
        supported = []
        for stream in self._streams:
            if version.at_least(stream.min_version):
                supported.append(stream)
            else:
                log.info("stream_not_on_this_server", integration=self.integration.id, collection=collection,
                         stream=stream.name, needs=stream.min_version, server=version.server_name)
        return supported

    def _run_unit(self, report: CollectionReport, client: AdoClient, stream, parent: dict | None, parent_id: str,
                  listed: dict[str, list[dict]], collection_id: str) -> None:
        key = CursorKey(self.integration.id, stream.name, f"{client.target.name}/{parent_id}")
        if not _RUNNING_UNITS.claim(key):  # another job of this process runs it now (a long backfill)
            log.debug("unit_running_elsewhere", integration=key.integration_id, stream=key.stream, partition=key.partition)
            if self.focus is not None:
                self.units_elsewhere.append((collection_id.lower(), stream.name, parent_id.lower()))
            return
        try:
            cursor = self.store.get_cursor(key)
            if self.incremental_only and cursor is None and not isinstance(stream, SnapshotStream):
                return  # a backfill: left to the run that is already backfilling
            self._run_claimed_unit(report, client, stream, parent, parent_id, listed, collection_id, key, cursor)
        finally:
            _RUNNING_UNITS.release(key)

    def _run_claimed_unit(self, report: CollectionReport, client: AdoClient, stream, parent: dict | None, parent_id: str,
                          listed: dict[str, list[dict]], collection_id: str, key: CursorKey, cursor: str | None) -> None:
        started = time.monotonic()
        backfill = self.integration.backfill.start
        tracker = RouteTracker(client)  # a server's odd JSON fails this unit with an error naming the route
        writer = BatchWriter(
            self.store,
            self.sealer,
            cursor_key=key,
            service=stream.service,
            max_records=self.limits.batch.max_records,
            max_bytes=self.limits.batch.max_bytes,
            remember_keys=stream.immutable,
            tracked=() if isinstance(stream, SnapshotStream) else (*stream.reconciled, *stream.held),
            on_record=self.on_record,
            admit=self.admit,
            should_stop=self.should_stop,
            on_quarantine=lambda item: self._quarantined(stream.name, key.partition, tracker.route, item),
            policy=self.policy,
            budget=self._pending,
        )
        ctx = StreamContext(
            tracker,  # type: ignore[arg-type]
            key.partition,
            cursor,
            self.limits.page_sizes,
            collection_id=collection_id,
            backfill_start=f"{backfill.isoformat()}T00:00:00Z" if backfill else None,
            listed=listed,
            already_delivered=(lambda keys: self.store.delivered_among(key, keys) | writer.holding(keys))
            if stream.immutable else (lambda keys: set()),
            overlap=self.limits.cursor_overlap,
        )
        # A read from no cursor (a first run, a reconciliation) is backfill work: behind incremental work
        # at the server's gate, and outside schedule.backfill_window within backfill_share of its limit.
        backfilling = not isinstance(stream, SnapshotStream) and ctx.cursor is None
        try:
            with doing(self._backfill_work if backfilling else self._incremental_work):
                result = self._read_unit(stream, ctx, parent, writer, key, tracker, listed)
        except AdoError as exc:
            error = with_route(str(exc), tracker)
            self._fail(report, client.target.name, stream.name, parent_id, error)
            self.store.record_outcome(key, error=error)
            return
        self.store.record_outcome(key, records=result.records, batches=result.batches, quarantined=result.quarantined)
        RECORDS.labels(self.integration.id, stream.name).inc(result.records)
        seconds = time.monotonic() - started
        report.add(StreamOutcome(self.integration.id, client.target.name, stream.name, parent_id, result.records,
                                 result.batches, result.counts_by_type, None, seconds))
        if result.records:
            log.info("stream_synced", integration=self.integration.id, collection=client.target.name, stream=stream.name,
                     partition=parent_id, records=result.records, batches=result.batches, seconds=round(seconds, 3))

    def _read_unit(self, stream, ctx: StreamContext, parent: dict | None, writer: BatchWriter, key: CursorKey,
                   tracker: RouteTracker, listed: dict[str, list[dict]]) -> WriteResult:
        """Read one unit into the writer: a snapshot's diff, or an incremental read (and, after a
        complete read from no cursor, the deletes of what it no longer met)."""
        if isinstance(stream, SnapshotStream):
            items = self.scope.listing(stream.name, self._listing(stream, ctx, parent, tracker, key.partition))
            result = writer.write(guarded(lambda: stream.diff(ctx, parent, items), tracker, stream.name))
            listed[stream.name] = items
        else:
            result = writer.write(self.scope.records(stream.name, guarded(lambda: stream.read(ctx, parent), tracker, stream.name)))
            if stream.reconciled and ctx.cursor is None and result.complete:
                result = self._deletes_after_complete_read(
                    writer, key, stream.reconciled, ctx.backfill_start, result,
                    confirm=lambda t, keys: list(guarded(lambda: stream.gone(ctx, parent, t, keys), tracker, stream.name)))
        return result

    def _deletes_after_complete_read(self, writer: BatchWriter, key: CursorKey, types: tuple[str, ...],
                                     backfill: str | None, result: WriteResult,
                                     confirm: Callable[[str, list[str]], list[str]] | None = None) -> WriteResult:
        """After a read from no cursor (a first run or a reconciliation) that reached its end without
        error: the live keys of ``types`` stored before and not met are gone from the server (destroyed
        work items vanish from every route), so each becomes a delete. Never after a failed or partial
        read (the caller's condition: an answer that could not be read proves nothing), nor when the
        keys were read from another backfill start (then they are only forgotten). ``confirm``: the
        stream's ``gone``, which of a type's unmet keys the server confirms gone (each asked alone);
        an error there raises before anything is deleted or forgotten."""
        basis_key, basis = f"live_keys_basis:{key.integration_id}:{key.stream}:{key.partition}", backfill or ""
        before = self.store.get_state(basis_key)
        gone = {t: sorted(self.store.unmet_live_keys(key, t, writer.seen[t])) for t in types}
        deletes = []
        if before is not None and before != basis:
            for record_type, keys in gone.items():
                self.store.forget_live_keys(key, record_type, keys)
        else:
            if confirm is not None:
                gone = {t: sorted(confirm(t, keys)) if keys else [] for t, keys in gone.items()}
            deletes = [delete(record_type, k) for record_type, keys in gone.items() for k in keys]
        self.store.set_state(basis_key, basis)
        if not deletes:
            return result
        log.info("reconcile_deletes", integration=key.integration_id, stream=key.stream, partition=key.partition,
                 deletes=len(deletes))
        more = writer.write(deletes)
        counts = dict(result.counts_by_type)
        for record_type, n in more.counts_by_type.items():
            counts[record_type] = counts.get(record_type, 0) + n
        return WriteResult(result.records + more.records, result.batches + more.batches, counts, more.complete,
                           result.quarantined + more.quarantined)

    def _quarantined(self, stream: str, partition: str, route: str, item: Quarantined) -> None:
        """An item skipped as unreadable: its route and id (never its content), counted."""
        log.warning("item_quarantined", integration=self.integration.id, stream=stream, partition=partition, route=route,
                    record_type=item.record_type, item=item.item_id, reason=item.reason,
                    hint="skipped; the next reconciliation reads it again")
        QUARANTINED.labels(self.integration.id, stream).inc()

    def _fail(self, report: CollectionReport, collection: str, stream: str, partition: str, exc: Exception | str) -> None:
        log.error("stream_failed", integration=self.integration.id, collection=collection, stream=stream, partition=partition, error=str(exc))
        report.add(StreamOutcome(self.integration.id, collection, stream, partition, 0, 0, {}, error=str(exc)))


PENDING_BATCHES = 4  # the units of a collector hold at most about this many full batches unsealed, together
_TYPED_BY_REVISIONS = ("wit.revisions", "wit.links", "wit.comments")  # in the order of STREAMS


class _RunningUnits:
    """The units (cursor keys) some collector of this process is running now; thread-safe."""

    def __init__(self) -> None:
        self._keys: set[CursorKey] = set()
        self._lock = Lock()

    def claim(self, key: CursorKey) -> bool:
        with self._lock:
            if key in self._keys:
                return False
            self._keys.add(key)
            return True

    def release(self, key: CursorKey) -> None:
        with self._lock:
            self._keys.discard(key)


_RUNNING_UNITS = _RunningUnits()

@dataclass(frozen=True, slots=True)
class _ScopeRunner:
    """Runs the streams of one scope for one parent, in declaration order."""

    collector: Collector
    client: AdoClient
    report: CollectionReport
    streams: list
    collection_id: str

    def __call__(self, scope: Scope, parent: dict | None, parent_id: str, inherited: dict[str, list[dict]] | None = None,
                 on_listed: Callable[[str, list[dict]], None] | None = None) -> dict[str, list[dict]]:
        """Returns what the snapshot streams of this scope listed (``inherited`` is visible to them too);
        ``on_listed`` is told each stream's list as soon as it is read."""
        listed: dict[str, list[dict]] = dict(inherited or {})
        for stream in self.streams:
            if self.collector.should_stop():
                break
            if stream.scope is scope:
                self.collector._run_unit(self.report, self.client, stream, parent, parent_id, listed, self.collection_id)
                if on_listed is not None and stream.name in listed:
                    on_listed(stream.name, listed[stream.name])
        return {name: items for name, items in listed.items() if not inherited or name not in inherited}

    def by_service(self, scope: Scope, parent: dict | None, parent_id: str,
                   on_listed: Callable[[str, list[dict]], None] | None = None) -> dict[str, list[dict]]:
        """As calling it, but each service's streams in a thread of their own, side by side (in declaration
        order within a service, whose streams read each other's lists: pull requests after repositories,
        pipeline runs after environments). A project's builds then start with its pull requests: light
        and heavy requests share the run instead of following each other."""
        services = dict.fromkeys(s.service for s in self.streams if s.scope is scope)
        runners = [replace(self, streams=[s for s in self.streams if s.scope is scope and s.service == service])
                   for service in services]
        if len(runners) <= 1:  # nothing to run beside: no thread
            return runners[0](scope, parent, parent_id, on_listed=on_listed) if runners else {}
        listed: dict[str, list[dict]] = {}
        with ThreadPoolExecutor(max_workers=len(runners), thread_name_prefix="service") as side_by_side:
            for done in [side_by_side.submit(runner, scope, parent, parent_id, on_listed=on_listed) for runner in runners]:
                listed.update(done.result())  # re-raises store failures, which must stop the run
        return listed


def _keyed(stream, ctx, item: dict, parent: dict | None) -> bool:
    """A parent listed (a project, a repository) that can be keyed; one that cannot is left out."""
    try:
        return bool(stream.key(ctx, item, parent))
    except UnreadableItem:
        log.warning("item_quarantined", stream=stream.name, item=item_id(item), reason="a parent without its id")
        return False

"""``satellite resync``: forget the cursors and remembered (delivered) keys of a selection, so that
the next run reads it again from the start and sends everything it reads (after a privacy policy
change: the records of immutable streams are otherwise never sent again). The keys of live records
stay: that complete re-read also deletes what the server no longer has, as a reconciliation does.

A selection is integrations x streams x partitions. Partitions are ``<collection>/<id>``: a
project's, a repository's or a team's id (or empty for the collection-wide streams). The store
holds no names, so ``--project`` (a name or an id) is resolved through the server with the
integration's PAT: the project's id and the ids of its repositories and teams. The store change is
one transaction beside a running agent (SQLite WAL, no data-dir lock); a run that read a cursor
before does not bring it back (``Store.forget``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

from satellite.ado.client import AdoClient, TlsOptions
from satellite.errors import AdoError
from satellite.retrying import RetryPolicy
from satellite.store import Forgotten, Store
from satellite.streams import STREAMS, ProjectsStream, Scope, StreamContext, TeamsStream
from satellite.streams.git import RepositoriesStream
from satellite.sync.collector import collection_targets
from satellite.sync.unit_guard import RouteTracker, guarded

__all__ = ["Selection", "SelectionError", "ResolveError", "select", "project_partitions", "resync"]

_BELOW_PROJECT = (Scope.PROJECT, Scope.REPOSITORY, Scope.TEAM)
_RESOLVE_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.5, max_wait=5.0)


class SelectionError(ValueError):
    """A selection naming what does not exist (exit 2); the message lists what does."""


class ResolveError(RuntimeError):
    """The server could not resolve ``--project`` (exit 1)."""


@dataclass(frozen=True, slots=True)
class Selection:
    """What to forget; None: any."""

    integrations: tuple[str, ...]
    streams: tuple[str, ...] | None
    projects: tuple[str, ...] = ()  # as given: names or ids
    every_stream: bool = True  # no stream named (with projects: every stream below a project)


def select(config, integration: str | None, streams: list[str] | None, projects: list[str] | None) -> Selection:
    """Check a selection against the configuration and the known streams.

    Raises:
        SelectionError: an unknown integration or stream, or a collection-wide stream with a project.
    """
    known = [i.id for i in config.integrations]
    if integration is not None and integration not in known:
        raise SelectionError(f"unknown integration {integration!r}; the integrations are: {', '.join(known)}")
    names = {s.name: s for s in STREAMS}
    unknown = [s for s in streams or () if s not in names]
    if unknown:
        raise SelectionError(f"unknown stream(s) {', '.join(unknown)}; the streams are: {', '.join(sorted(names))}")
    if projects and streams:
        wide = [s for s in streams if names[s].scope not in _BELOW_PROJECT]
        if wide:
            below = sorted(n for n, s in names.items() if s.scope in _BELOW_PROJECT)
            raise SelectionError(
                f"stream(s) {', '.join(wide)} are collection-wide (one partition holds every project): resync them"
                f" without --project; the streams a project selects are: {', '.join(below)}")
    selected_streams = tuple(dict.fromkeys(streams)) if streams else None
    if projects and selected_streams is None:
        selected_streams = tuple(n for n, s in names.items() if s.scope in _BELOW_PROJECT)
    return Selection(tuple(known if integration is None else [integration]), selected_streams,
                     tuple(dict.fromkeys(projects or ())), not streams)


def project_partitions(config, integration_id: str, projects: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """(partitions, projects found) of ``projects`` (names, case-insensitive, or ids) in the
    integration's collections: each one's ``<collection>/<project id>`` and those of its repositories and teams.

    Raises:
        ResolveError: the server could not be read.
    """
    integration = next(i for i in config.integrations if i.id == integration_id)
    limits = config.limits
    timeout = limits.request_timeout.total_seconds()
    tls = TlsOptions(verify=integration.tls.verify, ca_bundle=integration.tls.ca_bundle)
    wanted = {p.casefold() for p in projects}
    partitions: set[str] = set()
    found: set[str] = set()
    try:
        for target in collection_targets(integration, tls, integration.proxy, timeout, _RESOLVE_RETRY):
            with AdoClient(target, integration.pat, tls=tls, proxy=integration.proxy, timeout=timeout,
                           retry=_RESOLVE_RETRY, max_connections=2) as client:
                tracker = RouteTracker(client)
                ctx = StreamContext(tracker, f"{target.name}/", None, limits.page_sizes)  # type: ignore[arg-type]
                for project in guarded(lambda: ProjectsStream().list(ctx, None), tracker, ProjectsStream.name):
                    names = {str(project["id"]).casefold(), str(project.get("name", "")).casefold()}
                    hits = names & wanted
                    if not hits:
                        continue
                    found |= {p for p in projects if p.casefold() in hits}
                    below = [project]
                    below += guarded(lambda: RepositoriesStream().list(ctx, project), tracker, RepositoriesStream.name)
                    below += guarded(lambda: TeamsStream().list(ctx, project), tracker, TeamsStream.name)
                    partitions |= {f"{target.name}/{item['id']}" for item in below}
    except AdoError as exc:
        raise ResolveError(
            f"resync --project needs the server of integration {integration_id} to find the project's id and its"
            f" repositories' and teams' ids (the store holds no names), and reading it failed: {exc}") from None
    return partitions, found


def resync(config, integration: str | None = None, streams: list[str] | None = None, projects: list[str] | None = None,
           echo: Callable[[str], None] = print,
           complain: Callable[[str], None] = lambda text: print(text, file=sys.stderr)) -> int:
    """Forget the selection; ``echo``es what was forgotten per stream, ``complain``s why not. Exit
    code: 0 done, 1 the server could not resolve a project, 2 a bad selection (the valid names listed)."""
    try:
        selection = select(config, integration, streams, projects)
    except SelectionError as exc:
        complain(f"resync: {exc}")
        return 2
    partitions: set[str] | None = None
    if selection.projects:
        partitions, found = set(), set()
        for integration_id in selection.integrations:
            try:
                more, hits = project_partitions(config, integration_id, selection.projects)
            except ResolveError as exc:
                complain(f"resync: {exc}")
                return 1
            partitions |= more
            found |= hits
        missing = [p for p in selection.projects if p not in found]
        if missing:
            complain(f"resync: no project {', '.join(repr(p) for p in missing)} (by name or id) on the server of"
                 f" {', '.join(selection.integrations)}; nothing was forgotten")
            return 2
    store = Store(config.satellite.data_dir)
    try:
        forgotten: list[Forgotten] = []
        for integration_id in selection.integrations:
            forgotten += store.forget(integration_id, selection.streams, partitions)
    finally:
        store.close()
    _report(forgotten, selection, echo)
    return 0


def _report(forgotten: list[Forgotten], selection: Selection, echo: Callable[[str], None]) -> None:
    if not forgotten:
        echo("resync: nothing to forget in this selection (nothing of it was collected yet)")
    for f in forgotten:
        echo(f"resync: {f.integration_id} {f.stream}: forgot {f.cursors} cursor(s), {f.delivered_keys} delivered key(s)")
    if forgotten:
        echo("resync: the next run (satellite sync, or the running agent's next scheduled run) reads these again from"
             " the start and sends everything it reads")
    if selection.projects and selection.every_stream:
        echo(f"resync: the collection-wide streams ({', '.join(_collection_wide())}) hold every project in one"
             " partition and were not touched: resync them with --stream and no --project")


def _collection_wide() -> tuple[str, ...]:
    return tuple(s.name for s in STREAMS if s.scope not in _BELOW_PROJECT)

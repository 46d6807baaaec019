"""Build area routes: definitions, builds, timelines, build changes and work items (``{project}/_apis/build/...``)."""

from __future__ import annotations

import fnmatch
import re
from typing import Callable

from standins.ado_simulator.api.build.build_bodies import build_json, definition_json, definition_ref, timeline_json
from standins.ado_simulator.world.pipelines.builds import COMPLETED, NOT_STARTED, Build, BuildDomain, Definition, builds_of, stamp, time_key
from standins.ado_simulator.wire.context import Request, Site, require_preview_before
from standins.ado_simulator.api.core.core_routes import CONTINUATION_HEADER, resolve_project
from standins.ado_simulator.world.model import Commit, Person, Project
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.binding import (
    BUILD_QUERY_ORDER,
    BUILD_REASON,
    BUILD_RESULT,
    BUILD_STATUS,
    DEFINITION_QUERY_ORDER,
    QUERY_DELETED_OPTION,
    DotNetEnum,
)
from standins.ado_simulator.wire.wire import ApiError, Query, Response, json_response, list_response, parse_date

__all__ = ["ROUTES", "LOCATIONS", "build_in_project", "definition_in_project", "parse_ids", "index_page"]

_BUILD = "Microsoft.TeamFoundation.Build.WebApi"
_BUILD2 = "Microsoft.TeamFoundation.Build2.WebApi"
_SCOPE = "vso.build"
_PAGE = 1000  # builds per page when $top is not given
_TOKEN = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{7})Z$")

_T = "{project}/_apis/build"
LOCATIONS = (
    Location("dbeaf647-6167-421a-bda9-c9327b25e2e6", "build", "Definitions", f"{_T}/definitions/{{definitionId}}", 7, (COLLECTION,)),
    Location("0cd358e1-9217-4d94-8269-1c1ee6f93dcf", "build", "Builds", f"{_T}/builds/{{buildId}}", 7, (COLLECTION,)),
    Location("8baac422-4c6e-4de5-8532-db96d92acffa", "build", "Timeline", f"{_T}/builds/{{buildId}}/timeline/{{timelineId}}",
             2, (COLLECTION,)),
    Location("54572c7b-bbd3-45d4-80dc-28be08941620", "build", "changes", f"{_T}/builds/{{buildId}}/changes", 2, (COLLECTION,)),
    Location("5a21f5d2-5642-47e4-a0bd-1356e6731bee", "build", "workitems", f"{_T}/builds/{{buildId}}/workitems", 2, (COLLECTION,)),
    Location("f10f0ea5-18a1-43ec-a8fb-2042c7be9b43", "build", "changes", f"{_T}/changes", 2, (COLLECTION,)),
)

# queryOrder -> (time kind for stamp(), field of Build, descending)
_ORDERS: dict[str, tuple[int, str, bool]] = {
    "queuetimedescending": (0, "queued", True),
    "queuetimeascending": (0, "queued", False),
    "starttimedescending": (1, "started", True),
    "starttimeascending": (1, "started", False),
    "finishtimedescending": (2, "finished", True),
    "finishtimeascending": (2, "finished", False),
}


# -- lookups -----------------------------------------------------------------------------


def parse_ids(text: str | None, name: str) -> set[int]:
    """A comma-separated id list (empty when absent)."""
    if not text:
        return set()
    try:
        return {int(part) for part in text.split(",") if part.strip()}
    except ValueError:
        raise ApiError.bad_argument(f"The value '{text}' is not valid for {name}.") from None


def _int_param(req: Request, name: str) -> int:
    raw = req.params[name]
    if not raw.isdigit():
        raise ApiError.bad_argument(f"The value '{raw}' is not valid for {name}.")
    return int(raw)


def definition_in_project(site: Site, domain: BuildDomain, project: Project, definition_id: int) -> Definition:
    definition = domain.definition(definition_id)
    if definition is None or site.world.projects[definition.project].id != project.id:
        raise ApiError(404, f"The requested build definition {definition_id} cannot be found.",
                       "DefinitionNotFoundException", f"{_BUILD}.DefinitionNotFoundException, {_BUILD2}")
    return definition


def build_in_project(site: Site, domain: BuildDomain, project: Project, build_id: int) -> Build:
    """The build (deleted ones too), or the server's 404."""
    build = domain.build(build_id)
    if build is None or site.world.projects[domain.definitions[build.definition - 1].project].id != project.id:
        raise ApiError(404, f"The requested build {build_id} could not be found.", "BuildNotFoundException",
                       f"{_BUILD}.BuildNotFoundException, {_BUILD2}")
    return build


def index_page(items: list, req: Request, page: int | None) -> tuple[list, tuple[tuple[str, str], ...]]:
    """Paging of lists whose order never changes: ``$top`` (default ``page``, None: all), and the position
    to start at as ``continuationToken`` (sent back in the header while more remain) or ``$skip``."""
    token = req.query.get("continuationToken")
    if token:
        if not token.isdigit():
            raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.")
        start = int(token)
    else:
        start = req.query.get_int("$skip", default=0) or 0
    top = req.query.get_int("$top", default=page)
    if top is None:
        return items[start:], ()
    headers = ((CONTINUATION_HEADER, str(start + top)),) if start + top < len(items) else ()
    return items[start : start + top], headers


# -- definitions ---------------------------------------------------------------------------


def list_definitions(site: Site, req: Request) -> Response:
    """Definitions of a project: ``name`` (``*`` wildcards), ``path``, ``repositoryId``, ``definitionIds``,
    ``processType``, ``queryOrder``; ``$top`` with a header continuation token."""
    query = req.query
    project = resolve_project(site, req.params["project"])
    domain = builds_of(site.world)
    name = (query.get("name") or "").lower()
    folder = (query.get("path") or "").rstrip("\\").lower()
    repository = (query.get("repositoryId") or "").lower()
    wanted = parse_ids(query.get("definitionIds"), "definitionIds")
    process = query.get_int("processType", default=None)
    index = site.world.projects.index(project)
    repos = site.world.repositories
    chosen = [
        d for d in domain.definitions
        if d.project == index
        and (not name or fnmatch.fnmatchcase(d.name.lower(), name))
        and (not folder or d.path.lower() == folder or d.path.lower().startswith(folder + "\\"))
        and (not repository or repos[d.repository].id == repository)
        and (not wanted or d.id in wanted)
        and (process is None or (2 if d.yaml else 1) == process)
    ]
    order = (query.get_enum(DEFINITION_QUERY_ORDER, "queryOrder") or "none").lower()
    keys: dict[str, tuple[Callable[[Definition], object], bool]] = {
        "definitionnameascending": (lambda d: d.name.lower(), False),
        "definitionnamedescending": (lambda d: d.name.lower(), True),
        "lastmodifiedascending": (lambda d: (d.modified, d.id), False),
        "lastmodifieddescending": (lambda d: (d.modified, d.id), True),
    }
    if order in keys:
        key, descending = keys[order]
        chosen.sort(key=key, reverse=descending)  # type: ignore[arg-type]
    page, headers = index_page(chosen, req, None)
    full = query.get_bool("includeAllProperties")
    latest = query.get_bool("includeLatestBuilds")
    with site.world.lock:
        items = [_definition_body(site, req, domain, d, full, latest) for d in page]
    return list_response(items, req.version, headers)


def _definition_body(site: Site, req: Request, domain: BuildDomain, definition: Definition, full: bool, latest: bool) -> dict:
    body = definition_json(site, req, definition) if full else definition_ref(site, req, definition)
    if latest:
        builds = [domain.builds[i - 1] for i in reversed(domain.by_definition[definition.id])]
        newest = next((b for b in builds if not b.deleted), None)
        completed = next((b for b in builds if not b.deleted and b.status == COMPLETED), None)
        if newest:
            body["latestBuild"] = build_json(site, req, domain, newest)
        if completed:
            body["latestCompletedBuild"] = build_json(site, req, domain, completed)
    return body


def get_definition(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"])
    domain = builds_of(site.world)
    definition = definition_in_project(site, domain, project, _int_param(req, "definitionId"))
    with site.world.lock:
        body = _definition_body(site, req, domain, definition, True, req.query.get_bool("includeLatestBuilds"))
    return json_response(body, req.version)


# -- builds --------------------------------------------------------------------------------


class _BuildFilter:
    """The Get Builds criteria."""

    def __init__(self, site: Site, req: Request) -> None:
        query = req.query
        self.definitions = parse_ids(query.get("definitions"), "definitions")
        self.ids = parse_ids(query.get("buildIds"), "buildIds")
        self.queues = parse_ids(query.get("queues"), "queues")
        self.statuses = _flags(query, BUILD_STATUS, "statusFilter")
        self.results = _flags(query, BUILD_RESULT, "resultFilter")
        self.reasons = _flags(query, BUILD_REASON, "reasonFilter")
        branch = query.get("branchName") or ""
        self.branch = branch if not branch or branch.startswith("refs/") else f"refs/heads/{branch}"
        self.repository = (query.get("repositoryId") or "").lower()
        self.number = (query.get("buildNumber") or "").lower()
        self.requested_for = (query.get("requestedFor") or "").lower()
        self.deleted = (query.get_enum(QUERY_DELETED_OPTION, "deletedFilter") or "excludeDeleted").lower()
        self._site = site

    def admits(self, domain: BuildDomain, build: Build) -> bool:
        if self.deleted == "excludedeleted" and build.deleted or self.deleted == "onlydeleted" and not build.deleted:
            return False
        definition = domain.definitions[build.definition - 1]
        world = self._site.world
        return (
            (not self.definitions or build.definition in self.definitions)
            and (not self.ids or build.id in self.ids)
            and (not self.queues or definition.queue.id in self.queues)
            and (not self.statuses or build.status.lower() in self.statuses)
            and (not self.results or (build.status == COMPLETED and build.result.lower() in self.results))
            and (not self.reasons or build.reason.lower() in self.reasons)
            and (not self.branch or build.branch == self.branch)
            and (not self.repository or world.repositories[definition.repository].id == self.repository)
            and (not self.number or _number_matches(build.number.lower(), self.number))
            and (not self.requested_for or self.requested_for in _person_keys(world.people[build.requested_for]))
        )


def _flags(query: Query, enum: DotNetEnum, name: str) -> set[str]:
    """A [Flags] filter by names or number, as lower-cased single members; empty (no filter) for all/none."""
    values = query.get_flags(enum, name)
    return set() if values & {"all", "none"} else {v.lower() for v in enum.singles(values)}


def _number_matches(number: str, pattern: str) -> bool:
    return number.startswith(pattern[:-1]) if pattern.endswith("*") else number == pattern


def _person_keys(person: Person) -> set[str]:
    return {person.id, person.display_name.lower(), person.unique_name.lower(), person.email}


def _token_key(token: str) -> tuple[int, int]:
    """The (seconds, fraction) a time-order token stands for."""
    match = _TOKEN.match(token)
    seconds = parse_date(match.group(1) + "Z") if match else None
    if match is None or seconds is None:
        raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.")
    return seconds, int(match.group(2))


def list_builds(site: Site, req: Request) -> Response:
    """Get Builds of a project in ``queryOrder`` (default queueTimeDescending); ``minTime``/``maxTime`` apply to
    that order's time; time orders leave out builds that have not reached it (not started / not finished).
    The ``x-ms-continuationtoken`` is the (unique) time of the next build."""
    query = req.query
    project = resolve_project(site, req.params["project"])
    domain = builds_of(site.world)
    order = (query.get_enum(BUILD_QUERY_ORDER, "queryOrder") or "queueTimeDescending").lower()
    kind, field, descending = _ORDERS[order]
    since, until = query.get_date("minTime"), query.get_date("maxTime")
    token = query.get("continuationToken")
    after = _token_key(token) if token else None
    top = query.get_int("$top", default=_PAGE) or _PAGE
    per_definition = query.get_int("maxBuildsPerDefinition", default=None)
    criteria = _BuildFilter(site, req)
    index = site.world.projects.index(project)
    with site.world.lock:
        builds = [
            b for d in domain.definitions if d.project == index
            for b in (domain.builds[i - 1] for i in domain.by_definition[d.id])
        ]
    chosen = []
    for build in builds:
        if field == "started" and build.status == NOT_STARTED or field == "finished" and build.status != COMPLETED:
            continue
        key = time_key(getattr(build, field), build.id, kind)
        if since is not None and key < (since, 0) or until is not None and key >= (until, 0):
            continue
        if after is not None and (key > after if descending else key < after):
            continue
        if criteria.admits(domain, build):
            chosen.append((key, build))
    chosen.sort(key=lambda pair: pair[0], reverse=descending)
    if per_definition:
        seen: dict[int, int] = {}
        kept = []
        for key, build in chosen:
            seen[build.definition] = seen.get(build.definition, 0) + 1
            if seen[build.definition] <= per_definition:
                kept.append((key, build))
        chosen = kept
    chosen = chosen[query.get_int("$skip", default=0) or 0 :]
    headers: tuple[tuple[str, str], ...] = ()
    if len(chosen) > top:
        following = chosen[top]
        headers = ((CONTINUATION_HEADER, stamp(following[0][0], following[1].id, kind)),)
    with site.world.lock:
        items = [build_json(site, req, domain, b) for _, b in chosen[:top]]
    return list_response(items, req.version, headers)


def get_build(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"])
    domain = builds_of(site.world)
    with site.world.lock:
        build = build_in_project(site, domain, project, _int_param(req, "buildId"))
        body = build_json(site, req, domain, build)
    return json_response(body, req.version)


def get_timeline(site: Site, req: Request) -> Response:
    """The build's Timeline object; a build that has not started (or was deleted) has none: 404."""
    project = resolve_project(site, req.params["project"])
    domain = builds_of(site.world)
    with site.world.lock:
        build = build_in_project(site, domain, project, _int_param(req, "buildId"))
        clock = site.world.clock
    wanted = req.params.get("timelineId", "").lower()
    if build.status == NOT_STARTED or build.deleted or (wanted and wanted != domain.plan_id(build)):
        raise ApiError(404, f"Timeline {wanted or 'for build ' + str(build.id)} was not found.",
                       "TimelineNotFoundException", f"{_BUILD}.TimelineNotFoundException, {_BUILD2}")
    records = domain.timeline(build, clock)
    return json_response(timeline_json(site, req, domain, build, records), req.version)


def _change_json(site: Site, req: Request, repo_id: str, remote: str, commit: Commit, pusher: Person) -> dict:
    """A ``Change`` of a git build: the commit, its first message line, committer date as ``timestamp``."""
    first = commit.message.split("\n", 1)[0]
    item = {"id": commit.commit_id, "message": first, "type": "TfsGit",
            "author": site.identity(req, site.world.people[commit.author]), "timestamp": commit.commit_date,
            "location": f"{site.collection_url(req)}/_apis/git/repositories/{repo_id}/commits/{commit.commit_id}",
            "displayUri": f"{remote}/commit/{commit.commit_id}", "pusher": pusher.display_name}
    if first != commit.message:
        item["messageTruncated"] = True
    return item


def _changes_json(site: Site, req: Request, domain: BuildDomain, build: Build, commits: list[Commit]) -> list[dict]:
    repo = site.world.repositories[domain.definitions[build.definition - 1].repository]
    remote = site.remote_url(req, repo)
    people = site.world.people
    with site.world.reading(repo.id) as history:
        pushers = [people[history.pushes[c.push_id - 1].pusher] for c in commits]
    return [_change_json(site, req, repo.id, remote, c, p) for c, p in zip(commits, pushers)]


def list_build_changes(site: Site, req: Request) -> Response:
    """changes(B) (``BuildDomain.changes``), newest first; ``$top`` (default 50) with a header continuation token;
    ``includeSourceChange=true`` gives the source commit when there is no other change."""
    project = resolve_project(site, req.params["project"])
    domain = builds_of(site.world)
    with site.world.lock:
        build = build_in_project(site, domain, project, _int_param(req, "buildId"))
        commits = domain.changes(build)
        if not commits and req.query.get_bool("includeSourceChange"):
            repo = site.world.repositories[domain.definitions[build.definition - 1].repository]
            with site.world.reading(repo.id) as history:
                source = history.commit(build.commit)
            commits = [source] if source is not None else []
        page, headers = index_page(commits, req, 50)
        items = _changes_json(site, req, domain, build, page)
    return list_response(items, req.version, headers)


def list_changes_between_builds(site: Site, req: Request) -> Response:
    """Get Changes Between Builds: ``git log from..to`` (newest first, ``$top`` cuts, no token). Preview before 7.0."""
    require_preview_before(site, req, "7.0")
    project = resolve_project(site, req.params["project"])
    domain = builds_of(site.world)
    first_id, last_id = req.query.get_int("fromBuildId", default=None), req.query.get_int("toBuildId", default=None)
    if first_id is None or last_id is None:
        raise ApiError.bad_argument("fromBuildId and toBuildId are required.")
    with site.world.lock:
        first = build_in_project(site, domain, project, first_id)
        last = build_in_project(site, domain, project, last_id)
        if domain.definitions[first.definition - 1].repository != domain.definitions[last.definition - 1].repository:
            raise ApiError.bad_argument(f"Builds {first_id} and {last_id} do not build the same repository.")
        commits = domain.changes_between(first, last)
        top = req.query.get_int("$top", default=None)
        items = _changes_json(site, req, domain, last, commits if top is None else commits[: max(0, top)])
    return list_response(items, req.version)


def list_build_work_items(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"])
    domain = builds_of(site.world)
    with site.world.lock:
        build = build_in_project(site, domain, project, _int_param(req, "buildId"))
    ids, headers = index_page(domain.work_items(build), req, 50)
    collection = site.collection_url(req)
    return list_response([{"id": str(i), "url": f"{collection}/_apis/wit/workItems/{i}"} for i in ids], req.version, headers)


ROUTES = (
    Route("GET", (COLLECTION,), "{project}/_apis/build/definitions", list_definitions, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/build/definitions/{definitionId}", get_definition, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/build/builds", list_builds, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/build/builds/{buildId}", get_build, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/build/builds/{buildId}/timeline/{timelineId?}", get_timeline, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/build/builds/{buildId}/changes", list_build_changes, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/build/builds/{buildId}/workitems", list_build_work_items, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/build/changes", list_changes_between_builds, scope=_SCOPE),
)

"""Classic release routes under the collection URL (no vsrm host on-prem): definitions, releases,
deployments (``{project}/_apis/release/...``)."""

from __future__ import annotations

from standins.ado_simulator.api.build.build_routes import index_page, parse_ids
from standins.ado_simulator.world.pipelines.builds import builds_of
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import CONTINUATION_HEADER, resolve_project
from standins.ado_simulator.api.release.release_bodies import definition_json, deployment_json, operation_status, release_json
from standins.ado_simulator.world.pipelines.releases import Deployment, Release, ReleaseDomain, releases_of
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.binding import (
    DEPLOYMENT_OPERATION_STATUS,
    DEPLOYMENT_STATUS,
    RELEASE_DEFINITION_QUERY_ORDER,
    RELEASE_QUERY_ORDER,
    RELEASE_STATUS,
    DotNetEnum,
)
from standins.ado_simulator.wire.wire import ApiError, Query, Response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS"]

_RM = "Microsoft.VisualStudio.Services.ReleaseManagement.Data.Exceptions"
_SCOPE = "vso.release"
_PAGE = 50  # releases and deployments per page when $top is not given

_T = "{project}/_apis/Release"
LOCATIONS = (
    Location("d8f96f24-8ea7-4cb6-baab-2df8fc515665", "Release", "definitions", f"{_T}/definitions/{{definitionId}}", 4, (COLLECTION,)),
    Location("a166fde7-27ad-408e-ba75-703c2cc9d500", "Release", "releases", f"{_T}/releases/{{releaseId}}", 8, (COLLECTION,)),
    Location("b005ef73-cddc-448e-9ba2-5193bf36b19f", "Release", "deployments", f"{_T}/deployments", 2, (COLLECTION,)),
)


def _expand(req: Request) -> set[str]:
    return {part.strip().lower() for part in (req.query.get("$expand") or "").split(",") if part.strip()}


def _id_token(req: Request) -> int | None:
    """Releases and deployments continue at an id (the spec types the token as an integer)."""
    raw = req.query.get("continuationToken")
    if not raw:
        return None
    if not raw.isdigit():
        raise ApiError.bad_argument(f"The value '{raw}' is not valid for continuationToken.")
    return int(raw)


def _page_by_id(items: list, req: Request, descending: bool) -> tuple[list, tuple[tuple[str, str], ...]]:
    """Items ordered by id from the token (or ``$skip``) on; ``$top`` (default 50); the next id goes in the header."""
    after = _id_token(req)
    if after is not None:
        items = [i for i in items if (i.id <= after if descending else i.id >= after)]
    items = items[req.query.get_int("$skip", default=0) or 0 :]
    top = req.query.get_int("$top", default=_PAGE) or _PAGE
    headers = ((CONTINUATION_HEADER, str(items[top].id)),) if len(items) > top else ()
    return items[:top], headers


def _flag_filter(query: Query, enum: DotNetEnum, name: str) -> set[str]:
    """A [Flags] filter by names or number, as lower-cased single members; empty (no filter) for all/undefined."""
    values = query.get_flags(enum, name)
    return set() if "all" in values else {v.lower() for v in enum.singles(values)} - {"undefined"}


def _descending(req: Request) -> bool:
    return req.query.get_enum(RELEASE_QUERY_ORDER, "queryOrder", default="descending") == "descending"


# -- definitions ---------------------------------------------------------------------------


def list_definitions(site: Site, req: Request) -> Response:
    """``queryOrder`` idAscending (default) / idDescending / nameAscending / nameDescending; ``searchText``,
    ``definitionIdFilter``, ``path``, ``artifactSourceId``, ``isDeleted``; ``$top`` with a header token."""
    query = req.query
    project = resolve_project(site, req.params["project"])
    index = site.world.projects.index(project)
    domain = releases_of(site.world)
    text = (query.get("searchText") or "").lower()
    exact = query.get_bool("isExactNameMatch")
    wanted = parse_ids(query.get("definitionIdFilter"), "definitionIdFilter")
    folder = (query.get("path") or "").rstrip("\\").lower()
    source = (query.get("artifactSourceId") or "").lower()
    chosen = [] if query.get_bool("isDeleted") else [
        d for d in domain.definitions
        if d.project == index
        and (not text or (d.name.lower() == text if exact else text in d.name.lower()))
        and (not wanted or d.id in wanted)
        and (not folder or d.path.lower() == folder or d.path.lower().startswith(folder + "\\"))
        and (not source or source == f"{project.id}:{d.build_definition}")
    ]
    order = (query.get_enum(RELEASE_DEFINITION_QUERY_ORDER, "queryOrder") or "idAscending").lower()
    if order.startswith("name"):
        chosen.sort(key=lambda d: (d.name.lower(), d.id), reverse=order == "namedescending")
    else:
        chosen.sort(key=lambda d: d.id, reverse=order == "iddescending")
    page, headers = index_page(chosen, req, None)
    expand = _expand(req)
    with site.world.lock:
        items = [definition_json(site, req, domain, d, expand) for d in page]
    return list_response(items, req.version, headers)


def get_definition(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"])
    domain = releases_of(site.world)
    raw = req.params["definitionId"]
    definition = domain.definition(int(raw)) if raw.isdigit() else None
    if definition is None or site.world.projects[definition.project].id != project.id:
        raise ApiError(404, f"VS402850: Definition {raw} not found.", "ReleaseDefinitionNotFoundException",
                       f"{_RM}.ReleaseDefinitionNotFoundException, Microsoft.VisualStudio.Services.ReleaseManagement2.Data")
    with site.world.lock:
        body = definition_json(site, req, domain, definition, {"environments", "artifacts", "triggers"})
    return json_response(body, req.version)


# -- releases ------------------------------------------------------------------------------


def list_releases(site: Site, req: Request) -> Response:
    """Releases by creation (= id) order, newest first by default; ``minCreatedTime``/``maxCreatedTime``,
    ``definitionId``, ``statusFilter``, ``isDeleted``, ``searchText``, ``createdBy``, ``artifactVersionId``,
    ``sourceBranchFilter``, ``releaseIdFilter``; ``$expand=environments,artifacts``; ``$top`` default 50."""
    query = req.query
    project = resolve_project(site, req.params["project"])
    index = site.world.projects.index(project)
    domain = releases_of(site.world)
    builds = builds_of(site.world)
    descending = _descending(req)
    since, until = query.get_date("minCreatedTime"), query.get_date("maxCreatedTime")
    definition_id = query.get_int("definitionId", default=None)
    status = (query.get_enum(RELEASE_STATUS, "statusFilter") or "").lower()
    deleted = query.get_bool("isDeleted")
    text = (query.get("searchText") or "").lower()
    created_by = (query.get("createdBy") or "").lower()
    build_id = query.get("artifactVersionId") or ""
    branch = query.get("sourceBranchFilter") or ""
    wanted = parse_ids(query.get("releaseIdFilter"), "releaseIdFilter")
    people = site.world.people
    with site.world.lock:
        releases = list(domain.releases)
        clock = site.world.clock
    chosen = [
        r for r in (reversed(releases) if descending else releases)
        if domain.definitions[r.definition - 1].project == index
        and r.deleted == deleted
        and (since is None or r.created >= since)
        and (until is None or r.created < until)
        and (definition_id is None or r.definition == definition_id)
        and (status in ("", "undefined") or r.status.lower() == status)
        and (not text or text in r.name.lower())
        and (not created_by or people[r.created_by].id == created_by)
        and (not build_id or str(r.build) == build_id)
        and (not branch or builds.builds[r.build - 1].branch == branch)
        and (not wanted or r.id in wanted)
    ]
    page, headers = _page_by_id(chosen, req, descending)
    expand = _expand(req)
    with site.world.lock:
        items = [release_json(site, req, domain, r, expand, clock) for r in page]
    return list_response(items, req.version, headers)


def get_release(site: Site, req: Request) -> Response:
    """One release with its environments, deploy steps, phases, jobs and tasks, and its artifacts."""
    project = resolve_project(site, req.params["project"])
    domain = releases_of(site.world)
    raw = req.params["releaseId"]
    with site.world.lock:
        release = domain.release(int(raw)) if raw.isdigit() else None
        clock = site.world.clock
        if not _in_project(site, domain, release, project.id):
            raise ApiError(404, f"VS402852: Release with id {raw} does not exist.", "ReleaseNotFoundException",
                           f"{_RM}.ReleaseNotFoundException, Microsoft.VisualStudio.Services.ReleaseManagement2.Data")
        assert release is not None
        body = release_json(site, req, domain, release, {"environments", "artifacts"}, clock)
    return json_response(body, req.version)


def _in_project(site: Site, domain: ReleaseDomain, release: Release | None, project_id: str) -> bool:
    if release is None or release.deleted:
        return False
    return site.world.projects[domain.definitions[release.definition - 1].project].id == project_id


# -- deployments ---------------------------------------------------------------------------


def list_deployments(site: Site, req: Request) -> Response:
    """Deployments by id, newest first by default; ``minModifiedTime``/``maxModifiedTime`` (lastModifiedOn),
    ``minStartedTime``/``maxStartedTime``, ``definitionId``, ``definitionEnvironmentId``, ``deploymentStatus``,
    ``operationStatus``, ``latestAttemptsOnly``, ``createdBy``, ``createdFor``, ``sourceBranch``; ``$top`` default 50."""
    query = req.query
    project = resolve_project(site, req.params["project"])
    index = site.world.projects.index(project)
    domain = releases_of(site.world)
    builds = builds_of(site.world)
    descending = _descending(req)
    modified_since, modified_until = query.get_date("minModifiedTime"), query.get_date("maxModifiedTime")
    started_since, started_until = query.get_date("minStartedTime"), query.get_date("maxStartedTime")
    definition_id = query.get_int("definitionId", default=None)
    environment_id = query.get_int("definitionEnvironmentId", default=None)
    statuses = _flag_filter(query, DEPLOYMENT_STATUS, "deploymentStatus")
    operations = _flag_filter(query, DEPLOYMENT_OPERATION_STATUS, "operationStatus")
    latest_only = query.get_bool("latestAttemptsOnly")
    created_by = (query.get("createdBy") or "").lower()
    created_for = (query.get("createdFor") or "").lower()
    branch = query.get("sourceBranch") or ""
    people = site.world.people
    with site.world.lock:
        deployments = list(domain.deployments)
        releases = list(domain.releases)
        clock = site.world.clock
    latest: dict[tuple[int, int], int] = {}
    for d in deployments:
        latest[(d.release, d.environment)] = d.id

    def admitted(d: Deployment) -> bool:
        release = releases[d.release - 1]
        definition = domain.definitions[release.definition - 1]
        modified, status = d.modified(clock), d.status(clock)
        return (
            definition.project == index
            and not release.deleted
            and (modified_since is None or modified >= modified_since)
            and (modified_until is None or modified < modified_until)
            and (started_since is None or d.started <= clock and d.started >= started_since)
            and (started_until is None or d.started <= clock and d.started < started_until)
            and (definition_id is None or release.definition == definition_id)
            and (environment_id is None or definition.environment_ids[d.environment] == environment_id)
            and (not statuses or status.lower() in statuses)
            and (not operations or operation_status(d, clock).lower() in operations)
            and (not latest_only or latest[(d.release, d.environment)] == d.id)
            and (not created_by or people[d.requested_by].id == created_by)
            and (not created_for or people[d.requested_by].id == created_for)
            and (not branch or builds.builds[release.build - 1].branch == branch)
        )

    chosen = [d for d in (reversed(deployments) if descending else deployments) if admitted(d)]
    page, headers = _page_by_id(chosen, req, descending)
    with site.world.lock:
        items = [deployment_json(site, req, domain, d, clock) for d in page]
    return list_response(items, req.version, headers)


ROUTES = (
    Route("GET", (COLLECTION,), "{project}/_apis/release/definitions", list_definitions, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/release/definitions/{definitionId}", get_definition, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/release/releases", list_releases, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/release/releases/{releaseId}", get_release, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/release/deployments", list_deployments, scope=_SCOPE),
)

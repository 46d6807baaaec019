"""Pipelines area routes (``{project}/_apis/pipelines...``): the YAML build definitions and their builds as runs.

Server 2019 has no Pipelines API (the HTML 404 page); 2020 serves it as ``6.0-preview.1`` only;
2022 and later as a released api.
"""

from __future__ import annotations

from dataclasses import dataclass

from standins.ado_simulator.api.build.build_routes import index_page
from standins.ado_simulator.world.pipelines.builds import COMPLETED, Build, BuildDomain, Definition, builds_of, stamp
from standins.ado_simulator.wire.context import Request, Site, unavailable
from standins.ado_simulator.api.core.core_routes import resolve_project
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS"]

_SCOPE = "vso.build"
_RELEASED = "7.0"  # first server api-version with a released (non-preview) Pipelines API
_STATES = {"notStarted": "inProgress", "inProgress": "inProgress", "cancelling": "canceling", "completed": "completed"}
_RESULTS = {"succeeded": "succeeded", "partiallySucceeded": "succeeded", "failed": "failed", "canceled": "canceled"}


@dataclass(frozen=True, slots=True)
class _PipelinesLocation(Location):
    """Advertised as preview-only (releasedVersion 0.0) on servers before 7.0."""

    def to_json(self, max_version: str) -> dict:
        body = Location.to_json(self, max_version)
        if float(max_version) < float(_RELEASED):
            body["releasedVersion"] = "0.0"
        return body


LOCATIONS = (
    _PipelinesLocation("28e1305e-2afe-47bf-abaf-cbb0e6a91988", "pipelines", "pipelines", "{project}/_apis/pipelines/{pipelineId}",
                       1, (COLLECTION,)),
    _PipelinesLocation("7859261e-d2e9-4a68-b820-a5d84cc5bb3d", "pipelines", "runs",
                       "{project}/_apis/pipelines/{pipelineId}/runs/{runId}", 1, (COLLECTION,)),
)


def _unavailable(site: Site, req: Request) -> Response | None:
    return unavailable(site, req, "6.0", _RELEASED)


def _pipeline(site: Site, req: Request, domain: BuildDomain) -> Definition:
    project = resolve_project(site, req.params["project"])
    raw = req.params["pipelineId"]
    definition = domain.definition(int(raw)) if raw.isdigit() else None
    if definition is None or not definition.yaml or site.world.projects[definition.project].id != project.id:
        raise ApiError(404, f"Pipeline with id {raw} not found.", "PipelineNotFoundException",
                       "Microsoft.Azure.Pipelines.WebApi.PipelineNotFoundException, Microsoft.Azure.Pipelines.WebApi")
    return definition


def _pipeline_url(site: Site, req: Request, definition: Definition) -> str:
    project = site.world.projects[definition.project]
    return f"{site.collection_url(req)}/{project.id}/_apis/pipelines/{definition.id}"


def _pipeline_ref(site: Site, req: Request, definition: Definition) -> dict:
    """PipelineReference fields."""
    return {"url": f"{_pipeline_url(site, req, definition)}?revision={definition.revision}", "id": definition.id,
            "revision": definition.revision, "name": definition.name, "folder": definition.path}


def _web(site: Site, req: Request, definition: Definition) -> str:
    project = site.world.projects[definition.project]
    return f"{site.collection_url(req)}/{project.id}/_build/definition?definitionId={definition.id}"


def _pipeline_json(site: Site, req: Request, definition: Definition, detailed: bool) -> dict:
    """Pipeline; the single GET adds its configuration (YAML file and repository)."""
    url = _pipeline_url(site, req, definition)
    body: dict = {"_links": {"self": {"href": url}, "web": {"href": _web(site, req, definition)}}}
    if detailed:
        body["configuration"] = {"type": "yaml"}
    return body | _pipeline_ref(site, req, definition)


def _run_json(site: Site, req: Request, definition: Definition, build: Build, detailed: bool) -> dict:
    """Run: the build's status and result mapped to the Pipelines model."""
    project = site.world.projects[definition.project]
    url = f"{_pipeline_url(site, req, definition)}/runs/{build.id}"
    body: dict = {
        "_links": {
            "self": {"href": url},
            "web": {"href": f"{site.collection_url(req)}/{project.id}/_build/results?buildId={build.id}"},
            "pipeline.web": {"href": _web(site, req, definition)},
            "pipeline": {"href": f"{_pipeline_url(site, req, definition)}?revision={definition.revision}"},
        },
        "pipeline": _pipeline_ref(site, req, definition),
        "state": _STATES[build.status],
    }
    if build.status == COMPLETED:
        body["result"] = _RESULTS[build.result]
    body["createdDate"] = stamp(build.queued, build.id, 0)
    if build.status == COMPLETED:
        body["finishedDate"] = stamp(build.finished, build.id, 2)
    if detailed:
        body["resources"] = {"repositories": {"self": {"repository": {"type": "azureReposGit"},
                                                       "refName": build.branch, "version": build.commit}}}
        if site.profile.has("7.1"):
            body["templateParameters"] = {}
    return body | {"url": url, "id": build.id, "name": build.number}


def list_pipelines(site: Site, req: Request) -> Response:
    """YAML definitions of the project; ``orderBy`` ("name asc" default, "id desc"...), ``$top`` + header token."""
    unavailable = _unavailable(site, req)
    if unavailable:
        return unavailable
    query = req.query
    project = resolve_project(site, req.params["project"])
    index = site.world.projects.index(project)
    pipelines = [d for d in builds_of(site.world).definitions if d.project == index and d.yaml]
    field, _, direction = (query.get("orderBy") or "name asc").strip().lower().partition(" ")
    if field not in ("name", "id", "folder"):
        raise ApiError.bad_argument(f"The orderBy expression '{query.get('orderBy')}' is not valid.")
    pipelines.sort(key=lambda d: (d.name.lower(), d.id) if field == "name" else (d.path.lower(), d.id) if field == "folder" else d.id,
                   reverse=direction.strip() == "desc")
    page, headers = index_page(pipelines, req, None)
    return list_response([_pipeline_json(site, req, d, False) for d in page], req.version, headers)


def get_pipeline(site: Site, req: Request) -> Response:
    unavailable = _unavailable(site, req)
    if unavailable:
        return unavailable
    definition = _pipeline(site, req, builds_of(site.world))
    return json_response(_pipeline_json(site, req, definition, True), req.version)


def list_runs(site: Site, req: Request) -> Response:
    """The pipeline's newest runs (its builds, deleted ones left out), no paging: at most
    ``semantics.pipeline_runs_cap`` (10,000 as on the server; a test sets it small to exceed it).
    pipelines/azure-devops-server-{6.0,7.0,7.1}/pipelines-onprem.json, Runs - List: "Gets top 10000 runs for
    a particular pipeline." The operation has no $top, continuation token or filter: older runs are
    only reachable through the builds API."""
    unavailable = _unavailable(site, req)
    if unavailable:
        return unavailable
    domain = builds_of(site.world)
    definition = _pipeline(site, req, domain)
    with site.world.lock:
        builds = [domain.builds[i - 1] for i in reversed(domain.by_definition[definition.id])]
    runs = [b for b in builds if not b.deleted][: site.semantics.pipeline_runs_cap]
    return list_response([_run_json(site, req, definition, b, False) for b in runs], req.version)


def get_run(site: Site, req: Request) -> Response:
    unavailable = _unavailable(site, req)
    if unavailable:
        return unavailable
    domain = builds_of(site.world)
    definition = _pipeline(site, req, domain)
    raw = req.params["runId"]
    with site.world.lock:
        build = domain.build(int(raw)) if raw.isdigit() else None
    if build is None or build.definition != definition.id or build.deleted:
        raise ApiError(404, f"Run with id {raw} not found for pipeline {definition.id}.", "RunNotFoundException",
                       "Microsoft.Azure.Pipelines.WebApi.RunNotFoundException, Microsoft.Azure.Pipelines.WebApi")
    return json_response(_run_json(site, req, definition, build, True), req.version)


ROUTES = (
    Route("GET", (COLLECTION,), "{project}/_apis/pipelines", list_pipelines, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/pipelines/{pipelineId}", get_pipeline, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/pipelines/{pipelineId}/runs", list_runs, scope=_SCOPE),
    Route("GET", (COLLECTION,), "{project}/_apis/pipelines/{pipelineId}/runs/{runId}", get_run, scope=_SCOPE),
)

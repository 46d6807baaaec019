"""Environments routes (``{project}/_apis/distributedtask/environments...``): YAML environments and their
deployment records (``EnvironmentDeploymentExecutionRecord``).

Server 2019 has no environments (the HTML 404 page); 2020 serves them as ``6.0-preview.1`` only
(distributedtask ``taskAgent-onprem.json`` 6.0: ``x-ms-preview``); 2022 and later as a released api.
The spec says nothing about the order of deployment records: they come newest first (id descending),
``top`` at a time (default 25), with the next (older) record's id in the ``x-ms-continuationtoken`` header.
"""

from __future__ import annotations

import fnmatch
import hashlib
import uuid
from dataclasses import dataclass

from standins.ado_simulator.api.core.core_routes import CONTINUATION_HEADER, resolve_project
from standins.ado_simulator.wire.context import Request, Site, unavailable
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response
from standins.ado_simulator.world.model import Project, iso_fraction
from standins.ado_simulator.world.pipelines.builds import builds_of
from standins.ado_simulator.world.pipelines.environments import Environment, EnvironmentDeployment, environments_of

__all__ = ["ROUTES", "LOCATIONS"]

_SCOPE = "vso.environment_manage"
_RELEASED = "7.0"  # first server api-version with released (non-preview) environments
_RECORDS_TOP = 25
_ENVIRONMENTS_TOP = 50
_BUILD_SERVICE = "00025394-6065-48ca-87d9-7f5672854ef7"  # serviceOwner of records written by Build (TFS) plans
_DT = "Microsoft.TeamFoundation.DistributedTask.WebApi"


@dataclass(frozen=True, slots=True)
class _EnvironmentsLocation(Location):
    """Advertised as preview-only (releasedVersion 0.0) on servers before 7.0."""

    def to_json(self, max_version: str) -> dict:
        body = Location.to_json(self, max_version)
        if float(max_version) < float(_RELEASED):
            body["releasedVersion"] = "0.0"
        return body


_T = "{project}/_apis/distributedtask/environments"
LOCATIONS = (
    _EnvironmentsLocation("8572b1fc-2482-47fa-8f74-7e3ed53ee54b", "distributedtask", "environments",
                          f"{_T}/{{environmentId}}", 1, (COLLECTION,)),
    _EnvironmentsLocation("51bb5d21-4305-4ea6-9dbb-b7488af73334", "distributedtask", "environmentdeploymentRecords",
                          f"{_T}/{{environmentId}}/environmentdeploymentrecords", 1, (COLLECTION,)),
)


def _unavailable(site: Site, req: Request) -> Response | None:
    return unavailable(site, req, "6.0", _RELEASED)


def _token(req: Request) -> int | None:
    token = req.query.get("continuationToken")
    if not token:
        return None
    if not token.isdigit():
        raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.")
    return int(token)


def _environment(site: Site, project: Project, raw: str) -> Environment:
    domain = environments_of(site.world)
    environment = domain.environment(int(raw)) if raw.isdigit() else None
    if environment is None or site.world.projects[environment.project].id != project.id:
        raise ApiError(404, f"Environment with id '{raw}' does not exist.", "EnvironmentNotFoundException",
                       f"{_DT}.EnvironmentNotFoundException, {_DT}")
    return environment


def _time(seconds: int) -> str:
    return iso_fraction(seconds, 0)


def _environment_json(site: Site, req: Request, environment: Environment) -> dict:
    project = site.world.projects[environment.project]
    creator = site.identity(req, site.world.people[environment.created_by])
    return {"id": environment.id, "name": environment.name, "description": environment.description,
            "createdBy": creator, "createdOn": _time(environment.created), "lastModifiedBy": creator,
            "lastModifiedOn": _time(environment.created), "project": {"id": project.id, "name": project.name},
            "resources": []}


def _record_json(site: Site, req: Request, record: EnvironmentDeployment, clock: int) -> dict:
    builds = builds_of(site.world)
    build = builds.builds[record.build_id - 1]
    definition = builds.definitions[record.definition_id - 1]
    project = site.world.projects[record.project]
    base = f"{site.collection_url(req)}/{project.id}"
    key = f"{site.world.seed}:{record.build_id}:{record.stage}:{record.attempt}"
    started, finished, result = record.seen(clock)
    body: dict = {
        "id": record.id,
        "requestIdentifier": str(uuid.UUID(bytes=hashlib.md5(key.encode()).digest(), version=4)),
        "environmentId": record.environment_id,
        "serviceOwner": _BUILD_SERVICE,
        "scopeId": project.id,
        "planType": "Build",
        "planId": builds.plan_id(build),
        "stageName": record.stage,
        "stageAttempt": record.attempt,
        "jobName": record.job,
        "jobAttempt": record.attempt,
        "definition": {"_links": {"web": {"href": f"{base}/_build/definition?definitionId={definition.id}"}},
                       "id": definition.id, "name": definition.name},
        "owner": {"_links": {"web": {"href": f"{base}/_build/results?buildId={build.id}"},
                             "self": {"href": f"{base}/_apis/build/Builds/{build.id}"}},
                  "id": build.id, "name": build.number},
        "queueTime": _time(record.queued),
    }
    if started is not None:
        body["startTime"] = _time(started)
    if finished is not None:
        body |= {"finishTime": _time(finished), "result": result}
    return body


def list_environments(site: Site, req: Request) -> Response:
    """``name`` (``*`` wildcards, case-insensitive), by id; ``$top`` (default 50) and a header token (the next id)."""
    if (page := _unavailable(site, req)) is not None:
        return page
    project = resolve_project(site, req.params["project"])
    name = (req.query.get("name") or "").lower()
    after = _token(req) or 0
    top = req.query.get_int("$top", default=_ENVIRONMENTS_TOP) or _ENVIRONMENTS_TOP
    with site.world.lock:
        found = [e for e in environments_of(site.world).of_project(site.world.projects.index(project))
                 if e.id >= after and (not name or fnmatch.fnmatchcase(e.name.lower(), name))]
    headers = ((CONTINUATION_HEADER, str(found[top].id)),) if len(found) > top else ()
    return list_response([_environment_json(site, req, e) for e in found[:top]], req.version, headers)


def get_environment(site: Site, req: Request) -> Response:
    if (page := _unavailable(site, req)) is not None:
        return page
    project = resolve_project(site, req.params["project"])
    with site.world.lock:
        environment = _environment(site, project, req.params["environmentId"])
    return json_response(_environment_json(site, req, environment), req.version)


def list_deployment_records(site: Site, req: Request) -> Response:
    """Newest first; ``top`` (default 25); ``continuationToken`` = the id to start at (records with id <= it)."""
    if (page := _unavailable(site, req)) is not None:
        return page
    project = resolve_project(site, req.params["project"])
    start = _token(req)
    top = req.query.get_int("top", "$top", default=_RECORDS_TOP) or _RECORDS_TOP
    with site.world.lock:
        environment = _environment(site, project, req.params["environmentId"])
        records = environments_of(site.world).records_of(environment.id)
        if start is not None:
            records = [r for r in records if r.id <= start]
        clock = site.world.clock
        items = [_record_json(site, req, r, clock) for r in records[:top]]
    headers = ((CONTINUATION_HEADER, str(records[top].id)),) if len(records) > top else ()
    return list_response(items, req.version, headers)


ROUTES = (
    Route("GET", (COLLECTION,), _T, list_environments, scope=_SCOPE),
    Route("GET", (COLLECTION,), f"{_T}/{{environmentId}}", get_environment, scope=_SCOPE),
    Route("GET", (COLLECTION,), f"{_T}/{{environmentId}}/environmentdeploymentrecords", list_deployment_records,
          scope=_SCOPE),
)

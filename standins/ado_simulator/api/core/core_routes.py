"""Core area: projects (``_apis/projects``)."""

from __future__ import annotations

import re
from urllib.parse import quote

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.world.model import Project
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.binding import PROJECT_STATE
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS", "resolve_project", "project_json", "CONTINUATION_HEADER"]

CONTINUATION_HEADER = "x-ms-continuationtoken"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_CORE = "Microsoft.TeamFoundation.Core.WebApi"
_LISTED_STATES = {"wellformed", "all", "unchanged"}

LOCATIONS = (
    Location("603fe2ac-9723-48b9-88ad-09305aa6c6e1", "core", "projects", "_apis/projects/{projectId}", 4, (COLLECTION,)),
)


def resolve_project(site: Site, key: str) -> Project:
    """A project by id or name, or the server's TF200016 404."""
    project = site.world.project(key)
    if project is None:
        raise ApiError(
            404,
            f"TF200016: The following project does not exist: {key}. Verify that the name of the project is correct"
            " and that the project exists on the specified Azure DevOps Server.",
            "ProjectDoesNotExistWithNameException",
            f"{_CORE}.ProjectDoesNotExistWithNameException, {_CORE}",
        )
    return project


def project_json(site: Site, req: Request, project: Project) -> dict:
    """TeamProjectReference (``lastUpdateTime`` joined the model in 6.0)."""
    body = {
        "id": project.id,
        "name": project.name,
        "description": project.description,
        "url": site.project_url(req, project),
        "state": "wellFormed",
        "revision": project.revision,
        "visibility": "private",
    }
    if site.profile.has("6.0"):
        body["lastUpdateTime"] = project.last_update_time
    return body


def list_projects(site: Site, req: Request) -> Response:
    query = req.query
    state = (query.get_enum(PROJECT_STATE, "stateFilter") or "wellFormed").lower()
    live = (p for p in site.world.projects if site.world.project(p.id) is not None)  # a messy world deletes some
    projects = sorted(live, key=lambda p: p.name.lower()) if state in _LISTED_STATES else []
    top = query.get_int("$top", default=100) or 0
    token = query.get("continuationToken")
    if token:
        if not token.isdigit():
            raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.")
        start = int(token)
    else:
        start = query.get_int("$skip", default=0) or 0
    page = projects[start : start + top]
    headers: tuple[tuple[str, str], ...] = ()
    if start + top < len(projects):
        headers = ((CONTINUATION_HEADER, str(start + top)),)
    return list_response([project_json(site, req, p) for p in page], req.version, headers)


def get_project(site: Site, req: Request) -> Response:
    key = req.params["projectId"]
    project = site.world.project(key)
    if project is None and _GUID.match(key):
        raise ApiError(
            404,
            f"VS800075: The project with id 'vstfs:///Classification/TeamProject/{key}' does not exist, or you do not"
            " have permission to access it.",
            "ProjectDoesNotExistException",
            f"{_CORE}.ProjectDoesNotExistException, {_CORE}",
        )
    project = resolve_project(site, key)
    collection = site.collection_url(req)
    body = project_json(site, req, project)
    if req.query.get_bool("includeCapabilities"):
        body["capabilities"] = {
            "versioncontrol": {"sourceControlType": "Git", "gitEnabled": "true", "tfvcEnabled": "false"},
            "processTemplate": {"templateName": "Agile", "templateTypeId": "adcc42ab-9882-485e-a3ed-7678f01f66bc"},
        }
    body["_links"] = {
        "self": {"href": body["url"]},
        "collection": {"href": f"{req.server_url}/_apis/projectCollections/{site.world.collection.id}"},
        "web": {"href": f"{collection}/{quote(project.name)}"},
    }
    body["defaultTeam"] = {
        "id": project.default_team_id,
        "name": f"{project.name} Team",
        "url": f"{collection}/_apis/projects/{project.id}/teams/{project.default_team_id}",
    }
    return json_response(body, req.version)


ROUTES = (
    Route("GET", (COLLECTION,), "_apis/projects", list_projects, scope="vso.project"),
    Route("GET", (COLLECTION,), "_apis/projects/{projectId}", get_project, scope="vso.project"),
)

"""Work area: team settings, team iterations (sprints) and team field values (``{p}/{team?}/_apis/work/...``).

The team segment is optional (the project's default team). Iterations are the project's
sprints the team follows; ``timeFrame`` is computed from the world's clock, so the current
sprint moves on as the world advances.
"""

from __future__ import annotations

from urllib.parse import quote

from standins.ado_simulator.world.boards.classification import ClassificationNode, time_frame
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import resolve_project
from standins.ado_simulator.world.model import Project, iso
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.api.core.team_routes import resolve_team, teams_of
from standins.ado_simulator.world.teams import Team
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS", "node_url"]

_WORK = "vso.work"
_BASE = "{project}/{team?}/_apis/work/teamsettings"
_TEMPLATE = "{project}/{team}/_apis/work/teamsettings"

LOCATIONS = (
    Location("c3c1012b-bea7-49d7-b45e-1664e566f84c", "work", "teamsettings", _TEMPLATE, 1, (COLLECTION,)),
    Location("c9175577-28a1-4b06-9197-8636af9f64ad", "work", "iterations", f"{_TEMPLATE}/iterations/{{id}}", 1, (COLLECTION,)),
    Location("07ced576-58ed-49e6-9c1e-5cb53ab8bf2a", "work", "teamfieldvalues", f"{_TEMPLATE}/teamfieldvalues", 1,
             (COLLECTION,)),
    Location("5b3ef1a6-d3ab-44cd-bafd-c7f45db850fa", "work", "workItems",
             f"{_TEMPLATE}/iterations/{{iterationId}}/workitems", 1, (COLLECTION,)),
)


def node_url(site: Site, req: Request, project: Project, node: ClassificationNode) -> str:
    group = "Areas" if node.structure == "area" else "Iterations"
    tail = "".join("/" + quote(name) for name in node.path[1:])
    return f"{site.collection_url(req)}/{project.id}/_apis/wit/classificationNodes/{group}{tail}"


def _context(site: Site, req: Request) -> tuple[Project, Team, str]:
    project = resolve_project(site, req.params["project"])
    team = resolve_team(site, project, req.params.get("team"))
    return project, team, f"{site.collection_url(req)}/{project.id}/{team.id}/_apis/work/teamsettings"


def _iteration_json(site: Site, req: Request, base: str, node: ClassificationNode) -> dict:
    assert node.start is not None and node.finish is not None
    return {
        "id": node.identifier,
        "name": node.name,
        "path": node.item_path,
        "attributes": {"startDate": iso(node.start), "finishDate": iso(node.finish),
                       "timeFrame": time_frame(node, site.world.clock)},
        "url": f"{base}/iterations/{node.identifier}",
    }


def list_iterations(site: Site, req: Request) -> Response:
    project, team, base = _context(site, req)
    timeframe = req.query.get("$timeframe")
    if timeframe and timeframe.lower() != "current":
        raise ApiError.bad_argument(f"The timeframe '{timeframe}' is not supported. Only Current is supported.")
    with site.world.lock:
        items = [_iteration_json(site, req, base, n) for n in teams_of(site).team_iterations(team)]
    if timeframe:
        items = [i for i in items if i["attributes"]["timeFrame"] == "current"]
    return list_response(items, req.version)


def _team_iteration(site: Site, req: Request, team: Team, key: str) -> ClassificationNode:
    with site.world.lock:
        node = next((n for n in teams_of(site).team_iterations(team) if n.identifier == key.lower()), None)
    if node is None:
        raise ApiError(404, f"VS402493: The iteration with id {key} does not exist or is not part of the team's iterations.",
                       "TeamSettingsIterationNotFoundException",
                       "Microsoft.TeamFoundation.Work.WebApi.TeamSettingsIterationNotFoundException, "
                       "Microsoft.TeamFoundation.Work.WebApi")
    return node


def get_iteration(site: Site, req: Request) -> Response:
    project, team, base = _context(site, req)
    node = _team_iteration(site, req, team, req.params["id"])
    body = _iteration_json(site, req, base, node)
    body["_links"] = {
        "self": {"href": body["url"]},
        "project": {"href": f"{site.collection_url(req)}/_apis/projects/{project.id}"},
        "team": {"href": f"{site.collection_url(req)}/_apis/projects/{project.id}/teams/{team.id}"},
        "teamSettings": {"href": base},
        "teamIterations": {"href": f"{base}/iterations"},
        "classificationNode": {"href": node_url(site, req, project, node)},
    }
    return json_response(body, req.version)


def iteration_work_items(site: Site, req: Request) -> Response:
    """Work items in one of the team's sprints (5.0/6.0: preview only)."""
    if not site.profile.has("7.0") and not (req.version and req.version.preview):
        raise ApiError.preview_required(req.version.plain if req.version else "")
    project, team, base = _context(site, req)
    node = _team_iteration(site, req, team, req.params["iterationId"])
    work_items = site.world.domain("work_items")
    collection = site.collection_url(req)
    with site.world.lock:
        current = work_items.current  # type: ignore[attr-defined]
        ids = [i for i in range(1, len(current.iteration)) if current.iteration[i] == node.id and not current.deleted[i]]
    relations = [{"rel": None, "source": None, "target": {"id": i, "url": f"{collection}/_apis/wit/workItems/{i}"}}
                 for i in ids]
    url = f"{base}/iterations/{node.identifier}/workitems"
    return json_response({"workItemRelations": relations, "url": url, "_links": {"self": {"href": url}}}, req.version)


def get_team_settings(site: Site, req: Request) -> Response:
    project, team, base = _context(site, req)
    tree = teams_of(site).trees[project.id]
    with site.world.lock:
        root = tree.iteration_root
        current = tree.sprint_at(site.world.clock)
    collection = site.collection_url(req)
    body: dict = {
        "backlogIteration": {"id": root.identifier, "name": root.name, "path": "", "url": node_url(site, req, project, root)},
        "bugsBehavior": "asRequirements",
        "workingDays": ["monday", "tuesday", "wednesday", "thursday", "friday"],
        "backlogVisibilities": {"Microsoft.EpicCategory": False, "Microsoft.FeatureCategory": True,
                                "Microsoft.RequirementCategory": True},
    }
    if current is not None:
        body["defaultIteration"] = {"id": current.identifier, "name": current.name,
                                    "path": "\\" + "\\".join(current.path[1:]), "url": node_url(site, req, project, current)}
    body["defaultIterationMacro"] = "@currentIteration"
    body["url"] = base
    body["_links"] = {
        "self": {"href": base},
        "project": {"href": f"{collection}/_apis/projects/{project.id}"},
        "team": {"href": f"{collection}/_apis/projects/{project.id}/teams/{team.id}"},
        "teamIterations": {"href": f"{base}/iterations"},
        "teamFieldValues": {"href": f"{base}/teamfieldvalues"},
    }
    return json_response(body, req.version)


def get_team_field_values(site: Site, req: Request) -> Response:
    project, team, base = _context(site, req)
    area = teams_of(site).trees[project.id].areas[team.area_index]
    collection = site.collection_url(req)
    url = f"{base}/teamfieldvalues"
    body = {
        "field": {"referenceName": "System.AreaPath", "url": f"{collection}/_apis/wit/fields/System.AreaPath"},
        "defaultValue": area.item_path,
        "values": [{"value": area.item_path, "includeChildren": True}],
        "url": url,
        "_links": {
            "self": {"href": url},
            "project": {"href": f"{collection}/_apis/projects/{project.id}"},
            "team": {"href": f"{collection}/_apis/projects/{project.id}/teams/{team.id}"},
            "teamSettings": {"href": base},
            "areaPathClassificationNodes": {"href": node_url(site, req, project, area)},
        },
    }
    return json_response(body, req.version)


ROUTES = (
    Route("GET", (COLLECTION,), _BASE, get_team_settings, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_BASE}/iterations", list_iterations, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_BASE}/iterations/{{id}}", get_iteration, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_BASE}/iterations/{{iterationId}}/workitems", iteration_work_items, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_BASE}/teamfieldvalues", get_team_field_values, scope=_WORK),
)

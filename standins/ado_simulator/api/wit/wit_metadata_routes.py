"""Work item tracking metadata: fields, work item types and classification nodes (areas, iterations)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from standins.ado_simulator.world.boards.classification import AREA, ITERATION, ClassificationNode, ProjectTree
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import resolve_project
from standins.ado_simulator.world.model import Project, iso
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.api.core.team_routes import teams_of
from standins.ado_simulator.api.wit.wiql import WitError
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response
from standins.ado_simulator.world.boards.wit_process import FIELDS, FIELDS_BY_REF, STATE_CATEGORY, STATE_COLOR, TYPES, TYPES_BY_NAME, FieldDef
from standins.ado_simulator.api.work.work_routes import node_url

__all__ = ["ROUTES", "LOCATIONS"]

_WORK = "vso.work"
_NODES = "{project}/_apis/wit/classificationnodes"
_GROUP = f"{_NODES}/{{structureGroup}}"
_GROUPS = {"areas": AREA, "iterations": ITERATION}

LOCATIONS = (
    Location("b51fd764-e5c2-4b9b-aaf7-3395cf4bdd94", "wit", "fields", "{project}/_apis/wit/fields/{fieldNameOrRefName}", 2,
             (COLLECTION,)),
    Location("7c8d7a76-4a09-43e8-b5df-bd792f4ac6aa", "wit", "workItemTypes", "{project}/_apis/wit/workItemTypes/{type}", 2,
             (COLLECTION,)),
    Location("a70579d1-f53a-48ee-a5be-7be8659023b9", "wit", "classificationNodes", "{project}/_apis/wit/classificationNodes", 2,
             (COLLECTION,)),
    Location("5a172953-1b41-49d3-840a-33f79c3ce89f", "wit", "classificationNodes",
             "{project}/_apis/wit/classificationNodes/{structureGroup}/{*path}", 2, (COLLECTION,)),
)

# -- fields --------------------------------------------------------------------------------

_COMPARE = ("=", "<>", ">", "<", ">=", "<=")
_OPERATION_NAMES = {
    "=": "Equals", "<>": "NotEquals", ">": "GreaterThan", "<": "LessThan", ">=": "GreaterThanEquals", "<=": "LessThanEquals",
    "In": "In", "Not In": "NotIn", "Was Ever": "Ever", "Contains": "Contains", "Does Not Contain": "NotContains",
    "Under": "Under", "Not Under": "NotUnder", "Contains Words": "ContainsWords", "Does Not Contain Words": "NotContainsWords",
    "Is Empty": "IsEmpty", "Is Not Empty": "IsNotEmpty", "In Group": "InGroup", "Not In Group": "NotInGroup",
}
_OPERATIONS = {
    "integer": _COMPARE + ("In", "Not In", "Was Ever"),
    "double": _COMPARE + ("In", "Not In", "Was Ever"),
    "dateTime": _COMPARE + ("In", "Not In", "Was Ever"),
    "string": _COMPARE + ("Contains", "Does Not Contain", "In", "Not In", "In Group", "Not In Group", "Was Ever"),
    "treePath": ("Under", "Not Under", "=", "<>", "In", "Not In"),
    "boolean": ("=", "<>"),
    "html": ("Contains Words", "Does Not Contain Words", "Is Empty", "Is Not Empty"),
    "plainText": ("Contains Words", "Does Not Contain Words", "Is Empty", "Is Not Empty"),
    "history": ("Contains Words", "Does Not Contain Words", "Is Empty", "Is Not Empty"),
}


def _field_json(site: Site, req: Request, field: FieldDef) -> dict:
    body: dict[str, Any] = {
        "name": field.name,
        "referenceName": field.reference_name,
        "type": field.type,
        "usage": "workItem",
        "readOnly": field.read_only,
        "canSortBy": not field.long_text,
        "isQueryable": True,
        "supportedOperations": [{"referenceName": f"SupportedOperations.{_OPERATION_NAMES[name]}", "name": name}
                                for name in _OPERATIONS[field.type]],
        "isIdentity": field.is_identity,
        "isPicklist": False,
        "isPicklistSuggested": False,
        "url": f"{site.collection_url(req)}/_apis/wit/fields/{field.reference_name}",
    }
    if site.profile.has("6.0"):
        body["isDeleted"] = False
    return body


def _check_project(site: Site, req: Request) -> None:
    if "project" in req.params:
        resolve_project(site, req.params["project"])


def list_fields(site: Site, req: Request) -> Response:
    _check_project(site, req)
    return list_response([_field_json(site, req, f) for f in FIELDS], req.version)


def get_field(site: Site, req: Request) -> Response:
    _check_project(site, req)
    key = req.params["fieldNameOrRefName"].lower()
    field = FIELDS_BY_REF.get(key) or next((f for f in FIELDS if f.name.lower() == key), None)
    if field is None:
        raise WitError.of(404, f"TF51535: Cannot find field {req.params['fieldNameOrRefName']}.", "WorkItemTrackingFieldDefinitionNotFoundException")
    return json_response(_field_json(site, req, field), req.version)


# -- work item types -------------------------------------------------------------------------


def _type_json(site: Site, req: Request, project: Project, index: int) -> dict:
    kind = TYPES[index]
    collection = site.collection_url(req)
    field_url = f"{collection}/_apis/wit/fields"
    instances = [{"alwaysRequired": ref == "System.Title", "referenceName": ref, "name": FIELDS_BY_REF[ref.lower()].name,
                  "url": f"{field_url}/{ref}"} for ref in kind.fields]
    transitions: dict[str, list] = {"": [{"to": kind.states[0], "actions": None}]}
    for state in kind.states:
        transitions[state] = [{"to": other, "actions": None} for other in kind.states]
    return {
        "name": kind.name,
        "referenceName": kind.reference_name,
        "description": kind.description,
        "color": kind.color,
        "icon": {"id": kind.icon, "url": f"{collection}/_apis/wit/workItemIcons/{kind.icon}?color={kind.color}&v=2"},
        "isDisabled": False,
        "xmlForm": f'<FORM><Layout><Control FieldName="System.Title" Type="FieldControl" Label="{kind.name}" /></Layout></FORM>',
        "fields": instances,
        "fieldInstances": instances,
        "transitions": transitions,
        "states": [{"name": s, "color": STATE_COLOR[s], "category": STATE_CATEGORY[s]} for s in kind.states],
        "url": f"{collection}/{project.id}/_apis/wit/workItemTypes/{quote(kind.name)}",
    }


def list_types(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"])
    return list_response([_type_json(site, req, project, i) for i in range(len(TYPES))], req.version)


def get_type(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"])
    kind = TYPES_BY_NAME.get(req.params["type"].lower())
    if kind is None:
        raise WitError.of(404, f"VS402323: Work item type {req.params['type']} does not exist.", "WorkItemTypeNotFoundException")
    return json_response(_type_json(site, req, project, TYPES.index(kind)), req.version)


# -- classification nodes --------------------------------------------------------------------


def _node_json(site: Site, req: Request, project: Project, tree: ProjectTree, node: ClassificationNode, depth: int,
               links: bool = False) -> dict:
    children = tree.children(node)
    body: dict[str, Any] = {
        "id": node.id,
        "identifier": node.identifier,
        "name": node.name,
        "structureType": node.structure,
        "hasChildren": bool(children),
    }
    if site.profile.has("6.0"):
        body["path"] = node.node_path
    if node.start is not None and node.finish is not None:
        body["attributes"] = {"startDate": iso(node.start), "finishDate": iso(node.finish)}
    if depth > 0 and children:
        body["children"] = [_node_json(site, req, project, tree, c, depth - 1) for c in children]
    url = node_url(site, req, project, node)
    if links:
        body["_links"] = {"self": {"href": url}}
    body["url"] = url
    return body


def _depth(req: Request) -> int:
    return req.query.get_int("$depth", default=0) or 0


def list_nodes(site: Site, req: Request) -> Response:
    """Both roots, or the nodes named by ``ids`` (``errorPolicy=omit``: null for unknown ids)."""
    project = resolve_project(site, req.params["project"])
    tree = teams_of(site).trees[project.id]
    ids_text = req.query.get("ids")
    with site.world.lock:
        if not ids_text:
            roots = (tree.area_root, tree.iteration_root)
            return list_response([_node_json(site, req, project, tree, r, _depth(req), links=True) for r in roots], req.version)
        try:
            ids = [int(i) for i in ids_text.split(",") if i.strip()]
        except ValueError:
            raise ApiError.bad_argument(f"The value '{ids_text}' is not valid for ids.") from None
        by_id = {n.id: n for n in tree.nodes()}
        omit = (req.query.get("errorPolicy") or "fail").lower() == "omit"
        found = []
        for node_id in ids:
            node = by_id.get(node_id)
            if node is None and not omit:
                raise WitError.of(404, f"VS402485: The classification node with id {node_id} does not exist.",
                                  "WorkItemTrackingTreeNodeNotFoundException")
            found.append(None if node is None else _node_json(site, req, project, tree, node, _depth(req), links=True))
    return list_response(found, req.version)


def get_node(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"])
    group = req.params["structureGroup"]
    structure = _GROUPS.get(group.lower())
    if structure is None:
        raise ApiError.bad_argument(f"The value '{group}' is not valid for structureGroup. Use Areas or Iterations.")
    relative = (req.params["path"],) if "path" in req.params else ()
    tree = teams_of(site).trees[project.id]
    with site.world.lock:
        node = tree.find(structure, relative)
        if node is None:
            raise WitError.of(404, f"VS402485: The node name '{'/'.join(relative)}' doesn't exist.",
                              "WorkItemTrackingTreeNodeNotFoundException")
        body = _node_json(site, req, project, tree, node, _depth(req), links=True)
    return json_response(body, req.version)


ROUTES = (
    Route("GET", (COLLECTION,), "{project?}/_apis/wit/fields", list_fields, scope=_WORK),
    Route("GET", (COLLECTION,), "{project?}/_apis/wit/fields/{fieldNameOrRefName}", get_field, scope=_WORK),
    Route("GET", (COLLECTION,), "{project}/_apis/wit/workitemtypes", list_types, scope=_WORK),
    Route("GET", (COLLECTION,), "{project}/_apis/wit/workitemtypes/{type}", get_type, scope=_WORK),
    Route("GET", (COLLECTION,), _NODES, list_nodes, scope=_WORK),
    Route("GET", (COLLECTION,), f"{_GROUP}/{{path?}}", get_node, scope=_WORK),
)

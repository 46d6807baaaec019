"""Discovery routes: ``OPTIONS _apis[/{area}]``, connectionData, ResourceAreas and projectCollections."""

from __future__ import annotations

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.wire.routing import COLLECTION, SERVER, Location, Route
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS", "options_routes"]

_BOTH = (SERVER, COLLECTION)
_COMMON = "Microsoft.VisualStudio.Services.Common"
_TFS_SERVICE_OWNER = "00025394-6065-48ca-87d9-7f5672854ef7"
_FRAMEWORK_SERVICE_OWNER = "00000000-0000-0000-0000-000000000000"

LOCATIONS = (
    Location("00d9565f-ed9c-4a06-9a50-00e7896ccab4", "Location", "ConnectionData", "_apis/{resource}", 1, _BOTH, True),
    Location("e81700f7-3be2-46de-8624-2eb35882fcaa", "Location", "ResourceAreas", "_apis/{resource}/{areaId}", 1, _BOTH, True),
    Location("8031090f-ef1d-4af6-85fc-698cd75d42bf", "core", "projectCollections", "_apis/projectCollections/{collectionId}",
             2, _BOTH),
)


def options_routes(locations: tuple[Location, ...]) -> tuple[Route, ...]:
    """Location negotiation at server and collection level (no api-version needed): ``OPTIONS _apis`` lists
    every location, ``OPTIONS _apis/{area}`` (the area name in any case; Microsoft's Node.js client asks one
    area at a time: ``_apis/Location``, ``_apis/git``...) the locations of that area, none for an unknown area."""

    def handler_for(level: str):
        def handler(site: Site, req: Request) -> Response:
            area = req.params.get("area", "").lower()
            items = [loc.to_json(site.profile.max_version) for loc in locations
                     if level in loc.levels and (not area or loc.area.lower() == area)]
            return list_response(items, None)

        return handler

    return tuple(
        Route("OPTIONS", (level,), pattern, handler_for(level), versioned=False)
        for level in _BOTH
        for pattern in ("_apis", "_apis/{area}")
    )


def _identity(site: Site, req: Request) -> dict:
    person = req.user
    return {
        "id": person.id,
        "descriptor": f"System.Security.Principal.WindowsIdentity;{person.sid}",
        "subjectDescriptor": person.descriptor,
        "providerDisplayName": person.display_name,
        "isActive": True,
        "members": [],
        "memberOf": [],
        "properties": {
            "SchemaClassName": {"$type": "System.String", "$value": "User"},
            "Description": {"$type": "System.String", "$value": ""},
            "Domain": {"$type": "System.String", "$value": "Windows Identity"},
            "Account": {"$type": "System.String", "$value": person.unique_name},
            "Mail": {"$type": "System.String", "$value": person.email},
        },
        "resourceVersion": 2,
        "metaTypeId": 0,
    }


def connection_data(site: Site, req: Request) -> Response:
    return _connection_data(site, req, at_collection=True)


def server_connection_data(site: Site, req: Request) -> Response:
    return _connection_data(site, req, at_collection=False)


def _connection_data(site: Site, req: Request, at_collection: bool) -> Response:
    world = site.world
    instance = world.collection.id if at_collection else world.deployment_id
    identity = _identity(site, req)
    body = {
        "authenticatedUser": identity,
        "authorizedUser": identity,
        "instanceId": instance,
        "deploymentId": world.deployment_id,
        "deploymentType": "onPremises",
        "locationServiceData": {
            "serviceOwner": _TFS_SERVICE_OWNER,
            "defaultAccessMappingMoniker": "PublicAccessMapping",
            "lastChangeId": 1207,
            "lastChangeId64": 1207,
            "accessMappings": [
                {
                    "displayName": "Public Access Mapping",
                    "moniker": "PublicAccessMapping",
                    "accessPoint": req.origin + "/tfs/",
                    "serviceOwner": _FRAMEWORK_SERVICE_OWNER,
                    "virtualDirectory": world.collection.name if at_collection else "",
                }
            ],
            "serviceDefinitions": [],
        },
        "webApplicationRelativeDirectory": "/tfs/",
    }
    return json_response(body, req.version)


def resource_areas(site: Site, req: Request) -> Response:
    """On-prem servers answer an empty list: every client then uses the collection URL."""
    return list_response([], req.version)


def _collection_json(site: Site, req: Request) -> dict:
    collection = site.world.collection
    return {"id": collection.id, "name": collection.name, "url": f"{req.server_url}/_apis/projectCollections/{collection.id}"}


def list_collections(site: Site, req: Request) -> Response:
    skip = req.query.get_int("$skip", default=0) or 0
    top = req.query.get_int("$top", default=None)
    items = [_collection_json(site, req)][skip:]
    return list_response(items if top is None else items[:top], req.version)


def get_collection(site: Site, req: Request) -> Response:
    key = req.params["collectionId"].lower()
    collection = site.world.collection
    if key not in (collection.id, collection.name.lower()):
        raise ApiError(
            404,
            f"VS800045: Collection with name or id '{req.params['collectionId']}' does not exist or you do not have"
            " permission to access it.",
            "CollectionDoesNotExistException",
            f"{_COMMON}.CollectionDoesNotExistException, {_COMMON}",
        )
    return json_response(_collection_json(site, req) | {"state": "Started"}, req.version)


ROUTES = (
    Route("GET", (COLLECTION,), "_apis/connectionData", connection_data, preview=True),
    Route("GET", (SERVER,), "_apis/connectionData", server_connection_data, preview=True),
    Route("GET", _BOTH, "_apis/ResourceAreas", resource_areas, preview=True),
    Route("GET", _BOTH, "_apis/projectCollections", list_collections),
    Route("GET", _BOTH, "_apis/projectCollections/{collectionId}", get_collection),
)

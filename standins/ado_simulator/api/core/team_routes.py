"""Core teams, team members and identities (``_apis/projects/{p}/teams``, ``_apis/teams``, ``_apis/identities``)."""

from __future__ import annotations

import re
import uuid

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import resolve_project
from standins.ado_simulator.api.core.identity_bodies import group_json, group_subject, user_descriptor, user_json
from standins.ado_simulator.world.model import Person, Project
from standins.ado_simulator.wire.routing import COLLECTION, SERVER, Location, Route
from standins.ado_simulator.world.teams import Group, Team, TeamsDomain
from standins.ado_simulator.wire.wire import NOT_FOUND_HTML, ApiError, Response, html_response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS", "teams_of", "resolve_team", "team_json"]

_PROJECT = "vso.project"
_GUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.IGNORECASE)
_CORE_SERVER = "Microsoft.TeamFoundation.Core.Server"

LOCATIONS = (
    Location("d30a3dd1-f8ba-442a-b86a-bd0c0c383e59", "core", "teams", "_apis/projects/{projectId}/teams/{teamId}", 3,
             (COLLECTION,)),
    Location("294c494c-2600-4d7e-b76c-3dd50c3c95be", "core", "members", "_apis/projects/{projectId}/teams/{teamId}/members",
             2, (COLLECTION,)),
    Location("7a4d9ee9-3433-4347-b47a-7a80f1cf307e", "core", "teams", "_apis/teams", 3, (COLLECTION,), preview=True),
    Location("28010c54-d0c0-4c89-a5b0-1c9e188b9fb7", "IMS", "Identities", "_apis/identities/{identityId}", 2,
             (SERVER, COLLECTION)),
)


def teams_of(site: Site) -> TeamsDomain:
    return site.world.domain("teams")  # type: ignore[return-value]


def resolve_team(site: Site, project: Project, key: str | None) -> Team:
    """The team ``key`` (id or name) of ``project``, its default team when ``key`` is None, or a 404."""
    domain = teams_of(site)
    team = domain.default_team(project) if key is None else domain.team(project, key)
    if team is None:
        kind = "id" if _GUID.match(key or "") else "name"
        raise ApiError(404, f"The team with {kind} '{key}' does not exist, or you do not have permission to access it.",
                       "TeamNotFoundException", f"{_CORE_SERVER}.TeamNotFoundException, {_CORE_SERVER}")
    return team


def team_json(site: Site, req: Request, team: Team, expand_identity: bool = False) -> dict:
    collection = site.collection_url(req)
    project = site.world.project(team.project_id)
    assert project is not None
    body = {
        "id": team.id,
        "name": team.name,
        "url": f"{collection}/_apis/projects/{project.id}/teams/{team.id}",
        "description": team.description,
        "identityUrl": f"{collection}/_apis/Identities/{team.id}",
        "projectName": project.name,
        "projectId": project.id,
    }
    if expand_identity and site.profile.has("6.0"):
        domain = teams_of(site)
        body["identity"] = group_json(domain, domain.groups[team.id], membership=False)
    return body


def _page(req: Request, items: list) -> list:
    top = req.query.get_int("$top", default=100) or 0
    skip = req.query.get_int("$skip", default=0) or 0
    return items[skip : skip + top]


def _teams_response(site: Site, req: Request, teams: list[Team]) -> Response:
    if req.query.get_bool("$mine"):
        teams = [t for t in teams if site.world.people.index(req.user) in t.members]
    expand = req.query.get_bool("$expandIdentity")
    return list_response([team_json(site, req, t, expand) for t in _page(req, teams)], req.version)


def list_project_teams(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["projectId"])
    return _teams_response(site, req, list(teams_of(site).project_teams(project.id)))


def list_all_teams(site: Site, req: Request) -> Response:
    return _teams_response(site, req, teams_of(site).all_teams())


def get_team(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["projectId"])
    team = resolve_team(site, project, req.params["teamId"])
    return json_response(team_json(site, req, team, req.query.get_bool("$expandIdentity")), req.version)


def list_members(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["projectId"])
    team = resolve_team(site, project, req.params["teamId"])
    people = site.world.people
    members = [{"isTeamAdmin": i in team.admins, "identity": site.identity(req, people[i])} for i in team.members]
    return list_response(_page(req, members), req.version)


# -- identities (6.0+) -------------------------------------------------------------------


def _matches(text: str, *candidates: str) -> bool:
    return any(text in c.lower() for c in candidates)


def _search(domain: TeamsDomain, search_filter: str, value: str) -> list[Person | Group]:
    text = value.strip().lower()
    people, groups = domain.world.people, list(domain.groups.values())
    kind = search_filter.lower()
    if kind == "accountname":
        return [p for p in people if text in (p.unique_name.lower(), p.unique_name.split("\\")[1].lower())] + \
               [g for g in groups if text in (g.account.lower(), g.name.lower())]
    if kind == "displayname":
        return [p for p in people if _matches(text, p.display_name)] + [g for g in groups if _matches(text, g.name)]
    if kind == "mailaddress":
        return [p for p in people if p.email.lower() == text]
    if kind == "general":
        return [p for p in people if _matches(text, p.display_name, p.unique_name, p.email)] + \
               [g for g in groups if _matches(text, g.name, g.account)]
    raise ApiError.bad_argument(f"The value '{search_filter}' is not valid for searchFilter.")


def _by_keys(domain: TeamsDomain, keys: list[str], key_of_person, key_of_group) -> list[Person | Group | None]:
    index: dict[str, Person | Group] = {key_of_person(p).lower(): p for p in domain.world.people}
    index |= {key_of_group(g).lower(): g for g in domain.groups.values()}
    return [index.get(k.strip().lower()) for k in keys]


def _guid(text: str) -> str:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise ApiError.bad_argument(f"The value '{text}' is not a valid identity id.") from None


def read_identities(site: Site, req: Request) -> Response:
    """By ``identityIds``, ``descriptors``, ``subjectDescriptors`` (a null per unknown key) or ``searchFilter``."""
    if not site.profile.has("6.0"):
        return html_response(404, NOT_FOUND_HTML)
    domain = teams_of(site)
    query = req.query
    membership = (query.get("queryMembership") or "None").lower() in ("direct", "expanded")
    found: list[Person | Group | None]
    if query.get("identityIds"):
        ids = [_guid(i) for i in (query.get("identityIds") or "").split(",") if i.strip()]
        found = _by_keys(domain, ids, lambda p: p.id, lambda g: g.id)
    elif query.get("descriptors"):
        found = _by_keys(domain, (query.get("descriptors") or "").split(","), user_descriptor, lambda g: g.descriptor)
    elif query.get("subjectDescriptors"):
        found = _by_keys(domain, (query.get("subjectDescriptors") or "").split(","), lambda p: p.descriptor, group_subject)
    elif query.get("searchFilter") and query.get("filterValue") is not None:
        found = list(_search(domain, query.get("searchFilter") or "", query.get("filterValue") or ""))
    else:
        raise ApiError.bad_argument("Specify identityIds, descriptors, subjectDescriptors, or searchFilter and filterValue.")
    items = [None if i is None else user_json(domain, i, membership) if isinstance(i, Person) else group_json(domain, i, membership)
             for i in found]
    return list_response(items, req.version)


_TEAM = "_apis/projects/{projectId}/teams/{teamId}"
ROUTES = (
    Route("GET", (COLLECTION,), "_apis/projects/{projectId}/teams", list_project_teams, scope=_PROJECT),
    Route("GET", (COLLECTION,), _TEAM, get_team, scope=_PROJECT),
    Route("GET", (COLLECTION,), f"{_TEAM}/members", list_members, scope=_PROJECT),
    Route("GET", (COLLECTION,), "_apis/teams", list_all_teams, scope=_PROJECT, preview=True),
    Route("GET", (SERVER, COLLECTION), "_apis/identities", read_identities, scope="vso.identity"),
)

"""Core streams as units against recorded answers: projects, teams, team members, identities."""

from __future__ import annotations

import copy

from satellite.streams import IdentitiesStream, ProjectsStream, TeamMembersStream, TeamsStream
from tests.unit.streams.harness import Reply, Request, Server, gone, offset_pages, recorded, run_stream
from tests.unit.streams.parents import PROJECT, PROJECT_ID, TEAM, TEAM_ID
from tests.unit.streams.snapshots import SnapshotCase, SnapshotContract, add_copy, changed

PROJECTS = "_apis/projects"
TEAMS = f"_apis/projects/{PROJECT_ID}/teams"
MEMBERS = f"_apis/projects/{PROJECT_ID}/teams/{TEAM_ID}/members"
IDENTITIES = "_apis/identities"
TAILSPIN = "d61adbe8-5042-46b0-8dbd-837ccb02e960"
NEW_ID = "3b0d2c9e-51f4-4c63-9a0e-2f6d1f0c7a11"


def serve_pages(route: str):
    """Serve a ``{count, value}`` answer as ``$top``/``$skip`` pages (anything else as it is)."""
    def serve(case: SnapshotCase, server: Server, body) -> Server:
        return server.get(route, offset_pages(body["value"]) if isinstance(body, dict) and "value" in body else body, case.params)
    return serve


class TestProjectsStream(SnapshotContract):
    case = SnapshotCase(
        stream=ProjectsStream,
        record_type="core.project",
        route=PROJECTS,
        params={"stateFilter": "wellFormed"},
        serve=serve_pages(PROJECTS),
        fixture="core_projects",
        keys=(PROJECT_ID, TAILSPIN),
        add=lambda body: add_copy(body, id=NEW_ID, name="Northwind")["id"],
        change=lambda body: changed(body["value"][1], description="Renamed", revision=600)["id"],
        remove=lambda body: body["value"].pop(0)["id"],
        drop_key=lambda body: body["value"][1].pop("id"),
        gone=gone("item", "collection"),
    )

    def test_only_projects_in_the_integration_scope_are_delivered(self) -> None:
        server = self.case.server()
        run = run_stream(ProjectsStream(lambda name: name == "Tailspin Traders"), server)
        assert run.keys() == [TAILSPIN]
        assert [p["id"] for p in run.listed] == [TAILSPIN]  # what the project-scope streams will run under

    def test_projects_are_read_page_by_page(self) -> None:
        run = run_stream(ProjectsStream(), self.case.server(), page_sizes={"projects": 1})
        assert [r.params["$skip"] for r in run.requests] == ["0", "1", "2"]
        assert sorted(run.keys()) == sorted([PROJECT_ID, TAILSPIN])


class TestTeamsStream(SnapshotContract):
    case = SnapshotCase(
        stream=TeamsStream,
        record_type="core.team",
        route=TEAMS,
        serve=serve_pages(TEAMS),
        fixture="core_teams",
        parent=PROJECT,
        keys=(TEAM_ID, "7d1f4a7e-3c2b-4e8a-9a51-0f6f7a2c8b19"),
        add=lambda body: add_copy(body, id=NEW_ID, name="Web Team")["id"],
        change=lambda body: changed(body["value"][1], description="Mobile and tablet apps.")["id"],
        remove=lambda body: body["value"].pop(0)["id"],
        drop_key=lambda body: body["value"][-1].pop("id"),
        gone=gone("project"),
    )

    def test_a_team_without_project_id_gets_its_project(self) -> None:
        body = recorded("core_teams")
        del body["value"][0]["projectId"]
        run = run_stream(TeamsStream(), Server().get(TEAMS, offset_pages(body["value"])), parent=PROJECT)
        assert run.record(TEAM_ID).data["projectId"] == PROJECT_ID
        assert run.listed[0]["projectId"] == PROJECT_ID  # the team-scope streams build their routes with it


MEMBER_IDS = ("097621cf-1546-403f-9bed-030900b1af8f", "7b187988-4195-42a7-b6ab-50c2159e3239", "9af17d93-5b0b-44e4-a00b-ec559596bb59")


def add_member(body: dict) -> str:
    member = add_copy(body, isTeamAdmin=False)
    member["identity"] = {**member["identity"], "id": NEW_ID, "displayName": "Ana Silva"}
    return f"{TEAM_ID}:{NEW_ID}"


class TestTeamMembersStream(SnapshotContract):
    case = SnapshotCase(
        stream=TeamMembersStream,
        record_type="core.team_member",
        route=MEMBERS,
        serve=serve_pages(MEMBERS),
        fixture="core_team_members",
        parent=TEAM,
        keys=tuple(f"{TEAM_ID}:{i}" for i in MEMBER_IDS),
        add=add_member,
        change=lambda body: f"{TEAM_ID}:" + changed(body["value"][1], isTeamAdmin=True)["identity"]["id"],
        remove=lambda body: f"{TEAM_ID}:" + body["value"].pop(0)["identity"]["id"],
        drop_key=lambda body: body["value"][2].pop("identity"),
        gone=gone("item", "team"),
    )


# -- identities ------------------------------------------------------------------------------------

GROUP_PARAMS = {"searchFilter": "General", "filterValue": "Project Collection Valid Users", "queryMembership": "Expanded"}
OKAFOR = MEMBER_IDS[0]  # a team member who is not in the recorded Valid Users group


def identity(identity_id: str, name: str, descriptor: str) -> dict:
    made = copy.deepcopy(recorded("core_identities")["value"][0])
    made.update(id=identity_id, providerDisplayName=name, descriptor=descriptor)
    return made


def identities_answer() -> dict:
    """The Valid Users group (3 members) and the identities the server resolves."""
    known = recorded("core_identities")["value"] + [identity(OKAFOR, "Ivan Okafor", "System.Security.Principal.WindowsIdentity;S-okafor")]
    return {"group": recorded("core_identities_group"), "identities": known}


def serve_identities(case: SnapshotCase, server: Server, answer) -> Server:
    def resolve(request: Request) -> Reply:
        if "descriptors" in request.params:
            wanted, field = request.params["descriptors"].split(","), "descriptor"
        else:
            wanted, field = request.params["identityIds"].split(","), "id"
        found = [i for i in answer["identities"] if i[field] in wanted]
        return Reply({"count": len(found), "value": found})

    server.get(IDENTITIES, answer["group"] if isinstance(answer, dict) and "group" in answer else answer, GROUP_PARAMS)
    return server.get(IDENTITIES, resolve, {"queryMembership": "None"})


def add_identity(answer: dict) -> str:
    new = identity(NEW_ID, "Ana Silva", "System.Security.Principal.WindowsIdentity;S-new")
    answer["identities"].append(new)
    answer["group"]["value"][0]["members"].append(new["descriptor"])
    return NEW_ID


def remove_identity(answer: dict) -> str:
    gone_one = answer["identities"][0]
    answer["group"]["value"][0]["members"].remove(gone_one["descriptor"])
    return gone_one["id"]


class TestIdentitiesStream(SnapshotContract):
    case = SnapshotCase(
        stream=IdentitiesStream,
        record_type="core.identity",
        route=IDENTITIES,
        params=GROUP_PARAMS,
        fixture=identities_answer,
        serve=serve_identities,
        keys=tuple(sorted(MEMBER_IDS[1:] + ("44d3fc2a-9c14-4717-af4f-2a6cab658d00",))),
        add=add_identity,
        change=lambda answer: changed(answer["identities"][1], isActive=False)["id"],
        remove=remove_identity,
        drop_key=lambda answer: answer["identities"][2].pop("id"),
        gone=gone("item", "identities"),
    )

    def test_team_members_outside_the_group_are_resolved_by_id(self) -> None:
        members = recorded("core_team_members")["value"]
        run = run_stream(IdentitiesStream(), self.case.server(), listed={TeamMembersStream: members})
        assert OKAFOR in run.keys()
        by_id = [r for r in run.requests if "identityIds" in r.params]
        assert [r.params["identityIds"] for r in by_id] == [OKAFOR]  # the two members in the group are not asked again

    def test_groups_among_the_members_are_not_identities(self) -> None:
        answer = identities_answer()
        answer["identities"][0]["isContainer"] = True
        run = run_stream(IdentitiesStream(), self.case.server(answer))
        assert answer["identities"][0]["id"] not in run.keys() and len(run.keys()) == 2

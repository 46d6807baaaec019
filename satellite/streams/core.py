"""Core streams: projects, teams, team members, identities."""

from __future__ import annotations

from typing import Callable, Iterator

from satellite.ado.client import segment
from satellite.streams.base import Scope, SnapshotStream, StreamContext

__all__ = ["ProjectsStream", "TeamsStream", "TeamMembersStream", "IdentitiesStream"]


class ProjectsStream(SnapshotStream):
    """Every project of a collection that the integration's scope admits."""

    name = "core.projects"
    record_type = "core.project"
    key_format = "{projectId}"
    service = "core"
    scope = Scope.COLLECTION

    def __init__(self, in_scope: Callable[[str], bool] = lambda name: True) -> None:
        self._in_scope = in_scope

    def list(self, ctx: StreamContext, parent: dict | None) -> Iterator[dict]:
        for page in ctx.client.pages_by_offset("_apis/projects", {"stateFilter": "wellFormed"}, page_size=ctx.page_sizes.projects):
            for project in page:
                if self._in_scope(project.get("name", "")):
                    yield project

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return item["id"]


class TeamsStream(SnapshotStream):
    """Teams of a project."""

    name = "core.teams"
    record_type = "core.team"
    key_format = "{teamId}"
    service = "core"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        teams: list[dict] = []
        for page in ctx.client.pages_by_offset(f"_apis/projects/{segment(parent['id'])}/teams", page_size=ctx.page_sizes.default):
            teams.extend({**team, "projectId": team.get("projectId") or parent["id"]} for team in page)
        return teams

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return item["id"]


class TeamMembersStream(SnapshotStream):
    """Members of a team (identity and whether they administer the team)."""

    name = "core.team_members"
    record_type = "core.team_member"
    key_format = "{teamId}:{identityId}"
    service = "core"
    scope = Scope.TEAM

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        path = f"_apis/projects/{segment(parent['projectId'])}/teams/{segment(parent['id'])}/members"
        return [m for page in ctx.client.pages_by_offset(path, page_size=ctx.page_sizes.default) for m in page]

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{parent['id']}:{item['identity']['id']}"


class IdentitiesStream(SnapshotStream):
    """Users of the collection (the identities API: Server 2020+).

    Everyone in ``Project Collection Valid Users`` (its expanded membership, resolved by
    descriptor in chunks), plus anyone met as a team member.
    """

    name = "core.identities"
    record_type = "core.identity"
    key_format = "{identityId}"
    service = "core"
    scope = Scope.COLLECTION_END
    min_version = "6.0"
    BATCH = 50
    VALID_USERS = "Project Collection Valid Users"

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        found = ctx.client.get("_apis/identities", {"searchFilter": "General", "filterValue": self.VALID_USERS,
                                                     "queryMembership": "Expanded"}).get("value", [])
        group = next((g for g in found if g and str(g.get("providerDisplayName", "")).endswith(self.VALID_USERS)), None)
        descriptors = sorted(group.get("members") or []) if group else []
        identities = {i["id"]: i for i in self._resolve(ctx, "descriptors", descriptors) if not i.get("isContainer")}
        member_ids = sorted({m["identity"]["id"] for m in ctx.listed.get(TeamMembersStream.name, [])} - identities.keys())
        identities.update((i["id"], i) for i in self._resolve(ctx, "identityIds", member_ids))
        return [identities[k] for k in sorted(identities)]

    def _resolve(self, ctx: StreamContext, by: str, keys: list[str]) -> list[dict]:
        resolved: list[dict] = []
        for start in range(0, len(keys), self.BATCH):
            body = ctx.client.get("_apis/identities", {by: ",".join(keys[start : start + self.BATCH]), "queryMembership": "None"})
            resolved.extend(i for i in body.get("value", []) if i)
        return resolved

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return item["id"]

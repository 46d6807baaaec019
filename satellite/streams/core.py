"""Core streams: projects, teams, team members, identities."""

from __future__ import annotations

from typing import Callable, Iterator

from satellite.ado.client import segment
from satellite.ado.paging import TopSkip, items
from satellite.streams.base import KeyFormat, Scope, SnapshotStream, StreamContext

__all__ = ["ProjectsStream", "TeamsStream", "TeamMembersStream", "IdentitiesStream"]


class ProjectsStream(SnapshotStream):
    """Every project of a collection that the integration's scope admits."""

    name = "core.projects"
    record_type = "core.project"
    key_format = KeyFormat("{projectId}", {"projectId": "id"})
    service = "core"
    scope = Scope.COLLECTION

    def __init__(self, in_scope: Callable[[str], bool] = lambda name: True) -> None:
        self._in_scope = in_scope

    def list(self, ctx: StreamContext, parent: dict | None) -> Iterator[dict]:
        pages = ctx.client.pages("_apis/projects", TopSkip(ctx.page_sizes.projects), {"stateFilter": "wellFormed"})
        return (project for project in items(pages) if self._in_scope(project.get("name", "")))


class TeamsStream(SnapshotStream):
    """Teams of a project."""

    name = "core.teams"
    record_type = "core.team"
    nested_types = ("core.team_member", "work.team_iteration")  # keyed "<team id>:...": a deleted team takes them
    key_format = KeyFormat("{teamId}", {"teamId": "id"})
    service = "core"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        pages = ctx.client.pages(f"_apis/projects/{segment(parent['id'])}/teams", TopSkip(ctx.page_sizes.default))
        return [{**team, "projectId": team.get("projectId") or parent["id"]} for team in items(pages)]


class TeamMembersStream(SnapshotStream):
    """Members of a team (identity and whether they administer the team)."""

    name = "core.team_members"
    record_type = "core.team_member"
    key_format = KeyFormat("{teamId}:{identityId}", {"identityId": "identity.id"}, parent="teamId")
    service = "core"
    scope = Scope.TEAM

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        path = f"_apis/projects/{segment(parent['projectId'])}/teams/{segment(parent['id'])}/members"
        return list(items(ctx.client.pages(path, TopSkip(ctx.page_sizes.default))))


class IdentitiesStream(SnapshotStream):
    """Users of the collection (the identities API: Server 2020+).

    Everyone in ``Project Collection Valid Users`` (its expanded membership, resolved by
    descriptor in chunks), plus anyone met as a team member.
    """

    name = "core.identities"
    record_type = "core.identity"
    key_format = KeyFormat("{identityId}", {"identityId": "id"})
    service = "core"
    scope = Scope.COLLECTION_END
    min_version = "6.0"
    BATCH = 50
    VALID_USERS = "Project Collection Valid Users"

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        found = ctx.client.get_list("_apis/identities", {"searchFilter": "General", "filterValue": self.VALID_USERS,
                                                          "queryMembership": "Expanded"})
        group = next((g for g in found if g and str(g.get("providerDisplayName", "")).endswith(self.VALID_USERS)), None)
        descriptors = sorted(group.get("members") or []) if group else []
        people = [i for i in self._resolve(ctx, "descriptors", descriptors) if not i.get("isContainer")]
        identities = {i["id"]: i for i in people if isinstance(i.get("id"), str)}
        member_ids = sorted({m["identity"]["id"] for m in ctx.listed.get(TeamMembersStream.name, [])} - identities.keys())
        identities.update((i["id"], i) for i in self._resolve(ctx, "identityIds", member_ids) if isinstance(i.get("id"), str))
        unreadable = [i for i in people if not isinstance(i.get("id"), str)]  # quarantined by the diff
        return [identities[k] for k in sorted(identities)] + unreadable

    def _resolve(self, ctx: StreamContext, by: str, keys: list[str]) -> list[dict]:
        resolved: list[dict] = []
        for start in range(0, len(keys), self.BATCH):
            chunk = ",".join(keys[start : start + self.BATCH])
            resolved.extend(i for i in ctx.client.get_list("_apis/identities", {by: chunk, "queryMembership": "None"}) if i)
        return resolved

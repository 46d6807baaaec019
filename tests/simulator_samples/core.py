"""Samples for the core team routes (project teams, one team, members, all teams) and identities."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.teams import TeamsDomain
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample


def _teams(world: World) -> TeamsDomain:
    return world.domain("teams")  # type: ignore[return-value]


def _team(world: World):
    """The largest team (it has members on every scale)."""
    return max(_teams(world).teams, key=lambda t: len(t.members))


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "_apis/projects/{projectId}/teams": lambda w: [
        ("GET", f"_apis/projects/{w.projects[0].id}/teams", {}),
        ("GET", f"_apis/projects/{w.projects[0].name}/teams", {"$mine": "true", "$expandIdentity": "true", "$top": "5"}),
    ],
    "_apis/projects/{projectId}/teams/{teamId}": lambda w: [
        ("GET", f"_apis/projects/{_team(w).project_id}/teams/{_team(w).id}", {}),
        ("GET", f"_apis/projects/{_team(w).project_id}/teams/{_team(w).name}", {"$expandIdentity": "true"}),
    ],
    "_apis/projects/{projectId}/teams/{teamId}/members": lambda w: [
        ("GET", f"_apis/projects/{_team(w).project_id}/teams/{_team(w).id}/members", {}),
        ("GET", f"_apis/projects/{_team(w).project_id}/teams/{_team(w).id}/members", {"$top": "2", "$skip": "1"}),
    ],
    "_apis/teams": lambda w: [
        ("GET", "_apis/teams", {}),
        ("GET", "_apis/teams", {"$mine": "true", "$expandIdentity": "true"}),
    ],
    "_apis/identities": lambda w: [
        ("GET", "_apis/identities", {"searchFilter": "General", "filterValue": w.people[0].display_name.split()[0]}),
        ("GET", "_apis/identities", {"identityIds": f"{w.people[0].id},{_team(w).id}", "queryMembership": "Direct"}),
        ("GET", "_apis/identities", {"descriptors": f"System.Security.Principal.WindowsIdentity;{w.people[1].sid}"}),
        ("GET", "~/_apis/identities", {"subjectDescriptors": w.people[0].descriptor, "queryMembership": "None"}),
        ("GET", "~/_apis/identities", {"searchFilter": "AccountName", "filterValue": "Project Collection Valid Users",
                                       "queryMembership": "Expanded"}),
    ],
}

"""Teams domain: teams and their members, identities, classification trees and team iterations.

Every project has its default team (``project.default_team_id``, "<Project> Team") plus
``teams_per_project - 1`` more, each owning an area. Members are people of the world; the
world's first person (the PAT's user) is in every default team. Each team follows the
project's sprints from its ``first_sprint`` on, so its iterations grow with the sprint plan.
``advance`` plans new sprints as the clock moves (the current sprint moves on by itself).
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from satellite.streams.core import IdentitiesStream
from standins.ado_simulator.world.boards.classification import AREA, ITERATION, SPRINT_HORIZON, ClassificationNode, ProjectTree
from standins.ado_simulator.world.generate import guid
from standins.ado_simulator.world.model import Project
from standins.ado_simulator.world.scales import AREA_SCALES

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["Team", "Group", "TeamsDomain", "build_teams"]

VALID_USERS = IdentitiesStream.VALID_USERS  # the group the satellite asks for, named once (by the product)
_TEAM_NAMES = ("Web", "Mobile", "Platform", "Data", "Operations", "Payments")
_EXTRA_AREAS = ("Shared",)


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    project_id: str
    description: str
    members: tuple[int, ...]  # indexes into world.people, sorted by display name
    admins: frozenset[int]
    area_index: int  # into the project's area nodes; the team owns that area and its children
    first_sprint: int  # the team follows sprints with this number and later
    sid: str


@dataclass(frozen=True, slots=True)
class Group:
    """A security group identity: a team's group or Project Collection Valid Users."""

    id: str
    name: str  # providerDisplayName, e.g. "[Contoso Retail]\\Web"
    account: str
    domain: str
    description: str
    sid: str
    members: tuple[int, ...]  # indexes into world.people

    @property
    def descriptor(self) -> str:
        return "Microsoft.TeamFoundation.Identity;" + self.sid


def _group_sid(rng: random.Random) -> str:
    return "S-1-9-1551374245-" + "-".join(str(rng.randint(10**9, 4 * 10**9)) for _ in range(4)) + "-1-" + str(rng.randint(10**8, 10**9))


class TeamsDomain:
    """Teams, groups and classification trees of every project (see the module docstring)."""

    name = "teams"
    min_versions = {"core.identity": "6.0"}

    def __init__(self, world: "World", teams: tuple[Team, ...], trees: dict[str, ProjectTree], valid_users: Group,
                 next_node_id: Iterator[int]) -> None:
        self.world = world
        self.teams = teams
        self.trees = trees
        self.valid_users = valid_users
        self._next_node_id = next_node_id
        self.nodes: dict[int, ClassificationNode] = {n.id: n for tree in trees.values() for n in tree.nodes()}
        self._by_project: dict[str, tuple[Team, ...]] = {
            p.id: tuple(sorted((t for t in teams if t.project_id == p.id), key=lambda t: t.name.lower())) for p in world.projects
        }
        self._by_id = {t.id.lower(): t for t in teams}
        self.groups: dict[str, Group] = {valid_users.id: valid_users}
        for team in teams:
            project = world.project(team.project_id)
            assert project is not None
            self.groups[team.id] = Group(team.id, f"[{project.name}]\\{team.name}", team.name,
                                         f"vstfs:///Classification/TeamProject/{project.id}", team.description, team.sid,
                                         team.members)
        self.staff: dict[str, tuple[int, ...]] = {
            p.id: tuple(sorted({m for t in self._by_project[p.id] for m in t.members})) for p in world.projects
        }

    # -- lookups (teams never change; trees grow under the World's lock) ----------------

    def project_teams(self, project_id: str) -> tuple[Team, ...]:
        """Sorted by name, as the server lists them."""
        return self._by_project.get(project_id, ())

    def all_teams(self) -> list[Team]:
        return sorted(self.teams, key=lambda t: (t.name.lower(), t.id))

    def team(self, project: Project, key: str) -> Team | None:
        """A team of ``project`` by id or name (case-insensitive)."""
        team = self._by_id.get(key.lower())
        if team is not None:
            return team if team.project_id == project.id else None
        lowered = key.lower()
        return next((t for t in self.project_teams(project.id) if t.name.lower() == lowered), None)

    def default_team(self, project: Project) -> Team:
        return self._by_id[project.default_team_id.lower()]

    def team_iterations(self, team: Team) -> list[ClassificationNode]:
        """The sprints the team follows, oldest first (call under the World's lock)."""
        return self.trees[team.project_id].sprints[team.first_sprint - 1:]

    def groups_of(self, person: int) -> list[Group]:
        return [g for g in self.groups.values() if person in g.members]

    # -- Domain --------------------------------------------------------------------------

    def truth(self) -> dict[str, list[str]]:
        people = self.world.people
        return {
            "core.team": sorted(t.id for t in self.teams),
            "core.team_member": sorted(f"{t.id}:{people[m].id}" for t in self.teams for m in t.members),
            "core.identity": sorted(p.id for p in people),
            "wit.classification_node": sorted(f"{tree.project_id}:{n.identifier}" for tree in self.trees.values()
                                              for n in tree.nodes()),
            "work.team_iteration": sorted(f"{t.id}:{s.identifier}" for t in self.teams for s in self.team_iterations(t)),
        }

    def advance(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        for tree in self.trees.values():
            added = tree.plan_sprints(clock + SPRINT_HORIZON, self._next_node_id, rng)
            self.nodes.update((n.id, n) for n in added)
            counts["sprints"] = counts.get("sprints", 0) + sum(1 for n in added if n.sprint)


def _make_tree(rng: random.Random, project: Project, team_names: list[str], next_id: Iterator[int], clock: int) -> ProjectTree:
    tree = ProjectTree(project.id)
    root = tree.add(ClassificationNode(next(next_id), guid(rng), AREA, (project.name,), None))
    for name in team_names + list(_EXTRA_AREAS):
        tree.add(ClassificationNode(next(next_id), guid(rng), AREA, (project.name, name), root.id))
    tree.add(ClassificationNode(next(next_id), guid(rng), ITERATION, (project.name,), None))
    tree.plan_sprints(clock + SPRINT_HORIZON, next_id, rng)
    return tree


def _make_teams(rng: random.Random, world: "World", project: Project, count: int) -> list[Team]:
    people = world.people
    by_name = sorted(range(len(people)), key=lambda i: people[i].display_name)
    staff = sorted(set(rng.sample(range(len(people)), max(3, min(len(people), len(people) * rng.randint(4, 7) // 10)))) | {0})
    teams = []
    names = [f"{project.name} Team"] + rng.sample(_TEAM_NAMES, count - 1)
    for index, name in enumerate(names):
        size = min(len(staff), rng.randint(3, 8) if index == 0 else rng.randint(2, 6))
        chosen = set(rng.sample(staff, size)) | ({0} if index == 0 else set())
        members = tuple(i for i in by_name if i in chosen)
        admins = frozenset(rng.sample(members, 1 + (len(members) > 4)))
        team_id = project.default_team_id if index == 0 else guid(rng)
        description = "The default project team." if index == 0 else f"The {name} team of {project.name}."
        first_sprint = 1 if index == 0 else rng.randint(2, 6)
        teams.append(Team(team_id, name, project.id, description, members, admins, index, first_sprint, _group_sid(rng)))
    return teams


def build_teams(world: "World", seed: int, scale: str) -> TeamsDomain:
    """Teams, members and classification trees for every project of ``world``."""
    rng = random.Random(f"{seed}:{scale}:teams")
    per_project = AREA_SCALES[scale].teams_per_project
    next_id = itertools.count(1)
    teams: list[Team] = []
    trees: dict[str, ProjectTree] = {}
    for project in world.projects:
        project_teams = _make_teams(rng, world, project, per_project)
        teams += project_teams
        trees[project.id] = _make_tree(rng, project, [t.name for t in project_teams[1:]], next_id, world.clock)
    collection = world.collection
    valid_users = Group(str(uuid.uuid5(uuid.UUID(collection.id), VALID_USERS)),
                        f"[{collection.name}]\\{VALID_USERS}", VALID_USERS,
                        f"vstfs:///Framework/IdentityDomain/{collection.id}",
                        "This application group contains all users and groups that have access to the Team Project"
                        " Collection.", _group_sid(rng), tuple(range(len(world.people))))
    return TeamsDomain(world, tuple(teams), trees, valid_users, next_id)


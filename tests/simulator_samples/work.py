"""Samples for the work routes: team settings, team iterations (sprints), iteration work items, field values."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.teams import Team, TeamsDomain
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample


def _teams(world: World) -> TeamsDomain:
    return world.domain("teams")  # type: ignore[return-value]


def _team(world: World) -> Team:
    """A team other than a default one when there is one (its own area and first sprint)."""
    teams = _teams(world).teams
    return next((t for t in teams if t.id != world.project(t.project_id).default_team_id), teams[0])  # type: ignore[union-attr]


def _busy_sprint(world: World) -> str:
    """The sprint of the first project holding the most work items (its default team follows every sprint)."""
    project = world.projects[0]
    current = world.domain("work_items").current  # type: ignore[attr-defined]
    sprints = _teams(world).trees[project.id].sprints
    counts = {s.id: 0 for s in sprints}
    for node_id in current.iteration:
        if node_id in counts:
            counts[node_id] += 1
    return max(sprints, key=lambda s: counts[s.id]).identifier


def _sprint(world: World, team: Team) -> str:
    return _teams(world).team_iterations(team)[0].identifier


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "{project}/{team?}/_apis/work/teamsettings": lambda w: [
        ("GET", f"{w.projects[0].id}/_apis/work/teamsettings", {}),
        ("GET", f"{_team(w).project_id}/{_team(w).name}/_apis/work/teamsettings", {}),
    ],
    "{project}/{team?}/_apis/work/teamsettings/iterations": lambda w: [
        ("GET", f"{w.projects[0].name}/_apis/work/teamsettings/iterations", {}),
        ("GET", f"{_team(w).project_id}/{_team(w).id}/_apis/work/teamsettings/iterations", {"$timeframe": "current"}),
    ],
    "{project}/{team?}/_apis/work/teamsettings/iterations/{id}": lambda w: [
        ("GET", f"{_team(w).project_id}/{_team(w).id}/_apis/work/teamsettings/iterations/{_sprint(w, _team(w))}", {}),
    ],
    "{project}/{team?}/_apis/work/teamsettings/iterations/{iterationId}/workitems": lambda w: [
        ("GET", f"{w.projects[0].id}/_apis/work/teamsettings/iterations/{_busy_sprint(w)}/workitems", {}),
    ],
    "{project}/{team?}/_apis/work/teamsettings/teamfieldvalues": lambda w: [
        ("GET", f"{w.projects[0].id}/_apis/work/teamsettings/teamfieldvalues", {}),
        ("GET", f"{_team(w).project_id}/{_team(w).id}/_apis/work/teamsettings/teamfieldvalues", {}),
    ],
}

"""Samples for the environments routes (6.0+): YAML environments and their deployment records."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.pipelines.environments import Environment, environments_of
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample

_E = "{project}/_apis/distributedtask/environments"


def _busiest(world: World) -> Environment:
    """The environment with the most deployment records."""
    domain = environments_of(world)
    with world.lock:
        return max(domain.environments, key=lambda e: (len(domain.records_of(e.id)), -e.id))


def _path(world: World) -> str:
    environment = _busiest(world)
    return f"{world.projects[environment.project].id}/_apis/distributedtask/environments/{environment.id}"


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    _E: lambda w: [("GET", f"{w.projects[_busiest(w).project].id}/_apis/distributedtask/environments", {}),
                   ("GET", f"{w.projects[0].name}/_apis/distributedtask/environments", {"name": "prod*"})],
    f"{_E}/{{environmentId}}": lambda w: [("GET", _path(w), {})],
    f"{_E}/{{environmentId}}/environmentdeploymentrecords": lambda w: [("GET", f"{_path(w)}/environmentdeploymentrecords", {})],
}

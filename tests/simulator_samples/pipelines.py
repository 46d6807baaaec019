"""Samples for the Pipelines routes (6.0+): pipelines and their runs."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.pipelines.builds import Definition, builds_of
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample


def _pipeline(world: World) -> Definition:
    """The YAML definition with the most builds."""
    domain = builds_of(world)
    return max((d for d in domain.definitions if d.yaml), key=lambda d: (len(domain.by_definition[d.id]), -d.id))


def _path(world: World) -> str:
    pipeline = _pipeline(world)
    return f"{world.projects[pipeline.project].id}/_apis/pipelines/{pipeline.id}"


def _run(world: World) -> int:
    domain = builds_of(world)
    return next(i for i in reversed(domain.by_definition[_pipeline(world).id]) if not domain.builds[i - 1].deleted)


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "{project}/_apis/pipelines": lambda w: [
        ("GET", f"{w.projects[_pipeline(w).project].id}/_apis/pipelines", {}),
        ("GET", f"{w.projects[_pipeline(w).project].id}/_apis/pipelines", {"orderBy": "id desc"}),
    ],
    "{project}/_apis/pipelines/{pipelineId}": lambda w: [("GET", _path(w), {})],
    "{project}/_apis/pipelines/{pipelineId}/runs": lambda w: [("GET", f"{_path(w)}/runs", {})],
    "{project}/_apis/pipelines/{pipelineId}/runs/{runId}": lambda w: [("GET", f"{_path(w)}/runs/{_run(w)}", {})],
}

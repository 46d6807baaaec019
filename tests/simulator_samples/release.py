"""Samples for the classic release routes: definitions, releases (with environments, deploy steps and
tasks) and deployments."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.pipelines.releases import Release, releases_of
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample


def _richest(world: World) -> Release:
    """The live release with the most deployments."""
    domain = releases_of(world)
    with world.lock:
        return max((r for r in domain.releases if not r.deleted), key=lambda r: (len(domain.by_release[r.id]), r.id))


def _project(world: World, release: Release) -> str:
    domain = releases_of(world)
    return world.projects[domain.definitions[release.definition - 1].project].id


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "{project}/_apis/release/definitions": lambda w: [
        ("GET", f"{_project(w, _richest(w))}/_apis/release/definitions", {}),
        ("GET", f"{_project(w, _richest(w))}/_apis/release/definitions", {"$expand": "environments,artifacts"}),
    ],
    "{project}/_apis/release/definitions/{definitionId}": lambda w: [
        ("GET", f"{_project(w, _richest(w))}/_apis/release/definitions/{_richest(w).definition}", {}),
    ],
    "{project}/_apis/release/releases": lambda w: [
        ("GET", f"{_project(w, _richest(w))}/_apis/release/releases", {}),
        ("GET", f"{_project(w, _richest(w))}/_apis/release/releases", {"$expand": "environments,artifacts", "queryOrder": "ascending"}),
    ],
    "{project}/_apis/release/releases/{releaseId}": lambda w: [
        ("GET", f"{_project(w, _richest(w))}/_apis/release/releases/{_richest(w).id}", {}),
    ],
    "{project}/_apis/release/deployments": lambda w: [
        ("GET", f"{_project(w, _richest(w))}/_apis/release/deployments", {}),
        ("GET", f"{_project(w, _richest(w))}/_apis/release/deployments", {"latestAttemptsOnly": "true", "queryOrder": "ascending"}),
    ],
}

"""Samples for the simulator's first routes: discovery (location) and projects (core).

The git routes that came with them have their samples in ``git.py``.
"""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample

SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    # location
    "_apis": lambda w: [("OPTIONS", "_apis", {}), ("OPTIONS", "~/_apis", {})],
    "_apis/{area}": lambda w: [("OPTIONS", "_apis/git", {}), ("OPTIONS", "~/_apis/Location", {})],
    "_apis/connectionData": lambda w: [("GET", "_apis/connectionData", {}), ("GET", "~/_apis/connectionData", {})],
    "_apis/ResourceAreas": lambda w: [("GET", "_apis/ResourceAreas", {}), ("GET", "~/_apis/ResourceAreas", {})],
    "_apis/projectCollections": lambda w: [("GET", "~/_apis/projectCollections", {}), ("GET", "_apis/projectCollections", {})],
    "_apis/projectCollections/{collectionId}": lambda w: [
        ("GET", f"~/_apis/projectCollections/{w.collection.id}", {}),
        ("GET", f"_apis/projectCollections/{w.collection.name}", {}),
    ],
    # core
    "_apis/projects": lambda w: [("GET", "_apis/projects", {}), ("GET", "_apis/projects", {"stateFilter": "all"})],
    "_apis/projects/{projectId}": lambda w: [
        ("GET", f"_apis/projects/{w.projects[0].id}", {}),
        ("GET", f"_apis/projects/{w.projects[-1].name}", {"includeCapabilities": "true"}),
    ],
}

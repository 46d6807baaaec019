"""Samples for the build routes: definitions, builds (completed, running, queued, deleted), timelines,
build changes and work items."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.pipelines.builds import COMPLETED, IN_PROGRESS, Build, builds_of
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample

_B = "{project}/_apis/build/builds/{buildId}"


def _project(world: World, build: Build) -> str:
    domain = builds_of(world)
    return world.projects[domain.definitions[build.definition - 1].project].id


def _build(world: World, status: str = COMPLETED, yaml: bool | None = None) -> Build:
    """The newest live build with this status (and kind of definition), else the newest completed one."""
    domain = builds_of(world)
    with world.lock:
        live = [b for b in reversed(domain.builds) if not b.deleted
                and (yaml is None or domain.definitions[b.definition - 1].yaml == yaml)]
    return next((b for b in live if b.status == status), next(b for b in live if b.status == COMPLETED))


def _path(world: World, build: Build) -> str:
    return f"{_project(world, build)}/_apis/build/builds/{build.id}"


def _with_changes(world: World) -> Build:
    """The newest live completed build with several changes (and a previous build on its branch)."""
    domain = builds_of(world)
    with world.lock:
        return next(b for b in reversed(domain.builds) if not b.deleted and b.status == COMPLETED
                    and domain.previous(b) is not None and len(domain.changes(b)) >= 4)


def _between(world: World) -> Sample:
    build = _with_changes(world)
    previous = builds_of(world).previous(build)
    assert previous is not None
    return ("GET", f"{_project(world, build)}/_apis/build/changes", {"fromBuildId": str(previous.id), "toBuildId": str(build.id)})


def _with_work_items(world: World) -> Build:
    domain = builds_of(world)
    return next(b for b in domain.builds if domain.work_items(b) and not b.deleted)


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "{project}/_apis/build/definitions": lambda w: [
        ("GET", f"{w.projects[0].id}/_apis/build/definitions", {}),
        ("GET", f"{w.projects[0].id}/_apis/build/definitions", {"includeLatestBuilds": "true", "queryOrder": "definitionNameAscending"}),
    ],
    "{project}/_apis/build/definitions/{definitionId}": lambda w: [
        ("GET", f"{w.projects[d.project].id}/_apis/build/definitions/{d.id}", {}) for d in builds_of(w).definitions[:2]
    ],
    "{project}/_apis/build/builds": lambda w: [
        ("GET", f"{w.projects[0].id}/_apis/build/builds", {}),
        ("GET", f"{w.projects[0].id}/_apis/build/builds", {"queryOrder": "finishTimeAscending", "statusFilter": "completed"}),
    ],
    _B: lambda w: [
        ("GET", _path(w, _build(w)), {}),
        ("GET", _path(w, _build(w, IN_PROGRESS)), {}),
    ],
    f"{_B}/timeline/{{timelineId?}}": lambda w: [
        ("GET", f"{_path(w, _build(w, yaml=True))}/timeline", {}),
        ("GET", f"{_path(w, _build(w, yaml=False))}/timeline/{builds_of(w).plan_id(_build(w, yaml=False))}", {}),
        ("GET", f"{_path(w, _build(w, IN_PROGRESS))}/timeline", {}),
    ],
    f"{_B}/changes": lambda w: [("GET", f"{_path(w, _with_changes(w))}/changes", {}),
                                ("GET", f"{_path(w, _build(w))}/changes", {"includeSourceChange": "true"})],
    "{project}/_apis/build/changes": lambda w: [_between(w)],
    f"{_B}/workitems": lambda w: [("GET", f"{_path(w, _with_work_items(w))}/workitems", {})],
}

"""Samples for the simulator's first routes: discovery (location), projects (core) and git
repositories, refs, commits and pushes."""

from __future__ import annotations

from typing import Callable

from satellite.simulator.world import World
from tests.simulator_samples import Sample

_REPO = "{project?}/_apis/git/repositories/{repositoryId}"


def _busiest(world: World):
    """The repository with the most pushes, its project and history figures (stable for a world)."""
    best = None
    for repo in world.repositories:
        with world.reading(repo.id) as history:
            figures = (len(history.pushes), history.head(repo.default_branch), history.pushes[-1].push_id)
        if best is None or figures[0] > best[1][0]:
            best = (repo, figures)
    assert best is not None
    repo, (_, head, last_push) = best
    return repo, world.project(repo.project_id), head, last_push


def _multi_commit_push(world: World) -> tuple[str, int]:
    """(repository path, pushId) of a push with the most commits."""
    repo, project, _, _ = _busiest(world)
    with world.reading(repo.id) as history:
        push = max(history.pushes, key=lambda p: (len(p.commit_ids), -p.push_id))
    return f"{project.id}/_apis/git/repositories/{repo.id}", push.push_id


def _repo_path(world: World) -> str:
    repo, project, _, _ = _busiest(world)
    return f"{project.id}/_apis/git/repositories/{repo.id}"


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    # location
    "_apis": lambda w: [("OPTIONS", "_apis", {}), ("OPTIONS", "~/_apis", {})],
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
    # git
    "{project?}/_apis/git/repositories": lambda w: [
        ("GET", "_apis/git/repositories", {}),
        ("GET", f"{w.projects[0].id}/_apis/git/repositories", {"includeLinks": "true"}),
    ],
    _REPO: lambda w: [("GET", _repo_path(w), {})],
    f"{_REPO}/refs": lambda w: [("GET", f"{_repo_path(w)}/refs", {}), ("GET", f"{_repo_path(w)}/refs", {"filter": "heads/"})],
    f"{_REPO}/commits": lambda w: [
        ("GET", f"{_repo_path(w)}/commits", {}),
        ("GET", f"{_repo_path(w)}/commits", {"searchCriteria.includePushData": "true", "searchCriteria.$top": "5"}),
        ("GET", f"{_multi_commit_push(w)[0]}/commits", {"pushId": str(_multi_commit_push(w)[1])}),
    ],
    f"{_REPO}/commits/{{commitId}}": lambda w: [("GET", f"{_repo_path(w)}/commits/{_busiest(w)[2]}", {})],
    f"{_REPO}/pushes": lambda w: [
        ("GET", f"{_repo_path(w)}/pushes", {}),
        ("GET", f"{_repo_path(w)}/pushes", {"searchCriteria.includeRefUpdates": "true"}),
    ],
    f"{_REPO}/pushes/{{pushId}}": lambda w: [
        ("GET", f"{_repo_path(w)}/pushes/{_busiest(w)[3]}", {"includeCommits": "3", "includeRefUpdates": "true"}),
    ],
}

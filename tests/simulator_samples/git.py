"""Samples for every git route: repositories, refs (branches and tags), commits,
pushes and pull requests with their reviewers, threads, comments, iterations, commits and work items."""

from __future__ import annotations

from typing import Callable

from standins.ado_simulator.world.git.pr_model import COMPLETED, INLINE, VOTE, PullRequest
from standins.ado_simulator.world.git.pr_timeline import pull_request_commits
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample

_REPO = "{project?}/_apis/git/repositories/{repositoryId}"
_PR = f"{_REPO}/pullRequests/{{pullRequestId}}"


def _pull_requests(world: World) -> list[PullRequest]:
    domain = world.domain("pull_requests")
    with world.lock:
        return domain.of_repositories(r.id for r in world.repositories)  # type: ignore[attr-defined]


def _richest(world: World, status: str | None = None) -> PullRequest:
    """The pull request with the most to show: inline and vote threads, work items, reviewers."""
    candidates = [pr for pr in _pull_requests(world) if status is None or pr.status == status]

    def score(pr: PullRequest) -> tuple:
        kinds = {t.kind for t in pr.threads}
        return (INLINE in kinds, VOTE in kinds, bool(pr.work_items), len(pr.threads), len(pr.reviewers), -pr.id)

    return max(candidates, key=score)


def _repo_path(world: World, repository_id: str) -> str:
    repo = world.repository(repository_id)
    assert repo is not None
    return f"{repo.project_id}/_apis/git/repositories/{repo.id}"


def _pr_path(world: World, pr: PullRequest) -> str:
    return f"{_repo_path(world, pr.repository_id)}/pullRequests/{pr.id}"


def _tagged(world: World) -> str:
    """Path of a repository with an annotated tag."""
    for repo in world.repositories:
        with world.reading(repo.id) as history:
            if any(t.annotated for t in history.tags.values()):
                return _repo_path(world, repo.id)
    raise AssertionError("no annotated tag in this world")


def _head(world: World) -> tuple[str, str, int]:
    """(repository path, head of main, last push id) of the first repository."""
    repo = world.repositories[0]
    with world.reading(repo.id) as history:
        return _repo_path(world, repo.id), history.head(repo.default_branch) or "", len(history.pushes)


def _older(w: World) -> str:
    """A commit ten commits below the first repository's main: diffs from it to main show changes."""
    repo = w.repositories[0]
    with w.reading(repo.id) as history:
        positions = history.log(history.head(repo.default_branch) or "")
        return history.commits[positions[min(10, len(positions) - 1)]].commit_id


def _most_commits(world: World) -> PullRequest:
    """A pull request with several commits (paging walks need more than one)."""
    found = []
    for pr in _pull_requests(world):
        with world.reading(pr.repository_id) as history:
            found.append((len(pull_request_commits(history, pr)), -pr.id, pr))
    return max(found)[2]


def _thread(world: World, kind: str) -> tuple[PullRequest, int]:
    pr = _richest(world)
    return pr, next(t.id for t in pr.threads if t.kind == kind)


def _project_of(world: World, pr: PullRequest) -> str:
    repo = world.repository(pr.repository_id)
    assert repo is not None
    return repo.project_id


def _reviewer(world: World) -> tuple[PullRequest, str]:
    pr = _richest(world)
    return pr, world.people[pr.reviewers[-1].person].id


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    "{project?}/_apis/git/repositories": lambda w: [("GET", "_apis/git/repositories", {})],
    _REPO: lambda w: [("GET", _head(w)[0], {})],
    f"{_REPO}/refs": lambda w: [
        ("GET", f"{_head(w)[0]}/refs", {}),
        ("GET", f"{_tagged(w)}/refs", {"peelTags": "true"}),
    ],
    f"{_REPO}/commits": lambda w: [("GET", f"{_head(w)[0]}/commits", {"searchCriteria.$top": "3"})],
    f"{_REPO}/commits/{{commitId}}": lambda w: [("GET", f"{_head(w)[0]}/commits/{_head(w)[1]}", {"changeCount": "5"})],
    f"{_REPO}/commits/{{commitId}}/changes": lambda w: [("GET", f"{_head(w)[0]}/commits/{_head(w)[1]}/changes", {})],
    f"{_REPO}/diffs/commits": lambda w: [
        ("GET", f"{_head(w)[0]}/diffs/commits", {"baseVersion": _older(w), "baseVersionType": "commit", "$top": "5"}),
    ],
    f"{_REPO}/items": lambda w: [
        ("GET", f"{_head(w)[0]}/items", {"path": "/src/api/module00.py", "includeContent": "true",
                                         "latestProcessedChange": "true", "includeContentMetadata": "true"}),
        ("GET", f"{_head(w)[0]}/items", {"path": "/src", "versionDescriptor.version": _older(w),
                                         "versionDescriptor.versionType": "commit", "$format": "json"}),
        ("GET", f"{_head(w)[0]}/items", {"scopePath": "/", "recursionLevel": "oneLevel", "includeLinks": "true"}),
        ("GET", f"{_head(w)[0]}/items", {"scopePath": "/src", "recursionLevel": "full", "includeContentMetadata": "true",
                                         "latestProcessedChange": "true", "versionDescriptor.version": "main"}),
    ],
    f"{_REPO}/pushes": lambda w: [
        ("GET", f"{_head(w)[0]}/pushes", {"searchCriteria.includeRefUpdates": "true", "searchCriteria.refName": "refs/heads/main"}),
    ],
    f"{_REPO}/pushes/{{pushId}}": lambda w: [("GET", f"{_head(w)[0]}/pushes/{_head(w)[2]}", {"includeRefUpdates": "true"})],
    "{project}/_apis/git/pullrequests": lambda w: [
        ("GET", f"{_project_of(w, _richest(w))}/_apis/git/pullrequests", {"searchCriteria.status": "all"}),
        ("GET", f"{_project_of(w, _richest(w, 'active'))}/_apis/git/pullrequests", {}),
    ],
    "{project?}/_apis/git/pullrequests/{pullRequestId}": lambda w: [
        ("GET", f"{_project_of(w, _richest(w))}/_apis/git/pullrequests/{_richest(w).id}", {}),
        ("GET", f"_apis/git/pullrequests/{_richest(w, 'active').id}", {}),
    ],
    f"{_REPO}/pullrequests": lambda w: [
        ("GET", f"{_repo_path(w, _richest(w, COMPLETED).repository_id)}/pullrequests", {"searchCriteria.status": "completed"}),
        ("GET", f"{_repo_path(w, _richest(w).repository_id)}/pullrequests",
         {"searchCriteria.status": "all", "searchCriteria.includeLinks": "true"}),
    ],
    _PR: lambda w: [
        ("GET", _pr_path(w, _richest(w, COMPLETED)), {"includeCommits": "true", "includeWorkItemRefs": "true"}),
        ("GET", _pr_path(w, _richest(w, "active")), {}),
    ],
    f"{_PR}/reviewers": lambda w: [("GET", f"{_pr_path(w, _richest(w))}/reviewers", {})],
    f"{_PR}/reviewers/{{reviewerId}}": lambda w: [
        ("GET", f"{_pr_path(w, _reviewer(w)[0])}/reviewers/{_reviewer(w)[1]}", {}),
    ],
    f"{_PR}/threads": lambda w: [("GET", f"{_pr_path(w, _richest(w))}/threads", {})],
    f"{_PR}/threads/{{threadId}}": lambda w: [
        ("GET", f"{_pr_path(w, _thread(w, INLINE)[0])}/threads/{_thread(w, INLINE)[1]}", {}),
        ("GET", f"{_pr_path(w, _thread(w, VOTE)[0])}/threads/{_thread(w, VOTE)[1]}", {}),
    ],
    f"{_PR}/threads/{{threadId}}/comments": lambda w: [
        ("GET", f"{_pr_path(w, _thread(w, INLINE)[0])}/threads/{_thread(w, INLINE)[1]}/comments", {}),
    ],
    f"{_PR}/threads/{{threadId}}/comments/{{commentId}}": lambda w: [
        ("GET", f"{_pr_path(w, _thread(w, VOTE)[0])}/threads/{_thread(w, VOTE)[1]}/comments/1", {}),
    ],
    f"{_PR}/iterations": lambda w: [
        ("GET", f"{_pr_path(w, _richest(w, COMPLETED))}/iterations", {"includeCommits": "true"}),
        ("GET", f"{_pr_path(w, _richest(w, 'active'))}/iterations", {}),
    ],
    f"{_PR}/iterations/{{iterationId}}": lambda w: [("GET", f"{_pr_path(w, _richest(w))}/iterations/1", {})],
    f"{_PR}/iterations/{{iterationId}}/changes": lambda w: [
        ("GET", f"{_pr_path(w, _most_commits(w))}/iterations/1/changes", {"$top": "5"}),
    ],
    f"{_PR}/commits": lambda w: [("GET", f"{_pr_path(w, _most_commits(w))}/commits", {})],
    f"{_PR}/workitems": lambda w: [("GET", f"{_pr_path(w, _richest(w))}/workitems", {})],
}

"""Git file-level reads: a commit's changes (``commits/{commitId}/changes``) and the diff between two
versions (``diffs/commits``), over the files ``file_changes`` derives from each commit."""

from __future__ import annotations

from standins.ado_simulator.api.git.file_changes import (
    FileChange,
    change_counts,
    commit_file_changes,
    fold_changes,
    invert,
)
from standins.ado_simulator.api.git.git_bodies import git_change_json
from standins.ado_simulator.api.git.git_routes import route_repository
from standins.ado_simulator.wire.binding import GIT_VERSION_TYPE
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.wire import ApiError, Response, json_response
from standins.ado_simulator.world.git.history import RepoHistory
from standins.ado_simulator.world.model import Repository

__all__ = ["LOCATIONS", "ROUTES", "unresolvable"]

_GIT = "Microsoft.TeamFoundation.Git.Server"
_REPO = "{project?}/_apis/git/repositories/{repositoryId}"
_CODE = "vso.code"
_TEMPLATE = "{project}/_apis/git/repositories/{repositoryId}"
_DEFAULT_TOP = 100

LOCATIONS = (  # the ids Microsoft's clients carry (GitClient.get_commit_diffs, get_changes)
    Location("615588d5-c0c7-4b88-88f8-e625306446e8", "git", "diffs", f"{_TEMPLATE}/diffs/commits", 1, (COLLECTION,)),
    Location("5bf884f5-3e07-42e9-afb8-1b872267bf16", "git", "changes", f"{_TEMPLATE}/commits/{{commitId}}/changes", 1,
             (COLLECTION,)),
)


def unresolvable(kind: str, version: str, repo: Repository) -> ApiError:
    """TF401175, the server's answer to a version (commit, branch, tag) the repository lacks."""
    return ApiError(
        404,
        f"TF401175:The version descriptor <{kind}: {version} > could not be resolved to a version in the repository {repo.name}",
        "GitUnresolvableToCommitException",
        f"{_GIT}.GitUnresolvableToCommitException, {_GIT}",
    )


def _version(req: Request, history: RepoHistory, repo: Repository, which: str) -> str:
    """The commit named by ``{which}Version``/``{which}VersionType`` (default: the default branch)."""
    version = req.query.get(f"{which}Version", f"{which}VersionDescriptor.{which}Version")
    kind = req.query.get_enum(GIT_VERSION_TYPE, f"{which}VersionType", f"{which}VersionDescriptor.{which}VersionType",
                              default="branch")
    if not version:
        head = history.head(repo.default_branch)
        if head is None:
            raise unresolvable("Branch", repo.default_branch, repo)
        return head
    if kind == "commit":
        if history.commit(version.lower()) is None:
            raise unresolvable("Commit", version, repo)
        return version.lower()
    prefix = "refs/heads/" if kind == "branch" else "refs/tags/"
    head = history.resolve(version if version.startswith("refs/") else prefix + version)
    if head is None:
        raise unresolvable(str(kind).capitalize(), version, repo)
    return head


def _page(req: Request, site: Site, top_names: tuple[str, ...], skip_names: tuple[str, ...]) -> tuple[int, int]:
    top = req.query.get_int(*top_names, default=_DEFAULT_TOP)
    skip = req.query.get_int(*skip_names, default=0) or 0
    return site.semantics.capped(_DEFAULT_TOP if top is None else top), skip


def get_commit_changes(site: Site, req: Request) -> Response:
    """GitCommitChanges: ``changeCounts`` over the whole commit, ``changes`` paged by ``top``/``skip``."""
    repo = route_repository(site, req)
    commit_id = req.params["commitId"].lower()
    with site.world.reading(repo.id) as history:
        commit = history.commit(commit_id)
    if commit is None:
        raise unresolvable("Commit", req.params["commitId"], repo)
    top, skip = _page(req, site, ("top", "$top"), ("skip", "$skip"))
    changes = commit_file_changes(commit)
    base = site.repository_url(req, repo)
    body = {"changeCounts": change_counts(changes),
            "changes": [git_change_json(base, commit_id, c) for c in changes[skip : skip + top]]}
    return json_response(body, req.version)


def _merge(ahead: list[FileChange], back: list[FileChange]) -> list[FileChange]:
    """Target's changes plus the undoing of base's own: only edits can share a path, and stay edits."""
    net = {c.path: c for c in back}
    for c in ahead:
        prior = net.get(c.path)
        net[c.path] = c if prior is None else FileChange(c.path, "edit", c.object_id, prior.object_id)
    return [net[p] for p in sorted(net)]


def get_commit_diffs(site: Site, req: Request) -> Response:
    """GitCommitDiffs: the changes from the merge base (``diffCommonCommit``, the default) or from the
    base itself to the target; ``aheadCount``/``behindCount`` the commits only the target/base has."""
    repo = route_repository(site, req)
    common_only = req.query.get_bool("diffCommonCommit", default=True)
    top, skip = _page(req, site, ("$top", "top"), ("$skip", "skip"))
    with site.world.reading(repo.id) as history:
        base_id = _version(req, history, repo, "base")
        target_id = _version(req, history, repo, "target")
        ahead = [history.commits[p] for p in reversed(history.between(target_id, base_id))]
        behind = [history.commits[p] for p in reversed(history.between(base_id, target_id))]
        common = history.merge_base(base_id, target_id)
    changes = fold_changes(ahead)
    if not common_only:
        changes = _merge(changes, invert(fold_changes(behind)))
    url = site.repository_url(req, repo)
    body: dict = {
        "allChangesIncluded": skip + top >= len(changes),
        "changeCounts": {k: v for k, v in change_counts(changes).items() if v},
        "changes": [git_change_json(url, target_id, c) for c in changes[skip : skip + top]],
        "commonCommit": common,
        "baseCommit": base_id,
        "targetCommit": target_id,
        "aheadCount": len(ahead),
        "behindCount": len(behind),
    }
    if common is None:
        del body["commonCommit"]
    return json_response(body, req.version)


ROUTES = (
    Route("GET", (COLLECTION,), f"{_REPO}/commits/{{commitId}}/changes", get_commit_changes, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_REPO}/diffs/commits", get_commit_diffs, scope=_CODE),
)

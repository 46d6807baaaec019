"""Git pull request routes: project and repository lists, one pull request, reviewers, threads and
their comments, iterations, commits and linked work items.

Handlers copy what they need from the domain and the history under the world's lock, then
build JSON outside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.wire.binding import PULL_REQUEST_STATUS, PULL_REQUEST_TIME_RANGE_TYPE
from standins.ado_simulator.api.core.core_routes import CONTINUATION_HEADER, resolve_project
from standins.ado_simulator.world.generate import MAIN
from standins.ado_simulator.api.git.file_changes import fold_changes
from standins.ado_simulator.api.git.git_bodies import commit_ref_json
from standins.ado_simulator.api.git.git_routes import route_repository
from standins.ado_simulator.world.model import Commit, Repository
from standins.ado_simulator.api.git.pr_bodies import (
    PullRequestUrls,
    comment_json,
    iteration_json,
    pull_request_json,
    reviewer_json,
    thread_json,
    work_item_ref,
)
from standins.ado_simulator.world.git.pr_model import ABANDONED, ACTIVE, COMPLETED, PullRequest, Thread
from standins.ado_simulator.world.git.pr_timeline import RefMoves, comments, iterations, merge_commits, pull_request_commits
from standins.ado_simulator.world.git.pull_requests import PullRequests
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.wire import ApiError, Response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS", "LIST_DESCRIPTION_LIMIT"]

_GIT = "Microsoft.TeamFoundation.Git.Server"
_CODE = "vso.code"
_REPO = "{project?}/_apis/git/repositories/{repositoryId}"
_PR = f"{_REPO}/pullRequests/{{pullRequestId}}"
_DEFAULT_TOP, _MAX_TOP = 101, 1000  # the server's page when $top is absent, and its ceiling
LIST_DESCRIPTION_LIMIT = 400  # pull request lists on 7.0 and later cut descriptions to this many characters
_COMMITS_TOP = 100
_STATUSES = {"notset": (ACTIVE,), "active": (ACTIVE,), "abandoned": (ABANDONED,), "completed": (COMPLETED,),
             "all": (ACTIVE, ABANDONED, COMPLETED)}

_TEMPLATE = "{project}/_apis/git/repositories/{repositoryId}/pullRequests/{pullRequestId}"
LOCATIONS = (
    Location("9946fd70-0d40-406e-b686-b4744cbbcc37", "git", "pullRequests", _TEMPLATE, 1, (COLLECTION,)),
    Location("a5d28130-9cd2-40fa-9f08-902e7daa9efb", "git", "pullRequests", "{project}/_apis/git/pullrequests", 1,
             (COLLECTION,)),
    Location("01a46dea-7d46-4d40-bc84-319e7c260d99", "git", "pullRequests",
             "{project}/_apis/git/pullrequests/{pullRequestId}", 1, (COLLECTION,)),
    Location("4b6702c7-aa35-4b89-9c96-b9abf6d3e540", "git", "pullRequestReviewers", f"{_TEMPLATE}/reviewers/{{reviewerId}}",
             1, (COLLECTION,)),
    Location("ab6e2e5d-a0b7-4153-b64a-a4efe0d49449", "git", "pullRequestThreads", f"{_TEMPLATE}/threads/{{threadId}}", 1,
             (COLLECTION,)),
    Location("965a3ec7-5ed8-455a-bdcb-835a5ea7fe7b", "git", "pullRequestThreadComments",
             f"{_TEMPLATE}/threads/{{threadId}}/comments/{{commentId}}", 1, (COLLECTION,)),
    Location("d43911ee-6958-46b0-a42b-8445b8a0d004", "git", "pullRequestIterations",
             f"{_TEMPLATE}/iterations/{{iterationId}}", 1, (COLLECTION,)),
    Location("4216bdcf-b6b1-4d59-8b82-c34cc183fc8b", "git", "pullRequestIterationChanges",
             f"{_TEMPLATE}/iterations/{{iterationId}}/changes", 1, (COLLECTION,)),
    Location("52823034-34a8-4576-922c-8d8b77e9e4c4", "git", "pullRequestCommits", f"{_TEMPLATE}/commits", 1, (COLLECTION,)),
    Location("0a637fcc-5370-4ce8-b0e8-98091f5f9482", "git", "pullRequestWorkItems", f"{_TEMPLATE}/workitems", 1,
             (COLLECTION,)),
)


def _domain(site: Site) -> PullRequests:
    return cast(PullRequests, site.world.domain("pull_requests"))


def _not_found(what: str) -> ApiError:
    return ApiError(404, f"TF401180: The requested {what} was not found.", "GitPullRequestNotFoundException",
                    f"{_GIT}.GitPullRequestNotFoundException, {_GIT}")


def _number(req: Request, name: str) -> int:
    raw = req.params[name]
    if not raw.isdigit():
        raise ApiError.bad_argument(f"The value '{raw}' is not valid for {name}.")
    return int(raw)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """One pull request with what its body needs, copied under the lock."""

    repo: Repository
    pr: PullRequest
    merges: tuple[str, str, str]
    merge_commit: Commit | None

    def json(self, site: Site, req: Request, detail: bool = False, links: bool = False) -> dict:
        return pull_request_json(site, req, self.repo, self.pr, self.merges, self.merge_commit, detail, links)


def _snapshot(site: Site, repo: Repository, pr: PullRequest) -> _Snapshot:
    """Caller holds the lock."""
    with site.world.reading(repo.id) as history:
        merges = merge_commits(history, pr)
        merge_commit = history.commit(merges[2]) if pr.status == COMPLETED else None
    return _Snapshot(repo, pr, merges, merge_commit)


def _repository_pull_request(site: Site, req: Request) -> tuple[Repository, PullRequest]:
    """The route's pull request, which must be in the route's repository. Caller holds the lock."""
    repo = route_repository(site, req)
    pr = _domain(site).get(_number(req, "pullRequestId"))
    if pr is None or pr.repository_id != repo.id:
        raise _not_found("pull request")
    return repo, pr


# -- pull requests ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Criteria:
    """``searchCriteria.*`` of Get Pull Requests (the prefix may be left out)."""

    statuses: tuple[str, ...]
    repository: str
    source_repository: str
    creator: str
    reviewer: str
    source: str
    target: str
    min_time: int | None
    max_time: int | None
    by_closed: bool

    @classmethod
    def from_request(cls, site: Site, req: Request) -> "_Criteria":
        def text(name: str) -> str:
            return (req.query.get(f"searchCriteria.{name}", name) or "").lower()

        status = (req.query.get_enum(PULL_REQUEST_STATUS, "searchCriteria.status", "status") or "active").lower()
        min_time = max_time = None
        by_closed = False
        if site.profile.has("7.1"):  # the date filters only exist in the 7.1 API; older servers ignore them
            min_time = req.query.get_date("searchCriteria.minTime", "minTime")
            max_time = req.query.get_date("searchCriteria.maxTime", "maxTime")
            kind = req.query.get_enum(PULL_REQUEST_TIME_RANGE_TYPE, "searchCriteria.queryTimeRangeType",
                                      "queryTimeRangeType", default="created")
            by_closed = kind == "closed"
        return cls(_STATUSES[status], text("repositoryId"), text("sourceRepositoryId"), text("creatorId"),
                   text("reviewerId"), text("sourceRefName"), text("targetRefName"), min_time, max_time, by_closed)

    def admits(self, pr: PullRequest, site: Site) -> bool:
        people = site.world.people
        if pr.status not in self.statuses:
            return False
        if (self.repository and pr.repository_id != self.repository) or (
                self.source_repository and pr.repository_id != self.source_repository):
            return False
        if self.creator and people[pr.creator].id != self.creator:
            return False
        if self.reviewer and all(people[r.person].id != self.reviewer for r in pr.reviewers):
            return False
        if (self.source and pr.source.lower() != self.source) or (self.target and self.target != MAIN):
            return False
        when = pr.closed if self.by_closed else pr.created
        if (self.min_time is not None or self.max_time is not None) and not when:
            return False
        return (self.min_time is None or when >= self.min_time) and (self.max_time is None or when <= self.max_time)


def _list(site: Site, req: Request, repos: tuple[Repository, ...]) -> Response:
    criteria = _Criteria.from_request(site, req)
    top = min(req.query.get_int("$top", "top", default=_DEFAULT_TOP) or 0, _MAX_TOP)
    skip = req.query.get_int("$skip", "skip", default=0) or 0
    by_id = {repo.id: repo for repo in repos}
    with site.world.lock:
        found = [pr for pr in _domain(site).of_repositories(by_id) if criteria.admits(pr, site)]
        page = [_snapshot(site, by_id[pr.repository_id], pr) for pr in found[skip : skip + top]]
    links = req.query.get_bool("searchCriteria.includeLinks", "includeLinks")
    bodies = [s.json(site, req, links=links) for s in page]
    if site.profile.has("7.0"):
        # git/azure-devops-server-{7.0,7.1}/git-onprem.json, both Get Pull Requests operations: "Please note
        # that description field will be truncated up to 400 symbols in the result." (5.0 and 6.0 say nothing:
        # full text.) The single pull request GET has the whole description.
        for body in bodies:
            if len(body.get("description") or "") > LIST_DESCRIPTION_LIMIT:
                body["description"] = body["description"][:LIST_DESCRIPTION_LIMIT]
    return list_response(bodies, req.version)


def list_project_pull_requests(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"])
    return _list(site, req, site.world.project_repositories(project.id))


def list_repository_pull_requests(site: Site, req: Request) -> Response:
    return _list(site, req, (route_repository(site, req),))


def _single(site: Site, req: Request, repo: Repository, pr: PullRequest) -> Response:
    """Caller holds the lock."""
    snapshot = _snapshot(site, repo, pr)
    body = snapshot.json(site, req, detail=True)
    if req.query.get_bool("includeCommits"):
        body["commits"] = _commit_refs(site, req, repo, pr)
    if req.query.get_bool("includeWorkItemRefs"):
        body["workItemRefs"] = [work_item_ref(PullRequestUrls.of(site, req, repo, pr), w) for w in pr.work_items]
    return json_response(body, req.version)


def get_pull_request(site: Site, req: Request) -> Response:
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
        return _single(site, req, repo, pr)


def get_pull_request_by_id(site: Site, req: Request) -> Response:
    project = resolve_project(site, req.params["project"]) if "project" in req.params else None
    with site.world.lock:
        pr = _domain(site).get(_number(req, "pullRequestId"))
        repo = site.world.repository(pr.repository_id, project) if pr is not None else None
        if pr is None or repo is None:
            raise _not_found("pull request")
        return _single(site, req, repo, pr)


# -- reviewers, threads, comments ---------------------------------------------------------


def list_reviewers(site: Site, req: Request) -> Response:
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
    urls = PullRequestUrls.of(site, req, repo, pr)
    return list_response([reviewer_json(site, req, urls, r) for r in pr.reviewers], req.version)


def get_reviewer(site: Site, req: Request) -> Response:
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
    wanted = req.params["reviewerId"].lower()
    reviewer = next((r for r in pr.reviewers if site.world.people[r.person].id == wanted), None)
    if reviewer is None:
        raise _not_found(f"reviewer {req.params['reviewerId']}")
    return json_response(reviewer_json(site, req, PullRequestUrls.of(site, req, repo, pr), reviewer), req.version)


def _threads(site: Site, req: Request, repo: Repository, pr: PullRequest, threads: tuple[Thread, ...]) -> list[dict]:
    """Threads with their comments; an inline thread names the iteration it was written on. Caller holds the lock."""
    urls = PullRequestUrls.of(site, req, repo, pr)
    names = tuple(p.display_name for p in site.world.people)
    domain = _domain(site)
    with site.world.reading(repo.id) as history:
        moves = RefMoves(history)
    return [
        thread_json(site, req, urls, domain.seed, t, comments(domain.seed, t, pr, names),
                    1 + moves.count_between(pr.source, pr.created, t.published))
        for t in threads
    ]


def _thread(req: Request, pr: PullRequest) -> Thread:
    wanted = _number(req, "threadId")
    thread = next((t for t in pr.threads if t.id == wanted), None)
    if thread is None:
        raise _not_found(f"thread {wanted}")
    return thread


def list_threads(site: Site, req: Request) -> Response:
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
        body = _threads(site, req, repo, pr, pr.threads)
    return list_response(body, req.version)


def get_thread(site: Site, req: Request) -> Response:
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
        body = _threads(site, req, repo, pr, (_thread(req, pr),))[0]
    return json_response(body, req.version)


def _comments(site: Site, req: Request) -> tuple[PullRequestUrls, Thread, list]:
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
        thread = _thread(req, pr)
    names = tuple(p.display_name for p in site.world.people)
    return PullRequestUrls.of(site, req, repo, pr), thread, comments(_domain(site).seed, thread, pr, names)


def list_comments(site: Site, req: Request) -> Response:
    urls, thread, found = _comments(site, req)
    return list_response([comment_json(site, req, urls, thread, c) for c in found], req.version)


def get_comment(site: Site, req: Request) -> Response:
    urls, thread, found = _comments(site, req)
    wanted = _number(req, "commentId")
    comment = next((c for c in found if c.id == wanted), None)
    if comment is None:
        raise _not_found(f"comment {wanted}")
    return json_response(comment_json(site, req, urls, thread, comment), req.version)


# -- iterations, commits, work items ------------------------------------------------------


def _iterations(site: Site, req: Request, only: int | None = None) -> list[dict]:
    include = req.query.get_bool("includeCommits")
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
        urls = PullRequestUrls.of(site, req, repo, pr)
        base, remote = urls.repository, site.remote_url(req, repo)
        with site.world.reading(repo.id) as history:
            found = iterations(history, RefMoves(history), pr, site.world.clock)
            if only is not None:
                found = [i for i in found if i.number == only]
                if not found:
                    raise _not_found(f"iteration {only}")
            bodies = []
            previous = ""
            for iteration in found:
                common = history.merge_base(iteration.source_commit, iteration.target_commit) or iteration.target_commit
                commits = None
                if include:
                    exclude = previous or iteration.target_commit
                    positions = history.log(iteration.source_commit, exclude)
                    commits = [commit_ref_json(site, history.commits[p], base, remote) for p in positions]
                bodies.append(iteration_json(site, req, urls, pr, iteration, common, commits))
                previous = iteration.source_commit
    return bodies


def list_iterations(site: Site, req: Request) -> Response:
    return list_response(_iterations(site, req), req.version)


def get_iteration(site: Site, req: Request) -> Response:
    return json_response(_iterations(site, req, _number(req, "iterationId"))[0], req.version)


def list_iteration_changes(site: Site, req: Request) -> Response:
    """GitPullRequestIterationChanges: the net file changes (``file_changes``) of the commits the iteration's
    source has beyond its merge base with the target, or beyond iteration ``$compareTo``'s source.
    ``changeId``/``changeTrackingId`` number the full list from 1; ``nextSkip``/``nextTop`` 0 at the end."""
    wanted = _number(req, "iterationId")
    compare_to = req.query.get_int("$compareTo", "compareTo", default=0) or 0
    top = req.query.get_int("$top", "top", default=100)
    top = 100 if top is None else top
    skip = req.query.get_int("$skip", "skip", default=0) or 0
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
        with site.world.reading(repo.id) as history:
            found = {i.number: i for i in iterations(history, RefMoves(history), pr, site.world.clock)}
            iteration = found.get(wanted)
            if iteration is None:
                raise _not_found(f"iteration {wanted}")
            if compare_to and compare_to not in found:
                raise _not_found(f"iteration {compare_to}")
            source = iteration.source_commit
            exclude = (found[compare_to].source_commit if compare_to
                       else history.merge_base(source, iteration.target_commit) or iteration.target_commit)
            commits = [history.commits[p] for p in reversed(history.between(source, exclude))]
    changes = fold_changes(commits)
    entries = []
    for number, change in enumerate(changes[skip : skip + top], start=skip + 1):
        item = {"objectId": change.object_id}
        if change.original_object_id:
            item["originalObjectId"] = change.original_object_id
        item["path"] = change.path
        entries.append({"changeTrackingId": number, "changeId": number, "item": item, "changeType": change.change_type})
    more = skip + top < len(changes)
    body = {"changeEntries": entries, "nextSkip": skip + top if more else 0, "nextTop": top if more else 0}
    return json_response(body, req.version)


def _commit_refs(site: Site, req: Request, repo: Repository, pr: PullRequest) -> list[dict]:
    """The pull request's commits, newest first. Caller holds the lock."""
    base, remote = site.repository_url(req, repo), site.remote_url(req, repo)
    with site.world.reading(repo.id) as history:
        return [commit_ref_json(site, history.commits[p], base, remote) for p in pull_request_commits(history, pr)]


def list_pull_request_commits(site: Site, req: Request) -> Response:
    """All commits on 5.0 (no paging parameters); from 6.0 ``$top`` pages with a continuation token header."""
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
        commits = _commit_refs(site, req, repo, pr)
    if not site.profile.has("6.0"):
        return list_response(commits, req.version)
    top = req.query.get_int("$top", "top", default=_COMMITS_TOP) or _COMMITS_TOP
    token = req.query.get("continuationToken")
    if token and not token.isdigit():
        raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.")
    start = int(token) if token else 0
    headers: tuple[tuple[str, str], ...] = ()
    if start + top < len(commits):
        headers = ((CONTINUATION_HEADER, str(start + top)),)
    return list_response(commits[start : start + top], req.version, headers)


def list_work_items(site: Site, req: Request) -> Response:
    with site.world.lock:
        repo, pr = _repository_pull_request(site, req)
    urls = PullRequestUrls.of(site, req, repo, pr)
    return list_response([work_item_ref(urls, w) for w in pr.work_items], req.version)


ROUTES = (
    Route("GET", (COLLECTION,), "{project}/_apis/git/pullrequests", list_project_pull_requests, scope=_CODE),
    Route("GET", (COLLECTION,), "{project?}/_apis/git/pullrequests/{pullRequestId}", get_pull_request_by_id, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_REPO}/pullrequests", list_repository_pull_requests, scope=_CODE),
    Route("GET", (COLLECTION,), _PR, get_pull_request, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/reviewers", list_reviewers, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/reviewers/{{reviewerId}}", get_reviewer, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/threads", list_threads, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/threads/{{threadId}}", get_thread, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/threads/{{threadId}}/comments", list_comments, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/threads/{{threadId}}/comments/{{commentId}}", get_comment, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/iterations", list_iterations, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/iterations/{{iterationId}}", get_iteration, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/iterations/{{iterationId}}/changes", list_iteration_changes, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/commits", list_pull_request_commits, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_PR}/workitems", list_work_items, scope=_CODE),
)

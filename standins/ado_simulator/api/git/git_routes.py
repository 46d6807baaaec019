"""Git area: repositories, refs (branches and tags), commits and pushes (``{project?}/_apis/git/...``)."""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, replace

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.wire.binding import GIT_VERSION_TYPE
from standins.ado_simulator.api.core.core_routes import CONTINUATION_HEADER, resolve_project
from standins.ado_simulator.api.git.git_bodies import (
    commit_json,
    commit_ref_json,
    git_change_json,
    push_json,
    push_ref,
    ref_json,
    repository_json,
    tag_ref_json,
    repository_links,
)
from standins.ado_simulator.api.git.file_changes import commit_file_changes
from standins.ado_simulator.world.git.history import RepoHistory
from standins.ado_simulator.world.model import Commit, Person, Push, Ref, Repository
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.wire import ORIGIN, ApiError, Response, fragment, fragments_response, json_response, list_response

__all__ = ["ROUTES", "LOCATIONS", "CommitFilter", "route_repository"]

_GIT = "Microsoft.TeamFoundation.Git.Server"
_REPO = "{project?}/_apis/git/repositories/{repositoryId}"
_CODE = "vso.code"
_MAX_REF_PAGE = 1000

_TEMPLATE = "{project}/_apis/git/repositories/{repositoryId}"
LOCATIONS = (  # route templates: the spec paths without "/{collection}/", optional segments kept
    Location("225f7195-f9c7-4d14-ab28-a83f7ff77e1f", "git", "repositories", _TEMPLATE, 1, (COLLECTION,)),
    Location("2d874a60-a811-4f62-9c9f-963a6ea0a55b", "git", "refs", f"{_TEMPLATE}/refs", 1, (COLLECTION,)),
    Location("c2570c3b-5b3f-41b8-98bf-5407bfde8d58", "git", "commits", f"{_TEMPLATE}/commits/{{commitId}}", 1, (COLLECTION,)),
    Location("ea98d07b-3c87-4971-8ede-a613694ffb55", "git", "pushes", f"{_TEMPLATE}/pushes/{{pushId}}", 2, (COLLECTION,)),
)


# -- lookups -----------------------------------------------------------------------------


def route_repository(site: Site, req: Request) -> Repository:
    """The route's repository (by id, or by name within the route's project), or TF401019."""
    project = resolve_project(site, req.params["project"]) if "project" in req.params else None
    key = req.params["repositoryId"]
    repo = site.world.repository(key, project)
    if repo is None:
        raise ApiError(
            404,
            f"TF401019: The Git repository with name or identifier {key} does not exist or you do not have"
            " permissions for the operation you are attempting.",
            "GitRepositoryNotFoundException",
            f"{_GIT}.GitRepositoryNotFoundException, {_GIT}",
        )
    return repo


def _unresolvable(kind: str, version: str, repo: Repository) -> ApiError:
    return ApiError(
        404,
        f"TF401175:The version descriptor <{kind}: {version} > could not be resolved to a version in the repository {repo.name}",
        "GitUnresolvableToCommitException",
        f"{_GIT}.GitUnresolvableToCommitException, {_GIT}",
    )


def _criteria(req: Request, name: str) -> str | None:
    """A ``searchCriteria.X`` parameter, which may also be sent as plain ``X``."""
    return req.query.get(f"searchCriteria.{name}", name)


def _resolve(req: Request, history: RepoHistory, repo: Repository, which: str) -> str | None:
    """Commit id named by ``searchCriteria.{which}.version``/``.versionType`` (None when absent)."""
    version = _criteria(req, f"{which}.version")
    if version is None or version == "":
        return None
    kind = req.query.get_enum(GIT_VERSION_TYPE, f"searchCriteria.{which}.versionType", f"{which}.versionType",
                              default="branch")
    if kind == "commit":
        if history.commit(version.lower()) is None:
            raise _unresolvable("Commit", version, repo)
        return version.lower()
    if kind in ("branch", "tag"):
        prefix = "refs/heads/" if kind == "branch" else "refs/tags/"
        head = history.resolve(version if version.startswith("refs/") else prefix + version)
        if head is None:
            raise _unresolvable(kind.capitalize(), version, repo)
        return head
    raise ApiError.bad_argument(f"The version type '{kind}' is not valid. Use branch, tag or commit.")


# -- handlers ----------------------------------------------------------------------------


def list_repositories(site: Site, req: Request) -> Response:
    world = site.world
    if "project" in req.params:
        repos = world.project_repositories(resolve_project(site, req.params["project"]).id)
    else:
        repos = world.repositories
    links = req.query.get_bool("includeLinks")
    items = []
    for repo in sorted(repos, key=lambda r: r.name.lower()):
        body = repository_json(site, req, repo)
        if links:
            body["_links"] = repository_links(site, req, repo)
        items.append(body)
    return list_response(items, req.version)


def get_repository(site: Site, req: Request) -> Response:
    repo = route_repository(site, req)
    body = repository_json(site, req, repo)
    body["_links"] = repository_links(site, req, repo)
    return json_response(body, req.version)


def _encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError.bad_argument(f"The continuation token '{token}' is not valid.") from None


def list_refs(site: Site, req: Request) -> Response:
    repo = route_repository(site, req)
    query = req.query
    prefix = query.get("filter") or ""
    if prefix and not prefix.startswith("refs/"):
        prefix = "refs/" + prefix
    contains = (query.get("filterContains") or "").lower()
    top = query.get_int("$top", default=None) or None
    token = query.get("continuationToken")
    peel = query.get_bool("peelTags")
    with site.world.reading(repo.id) as history:
        names = [n for n in history.all_ref_names if n.startswith(prefix) and contains in n.lower()]
        start = 0
        if token:
            after = _decode_token(token)
            start = next((i for i, n in enumerate(names) if n >= after), len(names))
        size = min(top if top is not None else (100 if token else len(names)), _MAX_REF_PAGE)
        page = [history.refs.get(n) or history.tags[n] for n in names[start : start + size]]
    headers: tuple[tuple[str, str], ...] = ()
    if start + size < len(names):
        headers = ((CONTINUATION_HEADER, _encode_token(names[start + size])),)
    base = site.repository_url(req, repo)
    items = [ref_json(site, req, base, ref) if isinstance(ref, Ref) else tag_ref_json(site, req, base, ref, peel)
             for ref in page]
    return list_response(items, req.version, headers)


@dataclass(frozen=True, slots=True)
class CommitFilter:
    """The Get Commits criteria that filter rather than select (dates, people, id bounds)."""

    since: int | None
    until: int | None
    author: str
    committer: str
    low: str
    high: str

    @classmethod
    def from_request(cls, req: Request) -> "CommitFilter":
        def text(name: str) -> str:
            return (_criteria(req, name) or "").lower()

        query = req.query
        start = query.get_datetime("searchCriteria.fromDate", "fromDate")
        since = None if start is None else math.ceil(start.timestamp())  # a commit a fraction before is out
        until = query.get_date("searchCriteria.toDate", "toDate")
        return cls(since, until, text("author"), text("user"), text("fromCommitId"), text("toCommitId"))

    @property
    def active(self) -> bool:
        return self != _NO_FILTER

    def admits(self, commit: Commit, people: tuple[Person, ...]) -> bool:
        return (
            (self.since is None or commit.commit_time >= self.since)
            and (self.until is None or commit.commit_time <= self.until)
            and (not self.low or commit.commit_id >= self.low)
            and (not self.high or commit.commit_id <= self.high)
            and (not self.author or _names(people[commit.author], self.author))
            and (not self.committer or _names(people[commit.committer], self.committer))
        )


_NO_FILTER = CommitFilter(None, None, "", "", "", "")


def _names(person: Person, text: str) -> bool:
    return text in person.display_name.lower() or text in person.email.lower() or text in person.unique_name.lower()


def list_commits(site: Site, req: Request) -> Response:
    """Get Commits (``git log compare..item``, newest first), or Get Push Commits when ``pushId`` is given.

    ``$top`` is capped by ``semantics.page_cap`` when set: git/azure-devops-server-*/git-onprem.json says of
    ``searchCriteria.$top`` only "Maximum number of entries to retrieve" and documents no ceiling, so a
    server may answer a short page that is not the end (a $top/$skip list has no other end marker)."""
    repo = route_repository(site, req)
    query = req.query
    push_id = query.get_int("pushId", default=None)
    if push_id is not None:
        return _push_commits(site, req, repo, push_id)
    top = site.semantics.capped(query.get_int("searchCriteria.$top", "$top", "top", "searchCriteria.top", default=100) or 0)
    skip = query.get_int("searchCriteria.$skip", "$skip", "skip", "searchCriteria.skip", default=0) or 0
    criteria = CommitFilter.from_request(req)
    ids = [i.strip().lower() for raw in query.get_all("searchCriteria.ids") + query.get_all("ids") for i in raw.split(",")]
    ids = [i for i in ids if i]
    oldest_first = query.get_bool("searchCriteria.showOldestCommitsFirst", "showOldestCommitsFirst")
    with site.world.reading(repo.id) as history:
        if ids:
            commits = [c for c in (history.commit(i) for i in ids) if c is not None]
        else:
            head = None if oldest_first else _resolve(req, history, repo, "itemVersion")
            exclude = None if oldest_first else _resolve(req, history, repo, "compareVersion")
            head = head or history.head(repo.default_branch)
            positions = history.log(head, exclude) if head else ()
            if oldest_first:
                positions = positions[::-1]
            if not criteria.active:  # page before materialising
                positions = positions[skip : skip + top]
                skip = 0
            commits = [history.commits[p] for p in positions]
    if criteria.active:
        commits = [c for c in commits if criteria.admits(c, site.world.people)]
    return _commits_response(site, req, repo, commits[skip : skip + top])


def _commits_response(site: Site, req: Request, repo: Repository, commits: list[Commit]) -> Response:
    if req.query.get_bool("searchCriteria.includePushData", "includePushData"):
        return list_response(_commit_refs(site, req, repo, commits), req.version)
    cache = site.fragments
    template = replace(req, origin=ORIGIN)
    base, remote = site.repository_url(template, repo), site.remote_url(template, repo)
    parts = []
    for commit in commits:
        key = ("commit", repo.id, commit.commit_id)
        text = cache.get(key)
        if text is None:
            text = fragment(commit_ref_json(site, commit, base, remote))
            cache.put(key, text)
        parts.append(text)
    return fragments_response(parts, req.version, req.origin)


def _commit_refs(site: Site, req: Request, repo: Repository, commits: list[Commit]) -> list[dict]:
    base, remote = site.repository_url(req, repo), site.remote_url(req, repo)
    items = [commit_ref_json(site, c, base, remote) for c in commits]
    if req.query.get_bool("searchCriteria.includePushData", "includePushData"):
        with site.world.reading(repo.id) as history:
            pushes = [history.pushes[c.push_id - 1] for c in commits]
        for item, push in zip(items, pushes):
            item["push"] = push_ref(site, req, push)
    return items


def _push_commits(site: Site, req: Request, repo: Repository, push_id: int) -> Response:
    top = site.semantics.capped(req.query.get_int("top", "$top", default=100) or 0)
    skip = req.query.get_int("skip", "$skip", default=0) or 0
    with site.world.reading(repo.id) as history:
        push = _find_push(history, push_id)
        commits = [history.commit(i) for i in reversed(push.commit_ids)]
    return _commits_response(site, req, repo, [c for c in commits if c is not None][skip : skip + top])


def get_commit(site: Site, req: Request) -> Response:
    repo = route_repository(site, req)
    commit_id = req.params["commitId"].lower()
    with site.world.reading(repo.id) as history:
        commit = history.commit(commit_id)
        if commit is None:
            raise _unresolvable("Commit", req.params["commitId"], repo)
        push = history.pushes[commit.push_id - 1]
    body = commit_json(site, req, repo, commit, push)
    count = req.query.get_int("changeCount", default=0) or 0
    if count:  # the first changes of the commit, as commits/{commitId}/changes lists them
        base = site.repository_url(req, repo)
        body["changes"] = [git_change_json(base, commit.commit_id, c) for c in commit_file_changes(commit)[:count]]
    return json_response(body, req.version)


def _find_push(history: RepoHistory, push_id: int) -> Push:
    if not 1 <= push_id <= len(history.pushes):
        raise ApiError(404, f"TF401180: The requested push {push_id} could not be found.", "GitPushNotFoundException",
                       f"{_GIT}.GitPushNotFoundException, {_GIT}")
    return history.pushes[push_id - 1]


def list_pushes(site: Site, req: Request) -> Response:
    repo = route_repository(site, req)
    query = req.query
    top = site.semantics.capped(query.get_int("$top", "top", default=100) or 0)
    skip = query.get_int("$skip", "skip", default=0) or 0
    since = query.get_date("searchCriteria.fromDate", "fromDate")
    until = query.get_date("searchCriteria.toDate", "toDate")
    pusher = (_criteria(req, "pusherId") or "").lower()
    ref_name = _criteria(req, "refName")
    ref_updates = query.get_bool("searchCriteria.includeRefUpdates", "includeRefUpdates")
    people = site.world.people
    with site.world.reading(repo.id) as history:
        pushes = history.pushes[::-1]
    if since is not None or until is not None or pusher or ref_name:
        pushes = [
            p for p in pushes
            if (since is None or p.time >= since)
            and (until is None or p.time <= until)
            and (not pusher or people[p.pusher].id == pusher)
            and (not ref_name or any(u.name == ref_name for u in p.ref_updates))
        ]
    cache = site.fragments
    template = replace(req, origin=ORIGIN)
    parts = []
    for push in pushes[skip : skip + top]:
        key = ("push", repo.id, push.push_id, ref_updates)
        text = cache.get(key)
        if text is None:
            text = fragment(push_json(site, template, repo, push, ref_updates))
            cache.put(key, text)
        parts.append(text)
    return fragments_response(parts, req.version, req.origin)


def get_push(site: Site, req: Request) -> Response:
    repo = route_repository(site, req)
    raw = req.params["pushId"]
    if not raw.isdigit():
        raise ApiError.bad_argument(f"The value '{raw}' is not valid for pushId.")
    include = req.query.get_int("includeCommits", default=0) or 0
    with site.world.reading(repo.id) as history:
        push = _find_push(history, int(raw))
        commits = [c for c in (history.commit(i) for i in reversed(push.commit_ids)) if c is not None][:include]
    body = {"commits": _commit_refs(site, req, repo, commits)}
    body.update(push_json(site, req, repo, push, req.query.get_bool("includeRefUpdates")))
    base = site.repository_url(req, repo)
    body["_links"] = {
        "self": {"href": body["url"]},
        "repository": {"href": base},
        "commits": {"href": f"{body['url']}/commits"},
        "pusher": {"href": body["pushedBy"]["url"]},
    }
    return json_response(body, req.version)


ROUTES = (
    Route("GET", (COLLECTION,), "{project?}/_apis/git/repositories", list_repositories, scope=_CODE),
    Route("GET", (COLLECTION,), _REPO, get_repository, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_REPO}/refs", list_refs, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_REPO}/commits", list_commits, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_REPO}/commits/{{commitId}}", get_commit, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_REPO}/pushes", list_pushes, scope=_CODE),
    Route("GET", (COLLECTION,), f"{_REPO}/pushes/{{pushId}}", get_push, scope=_CODE),
)

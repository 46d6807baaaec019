"""Git streams: repositories, refs, pushes and commits.

Per repository, the refs are listed once per run (one request for a repository where nothing
happened): the refs stream delivers what changed, and pushes and commits read only when the
refs moved, because every push moves a ref.

Commits: the cursor is the set of branch heads already delivered. For every branch that moved,
the stream asks for the commits reachable from the new head but not from the old one
(``itemVersion`` = new head, ``compareVersion`` = old head, both pinned as commit ids so paging is
stable while people push). A new branch is compared with the default branch. Commits are
immutable: keys already stored are never sent again (a merge reaches old commits again).

Pull requests change after creation, so each run reads: the PRs created since the last run
(newest first, ``status=all``, until the highest id delivered), every PR still active, and every
PR that was active last run and is not any more (closed since). A PR is delivered again only
when its JSON or its threads changed, so an open PR where nothing happened costs one request
(its threads). Iterations (``includeCommits``: the PR's commits come with them, no request more)
and work item links are read with every change of the PR itself (a push, a vote, a status change):
a link added to an open PR with no other change arrives when the PR next changes or closes. A
completed or abandoned PR is not read again, so its commits never change after.

On 7.0+ both PR lists cut descriptions (git 7.0/7.1 Get Pull Requests: "Please note that
description field will be truncated up to 400 symbols in the result."; 5.0 and 6.0 say nothing of
it). A PR about to be delivered whose listed description may be cut (400 characters or more) is
read alone (Get Pull Request has the whole text) and that object is delivered. There is no batch
read by id: the only other PR route taking a body, ``POST .../pullrequestquery`` (Pull Request
Query - Get), finds PRs by commit, so it is one GET per such PR, and only when the PR changed.
Change detection still hashes the listed object: an edit beyond the first 400 characters alone
is not seen until something else of the PR changes.
"""

from __future__ import annotations

from itertools import chain
from typing import Iterator, Mapping

from satellite.ado.client import segment
from satellite.ado.paging import (
    SERVER_CAPS,
    NewestFirst,
    Page,
    TokenHeader,
    TopSkip,
    items,
)
from satellite.errors import AdoNotFoundError
from satellite.streams.base import (
    IncrementalStream,
    KeyFormat,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    UnreadableItem,
    content_hash,
    nested,
    trim,
    upsert,
)
from satellite.streams.cursors import (
    BranchHeads,
    OpenPullRequest,
    PullRequestsCursor,
    PushesCursor,
)

__all__ = ["CommitsStream", "PullRequestsStream", "PushesStream", "RefsStream", "RepositoriesStream", "moved_repositories"]

HEADS = "refs/heads/"


def repository_path(repository: dict) -> str:
    return f"{segment(repository['project']['id'])}/_apis/git/repositories/{segment(repository['id'])}"


class RepositoriesStream(SnapshotStream):
    """Git repositories of a project. A repository no longer listed is deleted only if, asked alone by
    id, it answers 404 or is still in this project (left out by the scope): one moved to another
    project (same id) is listed and delivered there, never deleted here. A deleted repository takes
    its refs, pushes, commits and pull requests along (``nested_types``: keyed ``<repository id>:...``)."""

    name = "git.repositories"
    record_type = "git.repository"
    nested_types = ("git.ref", "git.push", "git.commit", "git.pull_request", "git.pull_request_reviewer",
                    "git.pull_request_thread", "git.pull_request_iteration", "git.pull_request_work_item",
                    "git.pull_request_commit")
    key_format = KeyFormat("{repositoryId}", {"repositoryId": "id"})
    service = "repos"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        return ctx.client.get_list(f"{segment(parent['id'])}/_apis/git/repositories", {"includeHidden": "true"})

    def diff(self, ctx: StreamContext, parent: dict | None, items: list[dict]) -> Iterator[StreamItem]:
        changes = list(super().diff(ctx, parent, items))
        deletes = [c for c in changes if isinstance(c, Record) and c.op == "delete"]
        if not deletes:
            yield from changes
            return
        moved = moved_repositories(ctx, parent["id"] if parent else "", [d.key for d in deletes])
        yield from (c for c in changes if not (isinstance(c, Record) and c.op == "delete" and c.key in moved))


def moved_repositories(ctx: StreamContext, project_id: str, ids: list[str]) -> set[str]:
    """Of these repository ids, those that answer alone (by id, at the collection) in another project."""
    alone = ctx.client.get_many((f"_apis/git/repositories/{segment(i)}" for i in ids), missing_ok=True)
    return {i for i, repo in zip(ids, alone) if repo is not None and (repo.get("project") or {}).get("id") != project_id}


class RefsStream(SnapshotStream):
    """Branches and tags of a repository; a deleted ref becomes ``op: delete``."""

    name = "git.refs"
    record_type = "git.ref"
    key_format = KeyFormat("{repositoryId}:{refName}", {"refName": "name"}, parent="repositoryId")
    service = "repos"
    scope = Scope.REPOSITORY

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        pages = ctx.client.pages(f"{repository_path(parent)}/refs", TokenHeader(ctx.page_sizes.refs), {"peelTags": "true"})
        # a ref without a name is kept: the diff quarantines it (and deletes nothing from that listing)
        return [ref for ref in items(pages) if not isinstance(ref.get("name"), str) or ref["name"].startswith(("refs/heads/", "refs/tags/"))]


def pull_request_path(project_id: str, pr: dict) -> str:
    return f"{segment(project_id)}/_apis/git/repositories/{segment(pr['repository']['id'])}/pullRequests/{pr['pullRequestId']}"


def _listed_refs(ctx: StreamContext, repository: dict) -> list[dict]:
    """The refs listed (a nameless one, quarantined by the refs stream, left out)."""
    refs = ctx.listed.get(RefsStream.name)
    refs = refs if refs is not None else RefsStream().list(ctx, repository)
    return [r for r in refs if isinstance(r.get("name"), str) and isinstance(r.get("objectId"), str)]


def _refs_fingerprint(refs: list[dict]) -> str:
    return content_hash(sorted((r["name"], r["objectId"]) for r in refs))


class PushesStream(IncrementalStream):
    """Pushes of a repository, newest first until the last delivered push id; none asked for
    while no ref moved."""

    name = "git.pushes"
    record_type = "git.push"
    key_format = KeyFormat("{repositoryId}:{pushId}", parent="repositoryId")
    cursor = PushesCursor
    service = "repos"
    scope = Scope.REPOSITORY
    immutable = True

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: PushesCursor) -> Iterator[StreamItem]:
        fingerprint = _refs_fingerprint(_listed_refs(ctx, parent))
        if fingerprint == cursor.refs:
            return
        newest = cursor.push_id
        walk = NewestFirst(TopSkip(ctx.page_sizes.pushes, cap=SERVER_CAPS["git.pushes"].cap), "pushId", known=cursor.walk_to)
        pages = ctx.client.pages(f"{repository_path(parent)}/pushes", walk, {"searchCriteria.includeRefUpdates": "true"})
        for push in items(pages):
            newest = max(newest, push["pushId"])
            yield self.upsert_of(ctx, push, parent)  # one delivered before (above the floor): dropped as known
        # the next walk reads down to this walk's start (a first walk: its own top, nothing below it to wait for)
        yield PushesCursor(newest, fingerprint, cursor.push_id or newest).checkpoint()


class CommitsStream(IncrementalStream):
    """Commits of a repository, with change counts."""

    name = "git.commits"
    record_type = "git.commit"
    key_format = KeyFormat("{repositoryId}:{commitId}", parent="repositoryId")
    cursor = BranchHeads
    service = "repos"
    scope = Scope.REPOSITORY
    immutable = True  # a commit id names its content

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: BranchHeads) -> Iterator[StreamItem]:
        delivered = cursor.heads
        current = {r["name"]: r["objectId"] for r in _listed_refs(ctx, parent) if r["name"].startswith(HEADS)}
        if current == delivered:
            return
        default = parent.get("defaultBranch")
        heads = {name: sha for name, sha in delivered.items() if name in current}
        known_heads = set(delivered.values())
        for branch in sorted(current, key=lambda name: (name != default, name)):
            new_head, old_head = current[branch], delivered.get(branch)
            if new_head == old_head:
                continue
            if new_head not in known_heads:
                compare = old_head or (heads.get(default) if default and branch != default else None)
                yield from self._commits_between(ctx, parent, new_head, compare)
            heads[branch] = new_head
            known_heads.add(new_head)
            yield BranchHeads(heads).checkpoint()
        if heads != current or set(delivered) - set(current):
            yield BranchHeads(heads).checkpoint()

    def _commits_between(self, ctx: StreamContext, repository: dict, head: str, compare: str | None) -> Iterator[Record]:
        params = {"searchCriteria.itemVersion.version": head, "searchCriteria.itemVersion.versionType": "commit"}
        if compare:
            params |= {"searchCriteria.compareVersion.version": compare, "searchCriteria.compareVersion.versionType": "commit"}
        walk = TopSkip(ctx.page_sizes.commits, "searchCriteria.$top", "searchCriteria.$skip", cap=SERVER_CAPS["git.commits"].cap)
        try:
            for commit in items(ctx.client.pages(f"{repository_path(repository)}/commits", walk, params)):
                yield self.upsert_of(ctx, commit, repository)
        except AdoNotFoundError:
            if compare is None:
                raise
            # The old head is gone (force-push + garbage collection): read the branch in full.
            yield from self._commits_between(ctx, repository, head, None)


class PullRequestsStream(IncrementalStream):
    """Pull requests of a project with their reviewers, threads, iterations and linked work items."""

    name = "git.pull_requests"
    record_type = "git.pull_request"
    also_emits = ("git.pull_request_reviewer", "git.pull_request_thread", "git.pull_request_iteration",
                  "git.pull_request_work_item", "git.pull_request_commit")
    nested_types = also_emits
    key_format = KeyFormat("{repositoryId}:{pullRequestId}", {"repositoryId": "repository.id"})
    cursor = PullRequestsCursor
    # A read from no cursor walks the project's PRs of every status newest first down to id 0 (all of
    # them; no backfill start) and every active one. ``$top/$skip`` pages shift when a PR ahead of the
    # walk goes (its repository deleted), so a live PR can be stepped over: each PR not met is asked
    # for alone (``gone``; the key holds its repository): only a 404 deletes it. Reviewers, threads,
    # iterations and links (children) are not reconciled.
    reconciled = ("git.pull_request",)
    service = "repos"
    scope = Scope.PROJECT
    CHUNK = 100  # PRs whose threads, iterations and links are read and held at a time

    def gone(self, ctx: StreamContext, parent: dict | None, record_type: str, keys: list[str]) -> list[str]:
        return pull_requests_gone(ctx, parent, keys)

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: PullRequestsCursor) -> Iterator[StreamItem]:
        """Page by page, so memory stays flat however many PRs a backfill meets; the cursor moves
        once, at the end (a restart reads the project's PRs again)."""
        open_now: dict[str, OpenPullRequest] = {}
        seen: set[int] = set()
        newest = cursor.max_id  # the highest id the list of PRs created since ``max_id`` met
        closed = closed_pull_requests(ctx, parent, cursor.open, seen)  # active last run, not now: read once more
        new_pages, active_pages = listed_pull_requests(ctx, parent, cursor.max_id)
        may_cut = ctx.client.api_version().at_least("7.0")
        listed = chain(((page.items, may_cut, True) for page in new_pages), ((page.items, may_cut, False) for page in active_pages))
        for found, cut, new in chain(listed, ((prs, False, False) for prs in closed)):  # a PR read alone is whole
            if new:
                newest = max([newest, *(pr["pullRequestId"] for pr in found)])
            prs = list({pr["pullRequestId"]: trim(pr) for pr in found if pr["pullRequestId"] not in seen}.values())
            seen.update(pr["pullRequestId"] for pr in prs)
            for start in range(0, len(prs), self.CHUNK):
                yield from self._chunk(ctx, parent, prs[start:start + self.CHUNK], cursor.open, open_now, cut)
        # Only the list of PRs created since moves the cursor: the lists see the server at two moments
        # (the first page of one, pages of PRs read in between, then the other), and a PR created after
        # the first and closed before the second is in neither; a newer one active in the second would
        # otherwise put ``max_id`` past it for good. Those of the second list above it are read again.
        yield PullRequestsCursor(newest, open_now).checkpoint()

    def _chunk(self, ctx: StreamContext, project: dict, prs: list[dict], before: Mapping[str, OpenPullRequest],
               open_now: dict[str, OpenPullRequest], may_cut: bool) -> Iterator[Record]:
        """The records of those of some PRs that changed, noting the open ones in ``open_now``. The
        iterations and links of each PR that itself changed are asked for with every PR's threads;
        ``may_cut``: the PRs come from a list that cuts descriptions (each delivered one whose
        description may be cut is read alone)."""
        hashes = {pr["pullRequestId"]: content_hash(pr) for pr in prs}  # of the listed object, whole or cut
        itself = {pr_id for pr_id, digest in hashes.items() if getattr(before.get(str(pr_id)), "pr", None) != digest}
        parts = pull_request_parts(ctx, project["id"], prs, itself)
        prs = [pr for pr in prs if parts_found(parts, pr)]  # one gone since listed: dropped from this run
        changed = []
        for pr in prs:
            pr_id = pr["pullRequestId"]
            threads_hash = content_hash(trim(parts[(pr_id, "threads")]))
            if pr.get("status") == "active":
                open_now[str(pr_id)] = OpenPullRequest(pr["repository"]["id"], hashes[pr_id], threads_hash)
            if pr_id in itself or getattr(before.get(str(pr_id)), "threads", None) != threads_hash:
                changed.append(pr)  # an open PR where nothing happened cost one request: its threads
        for listed, pr in zip(changed, as_delivered(ctx, project["id"], changed, may_cut)):
            try:
                key = self.key(ctx, listed, project)
            except UnreadableItem as exc:
                yield self.quarantine(listed, exc)
                continue
            yield upsert(self.record_type, key, pr)
            yield from pull_request_children(key, listed["pullRequestId"], pr, parts)


# git 7.0/7.1 lists: "description field will be truncated up to 400 symbols in the result"
DESCRIPTION_CUT = 400


def listed_pull_requests(ctx: StreamContext, project: dict, max_id: int) -> tuple[Iterator[Page], Iterator[Page]]:
    """The pages of the project's PRs created since ``max_id`` (newest first, ``status=all``), and
    those of every active PR (each list asked for when its pages are read)."""
    size, cap = ctx.page_sizes.pull_requests, SERVER_CAPS["git.pull_requests"].cap
    path = f"{segment(project['id'])}/_apis/git/pullrequests"
    created = ctx.client.pages(path, NewestFirst(TopSkip(size, cap=cap), "pullRequestId", max_id), {"searchCriteria.status": "all"})
    return created, ctx.client.pages(path, TopSkip(size, cap=cap), {"searchCriteria.status": "active"})


def closed_pull_requests(ctx: StreamContext, project: dict, open_before: Mapping[str, OpenPullRequest],
                         seen: set[int]) -> Iterator[list[dict]]:
    """The PRs active last run and not met in the lists (``seen``, as it is once they are read),
    each read alone (those gone since are left out)."""
    paths = (f"{segment(project['id'])}/_apis/git/repositories/{segment(open_before[str(i)].repo)}/pullrequests/{i}"
             for i in sorted(set(map(int, open_before)) - seen))
    yield [pr for pr in ctx.client.get_many(paths, missing_ok=True) if pr is not None]


def pull_requests_gone(ctx: StreamContext, project: dict, keys: list[str]) -> list[str]:
    """Of keys "<repository id>:<PR id>", those whose PR answers 404 when asked alone. Asked by
    repository id at the collection (no project): a repository moved to another project takes its
    PRs along, and they are read there, not gone."""
    paths = (f"_apis/git/repositories/{segment(key.rsplit(':', 1)[0])}/pullrequests/{int(key.rsplit(':', 1)[1])}"
             for key in keys)
    return [key for key, pr in zip(keys, ctx.client.get_many(paths, missing_ok=True)) if pr is None]


def pull_request_parts(ctx: StreamContext, project_id: str, prs: list[dict], itself: set[int]) -> dict[tuple[int, str], list]:
    """(PR id, part) -> the threads of every PR, and the iterations, commits and linked work items of
    those in ``itself`` (the PRs that themselves changed)."""
    wanted = [(pr, part) for pr in prs for part in ("threads", "workitems") if part == "threads" or pr["pullRequestId"] in itself]
    paths = (f"{pull_request_path(project_id, pr)}/{part}" for pr, part in wanted)
    # missing_ok: a 404 is a PR deleted since it was listed (None): dropped from this run, not a failure
    answers = ctx.client.get_many(paths, list_key="value", missing_ok=True)
    parts = dict(zip(((pr["pullRequestId"], part) for pr, part in wanted), answers))
    changed = [pr for pr in prs if pr["pullRequestId"] in itself and parts_found(parts, pr)]
    paths = (f"{pull_request_path(project_id, pr)}/iterations" for pr in changed)
    # git 5.0-7.1 Iterations - List ``includeCommits``: "include the commits associated with each iteration"
    for pr, found in zip(changed, ctx.client.get_many(paths, {"includeCommits": "true"}, list_key="value", missing_ok=True)):
        parts[(pr["pullRequestId"], "iterations")] = found
        if found is not None:
            try:
                parts[(pr["pullRequestId"], "commits")] = pull_request_commits(ctx, project_id, pr, found)
            except AdoNotFoundError:
                parts[(pr["pullRequestId"], "commits")] = None
    return parts


def parts_found(parts: Mapping[tuple[int, str], list | None], pr: dict) -> bool:
    """False once a part of ``pr`` answered 404 (the PR was deleted while the sync read it)."""
    return all(parts.get((pr["pullRequestId"], part), ()) is not None for part in PARTS)


PARTS = ("threads", "workitems", "iterations", "commits")


def pull_request_commits(ctx: StreamContext, project_id: str, pr: dict, iterations: list[dict]) -> list[dict]:
    """The PR's commits, taken out of its iterations (each once). Where an iteration's list is cut
    (``hasMoreCommits``: "Indicates if the Commits property contains a truncated list of commits"),
    every commit is read from Get Pull Request Commits (paged by token from 6.0; 5.0 answers all)."""
    listed = {c["commitId"]: c for i in iterations for c in i.pop("commits", None) or []}
    if any(i.get("hasMoreCommits") for i in iterations):
        pages = ctx.client.pages(f"{pull_request_path(project_id, pr)}/commits", TokenHeader(ctx.page_sizes.default))
        return list(items(pages))
    return list(listed.values())


def as_delivered(ctx: StreamContext, project_id: str, prs: list[dict], may_cut: bool) -> Iterator[dict]:
    """Each PR as delivered: read alone (Get Pull Request has the whole text) when ``may_cut`` (it
    comes from a list that cuts descriptions) and its description may be cut; as listed otherwise,
    or when it is gone since it was listed."""
    cut = [pr for pr in prs if may_cut and len(pr.get("description") or "") >= DESCRIPTION_CUT]
    whole = dict(zip((pr["pullRequestId"] for pr in cut),
                     ctx.client.get_many((pull_request_path(project_id, pr) for pr in cut), missing_ok=True)))
    for listed in prs:
        pr_id = listed["pullRequestId"]
        yield trim(whole[pr_id]) if whole.get(pr_id) is not None else listed  # None: gone since it was listed


def pull_request_children(key: str, pr_id: int, pr: dict, parts: Mapping[tuple[int, str], list]) -> Iterator[Record]:
    """The reviewers (of the PR as delivered), threads, iterations and linked work items of a PR."""
    yield from nested("git.pull_request_reviewer", key, pr.get("reviewers", []))
    yield from nested("git.pull_request_thread", key, parts[(pr_id, "threads")])
    yield from nested("git.pull_request_iteration", key, parts.get((pr_id, "iterations"), []))
    yield from nested("git.pull_request_work_item", key, parts.get((pr_id, "workitems"), []))
    yield from nested("git.pull_request_commit", key, parts.get((pr_id, "commits"), []), "commitId")

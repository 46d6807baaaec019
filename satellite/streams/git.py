"""Git streams: repositories, refs, pushes and commits.

Per repository, the refs are listed once per run (one request for a repository where nothing
happened): the refs stream delivers what changed, and pushes and commits read only when the
refs moved, because every push moves a ref.

Commits: the cursor is the set of branch heads already delivered. For every branch that moved,
the stream asks for the commits reachable from the new head but not from the old one
(``itemVersion`` = new head, ``compareVersion`` = old head, both pinned as commit ids so paging is
stable while people push). A new branch is compared with the default branch. Commits are
immutable: keys already stored are never sent again (a merge reaches old commits again).
"""

from __future__ import annotations

import json
from typing import Iterator

from satellite.ado.client import segment
from satellite.errors import AdoNotFoundError
from satellite.streams.base import (
    Checkpoint,
    IncrementalStream,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    content_hash,
    cursor_json,
    trim,
    upsert,
    utc_now,
)

__all__ = ["RepositoriesStream", "RefsStream", "PushesStream", "CommitsStream", "PullRequestsStream"]

HEADS = "refs/heads/"


def repository_path(repository: dict) -> str:
    return f"{segment(repository['project']['id'])}/_apis/git/repositories/{segment(repository['id'])}"


class RepositoriesStream(SnapshotStream):
    """Git repositories of a project."""

    name = "git.repositories"
    record_type = "git.repository"
    key_format = "{repositoryId}"
    service = "repos"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        body = ctx.client.get(f"{segment(parent['id'])}/_apis/git/repositories", {"includeHidden": "true"})
        return list(body.get("value", [])) if isinstance(body, dict) else []

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return item["id"]


class RefsStream(SnapshotStream):
    """Branches and tags of a repository; a deleted ref becomes ``op: delete``."""

    name = "git.refs"
    record_type = "git.ref"
    key_format = "{repositoryId}:{refName}"
    service = "repos"
    scope = Scope.REPOSITORY

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        refs: list[dict] = []
        for page in ctx.client.pages_by_token(f"{repository_path(parent)}/refs", {"peelTags": "true"}, page_size=ctx.page_sizes.refs):
            refs.extend(ref for ref in page if ref["name"].startswith(("refs/heads/", "refs/tags/")))
        return refs

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{parent['id']}:{item['name']}"


def _listed_refs(ctx: StreamContext, repository: dict) -> list[dict]:
    refs = ctx.listed.get(RefsStream.name)
    return refs if refs is not None else RefsStream().list(ctx, repository)


def _refs_fingerprint(refs: list[dict]) -> str:
    return content_hash(sorted((r["name"], r["objectId"]) for r in refs))


class PushesStream(IncrementalStream):
    """Pushes of a repository, newest first until the last delivered push id."""

    name = "git.pushes"
    record_type = "git.push"
    key_format = "{repositoryId}:{pushId}"
    cursor = "last push id + refs fingerprint"
    service = "repos"
    scope = Scope.REPOSITORY
    immutable = True

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        state = json.loads(ctx.cursor) if ctx.cursor else {"push_id": 0, "refs": None}
        fingerprint = _refs_fingerprint(_listed_refs(ctx, parent))
        if fingerprint == state["refs"]:
            return
        newest = state["push_id"]
        pages = ctx.client.pages_by_offset(
            f"{repository_path(parent)}/pushes", {"searchCriteria.includeRefUpdates": "true"}, page_size=ctx.page_sizes.pushes
        )
        keys_seen: set[int] = set()
        for page in pages:
            fresh = [p for p in page if p["pushId"] > state["push_id"] and p["pushId"] not in keys_seen]
            known = ctx.already_delivered([f"{parent['id']}:{p['pushId']}" for p in fresh])
            for push in fresh:
                keys_seen.add(push["pushId"])
                newest = max(newest, push["pushId"])
                key = f"{parent['id']}:{push['pushId']}"
                if key not in known:
                    yield Record(self.record_type, key, "upsert", utc_now(), trim(push))
            if any(p["pushId"] <= state["push_id"] for p in page):  # reached what was delivered (newest first)
                break
        yield Checkpoint(json.dumps({"push_id": newest, "refs": fingerprint}, separators=(",", ":")))


def _heads_cursor(heads: dict[str, str]) -> Checkpoint:
    return Checkpoint(json.dumps({"heads": dict(sorted(heads.items()))}, separators=(",", ":")))


class CommitsStream(IncrementalStream):
    """Commits of a repository, with change counts."""

    name = "git.commits"
    record_type = "git.commit"
    key_format = "{repositoryId}:{commitId}"
    cursor = "delivered branch heads"
    service = "repos"
    scope = Scope.REPOSITORY
    immutable = True  # a commit id names its content

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        repository = parent
        base = repository_path(repository)
        delivered: dict[str, str] = json.loads(ctx.cursor)["heads"] if ctx.cursor else {}
        current = {r["name"]: r["objectId"] for r in _listed_refs(ctx, repository) if r["name"].startswith(HEADS)}
        if current == delivered:
            return
        default = repository.get("defaultBranch")
        order = sorted(current, key=lambda name: (name != default, name))
        heads = {name: sha for name, sha in delivered.items() if name in current}
        emitted: set[str] = set()
        known_heads = set(delivered.values())
        for branch in order:
            new_head = current[branch]
            old_head = delivered.get(branch)
            if new_head == old_head:
                continue
            if new_head not in known_heads:
                compare = old_head or (heads.get(default) if default and branch != default else None)
                yield from self._commits_between(ctx, base, repository["id"], new_head, compare, emitted)
            heads[branch] = new_head
            known_heads.add(new_head)
            yield _heads_cursor(heads)
        if heads != current or set(delivered) - set(current):
            yield _heads_cursor(heads)

    def _commits_between(
        self, ctx: StreamContext, base: str, repo_id: str, head: str, compare: str | None, emitted: set[str]
    ) -> Iterator[Record]:
        params = {
            "searchCriteria.itemVersion.version": head,
            "searchCriteria.itemVersion.versionType": "commit",
        }
        if compare:
            params["searchCriteria.compareVersion.version"] = compare
            params["searchCriteria.compareVersion.versionType"] = "commit"
        pages = ctx.client.pages_by_offset(
            f"{base}/commits", params, page_size=ctx.page_sizes.commits,
            top_param="searchCriteria.$top", skip_param="searchCriteria.$skip",
        )
        try:
            for page in pages:
                fresh = [c for c in page if c["commitId"] not in emitted]
                known = ctx.already_delivered([f"{repo_id}:{c['commitId']}" for c in fresh])
                for commit in fresh:
                    emitted.add(commit["commitId"])
                    key = f"{repo_id}:{commit['commitId']}"
                    if key not in known:
                        yield Record(self.record_type, key, "upsert", utc_now(), trim(commit))
        except AdoNotFoundError:
            if compare is None:
                raise
            # The old head is gone (force-push + garbage collection): read the branch in full.
            yield from self._commits_between(ctx, base, repo_id, head, None, emitted)


class PullRequestsStream(IncrementalStream):
    """Pull requests of a project with their reviewers, threads, iterations and linked work items.

    PRs change after creation, so each run reads: the PRs created since the last run (newest
    first, ``status=all``, until the highest id delivered), every PR still active, and every PR
    that was active last run and is not any more (closed since). A PR is delivered again only
    when its JSON or its threads changed, so an open PR where nothing happened costs one request
    (its threads). Iterations and work item links are read with every change of the PR itself
    (a push, a vote, a status change): a link added to an open PR with no other change arrives
    when the PR next changes or closes.
    """

    name = "git.pull_requests"
    record_type = "git.pull_request"
    also_emits = ("git.pull_request_reviewer", "git.pull_request_thread", "git.pull_request_iteration", "git.pull_request_work_item")
    key_format = "{repositoryId}:{pullRequestId}"
    cursor = "highest PR id + hashes of open PRs"
    service = "repos"
    scope = Scope.PROJECT

    @staticmethod
    def _path(project: dict, pr: dict) -> str:
        return f"{segment(project['id'])}/_apis/git/repositories/{segment(pr['repository']['id'])}/pullRequests/{pr['pullRequestId']}"

    # PRs whose threads, iterations and links are read and held at a time
    CHUNK = 100

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        """Page by page, so memory stays flat however many PRs a backfill meets; the cursor moves
        once, at the end (a restart reads the project's PRs again)."""
        state = json.loads(ctx.cursor) if ctx.cursor else {"max_id": 0, "open": {}}
        base = f"{segment(parent['id'])}/_apis/git/pullrequests"
        max_before, open_before = state["max_id"], state["open"]
        open_now: dict[str, dict] = {}
        seen: set[int] = set()

        def handle(prs: list[dict]) -> Iterator[Record]:
            prs = [trim(pr) for pr in prs if pr["pullRequestId"] not in seen]
            seen.update(pr["pullRequestId"] for pr in prs)
            for start in range(0, len(prs), self.CHUNK):
                chunk = prs[start:start + self.CHUNK]
                yield from self._chunk(ctx, parent, {pr["pullRequestId"]: pr for pr in chunk}, open_before, open_now)

        # created since the last run: newest first, until the highest id delivered
        for page in ctx.client.pages_by_offset(base, {"searchCriteria.status": "all"}, page_size=ctx.page_sizes.pull_requests):
            yield from handle([pr for pr in page if pr["pullRequestId"] > max_before])
            if any(pr["pullRequestId"] <= max_before for pr in page):
                break
        for page in ctx.client.pages_by_offset(base, {"searchCriteria.status": "active"}, page_size=ctx.page_sizes.pull_requests):
            yield from handle(page)
        closed = sorted(set(map(int, open_before)) - seen)  # active last run, not now: read each once more
        paths = (f"{segment(parent['id'])}/_apis/git/repositories/{segment(open_before[str(i)]['repo'])}/pullrequests/{i}"
                 for i in closed)
        yield from handle([pr for pr in ctx.client.get_many(paths, missing_ok=True) if pr is not None])  # None: gone
        yield cursor_json({"max_id": max([max_before, *seen]), "open": open_now})

    def _chunk(self, ctx: StreamContext, project: dict, prs: dict[int, dict], open_before: dict, open_now: dict) -> Iterator[Record]:
        """The records of those of some PRs that changed; notes the open ones in ``open_now``."""
        hashes = {pr_id: content_hash(pr) for pr_id, pr in prs.items()}
        # iterations and links come with a change of the PR itself (a push, a vote, a status change);
        # they are asked for with the threads, in one go, so the connections stay busy
        itself = {pr_id for pr_id in prs if open_before.get(str(pr_id), {}).get("pr") != hashes[pr_id]}
        wanted = [(pr_id, part) for pr_id in prs for part in ("threads", "iterations", "workitems")
                  if part == "threads" or pr_id in itself]
        bodies = ctx.client.get_many(f"{self._path(project, prs[pr_id])}/{part}" for pr_id, part in wanted)
        parts: dict[tuple[int, str], dict] = dict(zip(wanted, bodies))
        threads = {pr_id: parts[(pr_id, "threads")] for pr_id in prs}
        iterations = {pr_id: parts[(pr_id, "iterations")] for pr_id in itself}
        links = {pr_id: parts[(pr_id, "workitems")] for pr_id in itself}
        changed: list[int] = []
        for pr_id, pr in prs.items():
            before = open_before.get(str(pr_id), {})
            threads_hash = content_hash(trim(threads[pr_id].get("value", [])))
            if pr.get("status") == "active":
                open_now[str(pr_id)] = {"repo": pr["repository"]["id"], "pr": hashes[pr_id], "threads": threads_hash}
            if pr_id in itself or before.get("threads") != threads_hash:
                changed.append(pr_id)  # an open PR where nothing happened cost one request: its threads
        for pr_id in changed:
            pr = prs[pr_id]
            key = f"{pr['repository']['id']}:{pr_id}"
            yield upsert(self.record_type, key, pr)
            for reviewer in pr.get("reviewers", []):
                yield upsert("git.pull_request_reviewer", f"{key}:{reviewer['id']}", reviewer)
            for thread in threads[pr_id].get("value", []):
                yield upsert("git.pull_request_thread", f"{key}:{thread['id']}", thread)
            for iteration in iterations.get(pr_id, {}).get("value", []):
                yield upsert("git.pull_request_iteration", f"{key}:{iteration['id']}", iteration)
            for link in links.get(pr_id, {}).get("value", []):
                yield upsert("git.pull_request_work_item", f"{key}:{link['id']}", link)


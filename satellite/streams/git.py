"""Git streams: repositories of a project, commits of a repository.

Commits are incremental per repository. The cursor is the set of branch heads already
delivered (``{"heads": {"refs/heads/main": "<sha>", ...}}``). Each run reads the refs once
(one request for a repository whose refs did not move) and, for every branch that moved,
asks for the commits reachable from the new head but not from the old one
(``itemVersion`` = new head, ``compareVersion`` = old head, both pinned as commit ids so paging
is stable while people push). A new branch is compared with the default branch. A checkpoint
follows each finished branch, so a crash repeats at most one branch's commits.
"""

from __future__ import annotations

import json
from typing import Iterator

from satellite.ado.client import segment
from satellite.errors import AdoNotFoundError
from satellite.streams.base import Checkpoint, Record, StreamContext, StreamItem, snapshot_diff, trim, utc_now

__all__ = ["RepositoriesStream", "CommitsStream"]


class RepositoriesStream:
    """Git repositories of one project (partition = project id); full refresh + hash diff."""

    name = "git.repositories"
    record_type = "git.repository"
    service = "repos"
    immutable = False

    def list_repositories(self, ctx: StreamContext, project_id: str) -> list[dict]:
        body = ctx.client.get(f"{segment(project_id)}/_apis/git/repositories", {"includeHidden": "true"})
        return list(body.get("value", [])) if isinstance(body, dict) else []

    def read(self, ctx: StreamContext, repositories: list[dict]) -> Iterator[StreamItem]:
        return snapshot_diff(self.record_type, ((r["id"], r) for r in repositories), ctx.cursor)


def _heads_cursor(heads: dict[str, str]) -> Checkpoint:
    return Checkpoint(json.dumps({"heads": dict(sorted(heads.items()))}, separators=(",", ":")))


class CommitsStream:
    """Commits of one repository (partition = repository id), with change counts."""

    name = "git.commits"
    record_type = "git.commit"
    service = "repos"
    immutable = True  # a commit id names its content: never send one twice (merges reach old commits again)

    def read(self, ctx: StreamContext, repository: dict) -> Iterator[StreamItem]:
        repo_id = repository["id"]
        base = f"{segment(repository['project']['id'])}/_apis/git/repositories/{segment(repo_id)}"
        delivered: dict[str, str] = json.loads(ctx.cursor)["heads"] if ctx.cursor else {}
        current = self._branch_heads(ctx, base)
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
                yield from self._commits_between(ctx, base, repo_id, new_head, compare, emitted)
            heads[branch] = new_head
            known_heads.add(new_head)
            yield _heads_cursor(heads)
        if heads != current or set(delivered) - set(current):
            yield _heads_cursor(heads)

    def _branch_heads(self, ctx: StreamContext, base: str) -> dict[str, str]:
        heads: dict[str, str] = {}
        for page in ctx.client.pages_by_token(f"{base}/refs", {"filter": "heads/"}, page_size=ctx.page_sizes.refs):
            for ref in page:
                heads[ref["name"]] = ref["objectId"]
        return heads

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
        try:
            for page in list_pages(ctx, f"{base}/commits", params):
                fresh = [c for c in page if c["commitId"] not in emitted]
                known = ctx.already_delivered([f"{repo_id}:{c['commitId']}" for c in fresh])
                for commit in fresh:
                    sha = commit["commitId"]
                    emitted.add(sha)
                    key = f"{repo_id}:{sha}"
                    if key not in known:
                        yield Record(self.record_type, key, "upsert", utc_now(), trim(commit))
        except AdoNotFoundError:
            if compare is None:
                raise
            # The old head is gone (force-push + garbage collection): read the branch in full.
            yield from self._commits_between(ctx, base, repo_id, head, None, emitted)


def list_pages(ctx: StreamContext, path: str, params: dict) -> Iterator[list[dict]]:
    return ctx.client.pages_by_offset(
        path, params, page_size=ctx.page_sizes.commits, top_param="searchCriteria.$top", skip_param="searchCriteria.$skip"
    )

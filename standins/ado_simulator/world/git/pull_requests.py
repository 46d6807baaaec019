"""Git pull requests, pushes and refs as one domain: the pull requests' state, truth and activity.

    domain = world.domain("pull_requests")
    domain.get(7)                       # PullRequest 7 (any repository)
    domain.of_repositories([repo_id])   # newest first

Pull requests are generated from the git histories (see ``pr_generate``); ``advance`` opens new
ones (on new or existing branches), works on open ones (pushes = new iterations, threads,
replies, votes, drafts published), completes some (a real merge into the default branch,
often deleting the source branch) and abandons a few.
"""

from __future__ import annotations

import gc
import random
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Iterable, Iterator

from standins.ado_simulator.world.generate import MAIN, RepoWriter, change_description, change_title, merge_message
from standins.ado_simulator.world.git.history import RepoHistory
from standins.ado_simulator.world.git.pr_content import (
    ThreadPlan,
    long_description,
    new_vote,
    plan_labels,
    plan_reviewers,
    plan_work_items,
)
from standins.ado_simulator.world.git.pr_generate import contributors_of, initial_pull_requests
from standins.ado_simulator.world.git.pr_model import (
    ABANDONED,
    ACTIVE,
    COMPLETED,
    INLINE,
    TEXT,
    VOTE,
    PullRequest,
    preview_merge_id,
)
from standins.ado_simulator.world.git.pr_timeline import RefMoves, pull_request_commits
from standins.ado_simulator.world.scales import AREA_SCALES

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["PullRequests", "build_pull_requests", "RECORD_TYPES"]

RECORD_TYPES = ("git.pull_request", "git.pull_request_reviewer", "git.pull_request_thread",
                "git.pull_request_iteration", "git.pull_request_work_item", "git.pull_request_commit", "git.push", "git.ref")
_TICK = 30  # seconds between this domain's events in one repository during a step


def build_pull_requests(world: "World", seed: int, scale: str) -> "PullRequests":
    sizes = AREA_SCALES[scale]
    with world.lock, _without_gc():
        histories = [_history(world, repo.id) for repo in world.repositories]
        prs, next_thread = initial_pull_requests(world, histories, f"{seed}:{scale}", sizes.pull_requests, sizes.work_items)
        if world.semantics.long_pr_descriptions:
            by_id = {h.repository_id: h for h in histories}
            prs = [_described(pr, by_id) for pr in prs]
        contributors = {h.repository_id: contributors_of(h) for h in histories}
    return PullRequests(world, f"{seed}:{scale}", sizes.work_items, prs, next_thread, contributors)


def _described(pr: PullRequest, histories: dict[str, RepoHistory]) -> PullRequest:
    """The pull request with a long description when ``long_description`` gives one; a completed one's
    merge commit message (``Merged PR <id>: <title>`` + description) follows."""
    text = long_description(pr.id, pr.title)
    if text is None:
        return pr
    if pr.status == COMPLETED:
        histories[pr.repository_id].reword(pr.merge_commit, merge_message(pr.id, pr.title, text))
    return replace(pr, description=text)


@contextmanager
def _without_gc() -> Iterator[None]:
    """Generation allocates ~10 acyclic records per pull request; on a large world the cyclic
    collector's full passes over everything else would more than double the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _history(world: "World", repository_id: str) -> RepoHistory:
    """A repository's history for a caller that already holds the world's lock."""
    with world.reading(repository_id) as history:
        return history


class PullRequests:
    """Every pull request of the collection; guarded by the world's lock."""

    name = "pull_requests"
    min_versions: dict[str, str] = {}

    def __init__(self, world: "World", seed: str, work_items: int, prs: list[PullRequest], next_thread: int,
                 contributors: dict[str, tuple[int, ...]]) -> None:
        self.seed = seed
        self._world = world
        self._work_items = work_items
        self._prs = {pr.id: pr for pr in prs}
        self._by_repo: dict[str, list[int]] = {repo.id: [] for repo in world.repositories}
        for pr in prs:
            self._by_repo[pr.repository_id].append(pr.id)
        self._active = {(pr.repository_id, pr.source): pr.id for pr in prs if pr.status == ACTIVE}
        self._next_id = len(prs) + 1
        self._next_thread = next_thread
        self._contributors = contributors

    # -- reading (caller holds world.lock) ------------------------------------------------

    def get(self, pr_id: int) -> PullRequest | None:
        return self._prs.get(pr_id)

    def of_repositories(self, repository_ids: Iterable[str]) -> list[PullRequest]:
        """Newest first (ids follow creation time)."""
        ids = [i for repo_id in repository_ids for i in self._by_repo.get(repo_id, ())]
        return [self._prs[i] for i in sorted(ids, reverse=True)]

    def truth(self) -> dict[str, list[str]]:
        world = self._world
        now = world.clock
        keys: dict[str, list[str]] = {t: [] for t in RECORD_TYPES}
        for repo in world.repositories:
            with world.reading(repo.id) as history:
                keys["git.push"] += [f"{repo.id}:{n}" for n in range(1, len(history.pushes) + 1)]
                keys["git.ref"] += [f"{repo.id}:{name}" for name in history.all_ref_names]
                moves = RefMoves(history)
            for pr_id in self._by_repo[repo.id]:
                pr = self._prs[pr_id]
                prefix = f"{repo.id}:{pr.id}"
                keys["git.pull_request"].append(prefix)
                keys["git.pull_request_reviewer"] += [f"{prefix}:{world.people[r.person].id}" for r in pr.reviewers]
                keys["git.pull_request_thread"] += [f"{prefix}:{t.id}" for t in pr.threads]
                count = 1 + moves.count_between(pr.source, pr.created, pr.closed or now)
                keys["git.pull_request_iteration"] += [f"{prefix}:{n}" for n in range(1, count + 1)]
                keys["git.pull_request_work_item"] += [f"{prefix}:{w}" for w in pr.work_items]
                keys["git.pull_request_commit"] += [f"{prefix}:{history.commits[p].commit_id}"
                                                    for p in pull_request_commits(history, pr)]
        return {t: sorted(k) for t, k in keys.items()}

    # -- activity ------------------------------------------------------------------------

    def advance(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """One hour: after the world's pushes (first part of the hour), 30 s apart per repository."""
        ticks: dict[str, int] = defaultdict(lambda: clock - 2000)
        repos = self._world.repositories
        for _ in range(rng.randint(0, max(1, len(repos) // 10))):
            self._open(rng, rng.choice(repos).id, ticks, counts)
        for pr_id in sorted(self._active.values()):
            pr = self._prs[pr_id]
            roll = rng.random()
            if roll < 0.015:
                self._abandon(pr, ticks, counts)
            elif roll < 0.08 and not pr.draft and not pr.conflicts and any(r.vote > 0 for r in pr.reviewers):
                self._complete(rng, pr, ticks, counts)
            elif roll < 0.35:
                self._work_on(rng, pr, ticks, counts)

    def _tick(self, ticks: dict[str, int], repository_id: str) -> int:
        ticks[repository_id] += _TICK
        return ticks[repository_id]

    def _writer(self, repository_id: str) -> RepoWriter:
        return RepoWriter(_history(self._world, repository_id), self._contributors[repository_id], self._world.people)

    def _store(self, pr: PullRequest) -> None:
        self._prs[pr.id] = pr
        if pr.status != ACTIVE:
            self._active.pop((pr.repository_id, pr.source), None)

    def _open(self, rng: random.Random, repository_id: str, ticks: dict[str, int], counts: dict[str, int]) -> None:
        """A new pull request, from an unmerged branch without one or from a branch pushed just now."""
        writer = self._writer(repository_id)
        history = writer.history
        candidates = [n for n in writer.unmerged() if (repository_id, n) not in self._active]
        if not candidates or rng.random() < 0.3:
            push = writer.create_branch(rng, self._tick(ticks, repository_id), writer.new_branch_name(rng),
                                        history.head(MAIN), rng.randint(1, 3))
            _count(counts, branches=1, pushes=1, commits=len(push.commit_ids))
            source = push.ref_updates[0].name
        else:
            source = rng.choice(candidates)
        creator = next(p.pusher for p in reversed(history.pushes) if any(u.name == source for u in p.ref_updates))
        reviewers = tuple(replace(r, vote=0, declined=False) for r in plan_reviewers(
            rng, len(self._world.people), self._contributors[repository_id], creator, ACTIVE))
        pr = PullRequest(self._next_id, repository_id, source, change_title(rng, source), change_description(rng), creator,
                         self._tick(ticks, repository_id), reviewers, (), plan_work_items(rng, self._work_items),
                         plan_labels(rng), draft=rng.random() < 0.15)
        if self._world.semantics.long_pr_descriptions:
            pr = replace(pr, description=long_description(pr.id, pr.title) or pr.description)
        self._next_id += 1
        self._prs[pr.id] = pr
        self._by_repo[repository_id].append(pr.id)
        self._active[(repository_id, source)] = pr.id
        _count(counts, pull_requests=1)

    def _work_on(self, rng: random.Random, pr: PullRequest, ticks: dict[str, int], counts: dict[str, int]) -> None:
        """One thing happens: a push (new iteration), a thread, a reply, a vote or the draft is published."""
        when = self._tick(ticks, pr.repository_id)
        roll = rng.random()
        replies = [t for t in pr.threads if t.kind != VOTE]
        if roll < 0.3:
            push = self._writer(pr.repository_id).push(rng, when, pr.source, rng.randint(1, 2))
            _count(counts, pushes=1, commits=len(push.commit_ids))
        elif roll < 0.55 or (roll < 0.75 and not replies):
            author = rng.choice(pr.reviewers).person if pr.reviewers else pr.creator
            kind = INLINE if rng.random() < 0.4 else TEXT
            self._add_thread(pr, ThreadPlan(when, kind, author, when, 1, "active", 0), counts)
        elif roll < 0.75:
            thread = rng.choice(replies)
            replied = replace(thread, replies=thread.replies + (when,))
            self._store(replace(pr, threads=tuple(replied if t is thread else t for t in pr.threads)))
            _count(counts, comments=1)
        elif roll < 0.95 and pr.reviewers:
            index = rng.randrange(len(pr.reviewers))
            reviewer = replace(pr.reviewers[index], vote=new_vote(rng), declined=False)
            pr = replace(pr, reviewers=pr.reviewers[:index] + (reviewer,) + pr.reviewers[index + 1:])
            self._add_thread(pr, ThreadPlan(when, VOTE, reviewer.person, when, 1, "", reviewer.vote), counts)
        elif pr.draft:
            self._store(replace(pr, draft=False))

    def _add_thread(self, pr: PullRequest, plan: ThreadPlan, counts: dict[str, int]) -> None:
        self._store(replace(pr, threads=pr.threads + (plan.numbered(self._next_thread),)))
        self._next_thread += 1
        _count(counts, threads=1)

    def _complete(self, rng: random.Random, pr: PullRequest, ticks: dict[str, int], counts: dict[str, int]) -> None:
        """Merge into the default branch (the merge commit names the pull request); maybe delete the branch."""
        writer = self._writer(pr.repository_id)
        approvers = [r.person for r in pr.reviewers if r.vote > 0]
        closer = pr.creator if rng.random() < 0.7 else rng.choice(approvers)
        when = self._tick(ticks, pr.repository_id)
        push = writer.merge(rng, when, pr.source, merge_message(pr.id, pr.title, pr.description), pusher=closer)
        merge = writer.history.commit(push.commit_ids[0])
        delete = rng.random() < 0.6
        self._store(replace(pr, status=COMPLETED, closed=when, closed_by=closer, delete_source=delete,
                            source_commit=merge.parents[1], target_commit=merge.parents[0], merge_commit=merge.commit_id))
        _count(counts, pushes=1, commits=1, completed=1)
        if delete:
            writer.delete_branch(rng, self._tick(ticks, pr.repository_id), pr.source, closer)
            _count(counts, pushes=1, deleted_branches=1)

    def _abandon(self, pr: PullRequest, ticks: dict[str, int], counts: dict[str, int]) -> None:
        with self._world.reading(pr.repository_id) as history:
            source, target = history.head(pr.source), history.head(MAIN)
        self._store(replace(pr, status=ABANDONED, closed=self._tick(ticks, pr.repository_id), closed_by=pr.creator,
                            source_commit=source, target_commit=target, merge_commit=preview_merge_id(source, target)))
        _count(counts, abandoned=1)


def _count(counts: dict[str, int], **added: int) -> None:
    for name, value in added.items():
        counts[name] = counts.get(name, 0) + value

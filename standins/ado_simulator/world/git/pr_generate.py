"""Pull requests at generation, read back from the git histories.

Every merge commit on a default branch is a completed pull request over the pushes its branch
received since its previous merge (a "window"); branches with unmerged pushes carry an active
one; the rest of the scale's exact count are abandoned attempts placed earlier in those
windows. Ids then follow creation time across the collection, and the merge commits'
``Merged PR n:`` messages are renumbered to match.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from standins.ado_simulator.world.generate import MAIN, change_description, change_title, merge_message, split_merge_message
from standins.ado_simulator.world.git.history import RepoHistory
from standins.ado_simulator.world.model import ZERO_ID
from standins.ado_simulator.world.git.pr_content import (
    ThreadPlan,
    plan_labels,
    plan_reviewers,
    plan_threads,
    plan_work_items,
    within,
)
from standins.ado_simulator.world.git.pr_model import ABANDONED, ACTIVE, COMPLETED, PullRequest, Reviewer, preview_merge_id
from standins.ado_simulator.world.git.pr_timeline import RefMoves

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["Window", "find_windows", "initial_pull_requests", "contributors_of"]

_MIN_SLOT = 240  # seconds a pull request needs inside a window (created ... abandoned)


@dataclass(frozen=True, slots=True)
class Window:
    """Pushes a branch received between two merges into the default branch."""

    repo_index: int
    source: str
    start: int  # first push since the previous merge
    end: int  # the merge, or the world's clock while unmerged
    merge: str  # the merge commit ("" while unmerged)

    def capacity(self, final: bool) -> int:
        """How many abandoned pull requests fit before the final one."""
        return max(0, (self.end - self.start) // _MIN_SLOT - int(final))


@dataclass(frozen=True, slots=True)
class _Plan:
    """A pull request before it has an id: its fields but ``id`` and ``threads``."""

    repo_index: int
    created: int
    source: str
    fields: dict
    threads: list[ThreadPlan]


def contributors_of(history: RepoHistory) -> tuple[int, ...]:
    """Everyone who pushed to the repository."""
    return tuple(sorted({push.pusher for push in history.pushes}))


def find_windows(history: RepoHistory, repo_index: int, clock: int) -> list[Window]:
    open_since: dict[str, int] = {}
    branch_of: dict[str, str] = {}  # commit pushed to a branch -> that branch
    windows = []
    for push in history.pushes:
        for update in push.ref_updates:
            if update.name != MAIN:
                if update.new_object_id != ZERO_ID:
                    branch_of[update.new_object_id] = update.name
                    open_since.setdefault(update.name, push.time)
                continue
            parents = history.commit(update.new_object_id).parents
            source = branch_of.get(parents[1]) if len(parents) == 2 else None
            if source in open_since:
                windows.append(Window(repo_index, source, open_since.pop(source), push.time, update.new_object_id))
    windows += [Window(repo_index, name, since, clock, "") for name, since in open_since.items() if name in history.refs]
    return windows


def initial_pull_requests(world: "World", histories: list[RepoHistory], seed: str, target: int,
                          work_items: int) -> tuple[list[PullRequest], int]:
    """Exactly ``target`` pull requests (when the histories have windows), and the next thread id."""
    rng = random.Random(f"{seed}:pull_requests")
    clock = world.clock
    windows = [w for index, history in enumerate(histories) for w in find_windows(history, index, clock)]
    merged = sorted((w for w in windows if w.merge), key=lambda w: w.end)
    for window in merged[: max(0, len(merged) - target)]:  # more merges than pull requests: plain merges
        histories[window.repo_index].reword(window.merge, f"Merge branch '{window.source[11:]}' into main")
    completed = set(merged[max(0, len(merged) - target):])
    unmerged = [w for w in windows if not w.merge]
    rng.shuffle(unmerged)
    active = set(unmerged[: target - len(completed)])
    finals = completed | active
    abandoned = _spread(rng, windows, finals, target - len(finals))
    moves = [RefMoves(history) for history in histories]
    contributors = [contributors_of(history) for history in histories]
    plans = []
    for window in windows:
        final = COMPLETED if window in completed else ACTIVE if window in active else None
        statuses = [ABANDONED] * abandoned[window] + ([final] if final else [])
        size = (window.end - window.start) // max(1, len(statuses))
        for slot, status in enumerate(statuses):
            low = window.start + slot * size
            created = low + 1 + within(rng, 0, size // 4)
            closed = window.end if status == COMPLETED else 0
            if status == ABANDONED:
                closed = low + size - 1 - within(rng, 0, size // 4)
            plans.append(_plan(rng, world, histories[window.repo_index], moves[window.repo_index],
                               contributors[window.repo_index], window, status, created, closed, work_items))
    return _numbered(plans, histories)


def _spread(rng: random.Random, windows: list[Window], finals: set[Window], count: int) -> Counter:
    """``count`` abandoned pull requests over windows with room for them."""
    room = {w: w.capacity(w in finals) for w in windows}
    open_windows = [w for w in windows if room[w] > 0]
    placed: Counter = Counter()
    for _ in range(count):
        if not open_windows:
            break
        index = rng.randrange(len(open_windows))
        window = open_windows[index]
        placed[window] += 1
        if placed[window] >= room[window]:
            open_windows[index] = open_windows[-1]
            open_windows.pop()
    return placed


def _plan(rng: random.Random, world: "World", history: RepoHistory, moves: RefMoves, contributors: tuple[int, ...],
          window: Window, status: str, created: int, closed: int, work_items: int) -> _Plan:
    head = moves.at(window.source, created)
    assert head is not None, "a window starts with a push"
    creator = head[1].pusher
    reviewers = plan_reviewers(rng, len(world.people), contributors, creator, status)
    fields: dict = {}
    if status == COMPLETED:
        merge = history.commit(window.merge)
        title, description = split_merge_message(merge.message)
        fields = dict(closed=closed, closed_by=merge.committer, source_commit=merge.parents[1],
                      target_commit=merge.parents[0], merge_commit=merge.commit_id)
    else:
        title, description = change_title(rng, window.source), change_description(rng)
        if status == ABANDONED:
            source, target = moves.at(window.source, closed)[0], moves.at(MAIN, closed)[0]
            fields = dict(closed=closed, closed_by=_closer(rng, creator, reviewers), source_commit=source,
                          target_commit=target, merge_commit=preview_merge_id(source, target))
        else:
            fields = dict(draft=rng.random() < 0.15, conflicts=rng.random() < 0.05)
    end = closed or world.clock
    threads = plan_threads(rng, reviewers, creator, created, end, status != ACTIVE)
    fields.update(repository_id=history.repository_id, source=window.source, title=title, description=description,
                  creator=creator, created=created, reviewers=reviewers, work_items=plan_work_items(rng, work_items),
                  labels=plan_labels(rng), status=status)
    return _Plan(window.repo_index, created, window.source, fields, threads)


def _closer(rng: random.Random, creator: int, reviewers: tuple[Reviewer, ...]) -> int:
    return creator if not reviewers or rng.random() < 0.8 else reviewers[0].person


def _numbered(plans: list[_Plan], histories: list[RepoHistory]) -> tuple[list[PullRequest], int]:
    """Ids in creation order (pull requests) and publication order (threads); merge messages follow."""
    plans.sort(key=lambda p: (p.created, p.repo_index, p.source))
    order = sorted((t.published, index, n) for index, plan in enumerate(plans) for n, t in enumerate(plan.threads))
    thread_ids = {(index, n): thread_id for thread_id, (_, index, n) in enumerate(order, start=1)}
    result = []
    for index, plan in enumerate(plans):
        threads = tuple(t.numbered(thread_ids[index, n]) for n, t in enumerate(plan.threads))  # ids increase: sorted plans
        pull_request = PullRequest(id=index + 1, threads=threads, **plan.fields)
        if pull_request.status == COMPLETED:
            histories[plan.repo_index].reword(
                pull_request.merge_commit, merge_message(pull_request.id, pull_request.title, pull_request.description)
            )
        result.append(pull_request)
    return result, len(order) + 1

"""What a pull request's history implies: iterations from the pushes to its source branch,
its commits, the merge commits it names, and its comments (generated from the thread id).

Callers hold the world's lock while they use a ``RepoHistory``.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass

from standins.ado_simulator.world.generate import MAIN
from standins.ado_simulator.world.git.history import RepoHistory
from standins.ado_simulator.world.model import ZERO_ID, Push
from standins.ado_simulator.world.git.pr_model import ACTIVE, VOTE, PullRequest, Thread, preview_merge_id

__all__ = ["RefMoves", "Iteration", "Comment", "iterations", "merge_commits", "pull_request_commits", "comments",
           "inline_position"]

_REMARKS = (
    "Could we add a test for this case?", "Nit: naming.", "Why is this needed?", "Looks good to me.",
    "This duplicates the helper in the utils module.", "Please handle the null case here.",
    "Consider logging the error before retrying.", "Is this covered by the integration tests?",
    "Can this be a constant?", "The timeout looks too short for production.",
)
_REPLIES = ("Done.", "Fixed in the next iteration.", "Good catch, thanks.", "Agreed, will follow up.",
            "It is needed for the migration.", "Added a test.", "Won't fix: out of scope.")
_FILES = ("src/OrderService.cs", "src/Billing/Invoice.cs", "web/app/login.ts", "api/handlers/search.py",
          "scripts/build.ps1", "README.md", "src/Payments/Gateway.cs", "config/settings.json", "tests/test_export.py")


class RefMoves:
    """When each ref of one repository moved, from its pushes: answers "where was ref X at time t"."""

    __slots__ = ("_moves",)

    def __init__(self, history: RepoHistory) -> None:
        moves: dict[str, tuple[list[int], list[str], list[Push]]] = {}
        for push in history.pushes:
            for update in push.ref_updates:
                times, ids, pushes = moves.setdefault(update.name, ([], [], []))
                times.append(push.time)
                ids.append(update.new_object_id)
                pushes.append(push)
        self._moves = moves

    def at(self, ref: str, when: int) -> tuple[str, Push] | None:
        """(commit id, push that set it) of ``ref`` at ``when``; None when the ref did not exist."""
        times, ids, pushes = self._moves.get(ref, ((), (), ()))
        index = bisect_right(times, when) - 1
        if index < 0 or ids[index] == ZERO_ID:
            return None
        return ids[index], pushes[index]

    def between(self, ref: str, after: int, until: int) -> list[tuple[str, Push]]:
        """The commits ``ref`` was moved to in ``(after, until]`` (deletions left out)."""
        times, ids, pushes = self._moves.get(ref, ((), (), ()))
        first, last = bisect_right(times, after), bisect_right(times, until)
        return [(ids[i], pushes[i]) for i in range(first, last) if ids[i] != ZERO_ID]

    def count_between(self, ref: str, after: int, until: int) -> int:
        return len(self.between(ref, after, until))


@dataclass(frozen=True, slots=True)
class Iteration:
    number: int
    time: int
    source_commit: str
    target_commit: str
    push: Push
    author: int


def iterations(history: RepoHistory, moves: RefMoves, pr: PullRequest, now: int) -> list[Iteration]:
    """Iteration 1 is the source head when the pull request was created; each later push to the
    source branch while it was open adds one."""
    end = pr.closed or now
    first = moves.at(pr.source, pr.created)
    if first is None:
        return []
    steps = [first] + moves.between(pr.source, pr.created, end)
    result = []
    for number, (commit_id, push) in enumerate(steps, start=1):
        when = pr.created if number == 1 else push.time
        target = moves.at(MAIN, when)
        author = pr.creator if number == 1 else push.pusher
        result.append(Iteration(number, when, commit_id, target[0] if target else commit_id, push, author))
    return result


def merge_commits(history: RepoHistory, pr: PullRequest) -> tuple[str, str, str]:
    """(lastMergeSourceCommit, lastMergeTargetCommit, lastMergeCommit) as the server reports them now."""
    if pr.status != ACTIVE:
        return pr.source_commit, pr.target_commit, pr.merge_commit
    source, target = history.head(pr.source) or "", history.head(MAIN) or ""
    return source, target, preview_merge_id(source, target)


def pull_request_commits(history: RepoHistory, pr: PullRequest) -> list[int]:
    """Positions of the commits the pull request brings (source not in target), newest first."""
    source, target, _ = merge_commits(history, pr)
    if not source or history.commit(source) is None:
        return []
    return history.between(source, target if target and history.commit(target) is not None else None)


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    parent: int
    author: int
    published: int
    content: str
    system: bool


def comments(seed: str, thread: Thread, pr: PullRequest, people_names: tuple[str, ...]) -> list[Comment]:
    """The thread's comments: the opening one by the thread's author, then replies alternating
    between the pull request's author and the thread's author. A comment's time never changes:
    the first ``comments`` spread up to ``settled``, later replies keep the time they were made."""
    if thread.kind == VOTE:
        text = f"{people_names[thread.author]} voted {thread.vote}"
        return [Comment(1, 0, thread.author, thread.published, text, True)]
    rng = random.Random(f"{seed}:thread:{thread.id}")
    count = thread.comments
    span = thread.settled - thread.published
    times = [thread.published + (span * i // (count - 1) if count > 1 else 0) for i in range(count)]
    other = pr.creator if pr.creator != thread.author else (pr.reviewers[0].person if pr.reviewers else pr.creator)
    result = []
    for index, when in enumerate(times + list(thread.replies)):
        author = thread.author if index % 2 == 0 else other
        text = rng.choice(_REMARKS) if index == 0 else rng.choice(_REPLIES)
        result.append(Comment(index + 1, 0 if index == 0 else 1, author, when, text, False))
    return result


def inline_position(seed: str, thread: Thread) -> tuple[str, int]:
    """(file path, line) an inline thread is anchored at."""
    rng = random.Random(f"{seed}:inline:{thread.id}")
    return rng.choice(_FILES), rng.randint(1, 400)

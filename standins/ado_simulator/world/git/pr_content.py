"""Random content of a pull request over its lifetime: reviewers and votes, threads, work item links, labels.

Used at generation and by ``advance``; threads are planned without ids (``ThreadPlan``) so the
caller can number them in the order they were published.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from standins.ado_simulator.world.git.pr_model import ACTIVE, COMPLETED, INLINE, TEXT, VOTE, Reviewer, Thread

__all__ = ["LABELS", "ThreadPlan", "pick", "within", "plan_reviewers", "plan_threads", "plan_work_items", "plan_labels", "new_vote",
           "long_description"]

LABELS = ("bugfix", "feature", "needs-review", "breaking-change", "docs", "security", "performance")
_VOTES = {COMPLETED: (10, 10, 5, 0, 0, -5), ACTIVE: (0, 0, 0, 10, 5, -5), "abandoned": (0, 0, -5, -10, 10, 5)}
_OPEN_STATUSES = ("active", "active", "pending", "fixed")
_CLOSED_STATUSES = ("fixed", "fixed", "closed", "wontFix", "byDesign")
_SECTIONS = (
    "## Why\nThe {t} change was requested after the last incident review: the current behaviour drops work under load"
    " and nobody notices until the nightly report is wrong.",
    "## What changed\n- {t}: the handler now validates its input before it takes the lock\n- retries use the shared"
    " back-off policy instead of a fixed sleep\n- the old configuration keys are still read, with a warning in the log",
    "## How it was tested\nUnit tests for the new branches, an integration run against the staging collection, and a"
    " manual check of the dashboard with the QA team. Load test numbers are attached to the linked work item.",
    "## Risks\nThe migration touches every row of the history table once; on the biggest tenant that took 4 minutes in"
    " staging. Roll back by reverting this PR: the schema change is additive.",
    "## Follow-up\nRemove the compatibility shim after the next release, and document the new settings in the"
    " operations guide. See the checklist in the wiki page of the team before completing.",
)


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    """A thread before it has an id."""

    published: int
    kind: str
    author: int
    settled: int
    comments: int
    status: str
    vote: int

    def numbered(self, thread_id: int) -> Thread:
        return Thread(thread_id, self.kind, self.author, self.published, self.settled, self.comments, self.status,
                      self.vote)


def pick(rng: random.Random, options: tuple | list):
    """``rng.choice`` on one ``random()`` draw (several times faster; generation makes millions)."""
    return options[int(rng.random() * len(options))]


def within(rng: random.Random, low: int, high: int) -> int:
    """A whole number in ``[low, high]`` from one ``random()`` draw."""
    return low + int(rng.random() * (high - low + 1))


def plan_reviewers(rng: random.Random, people: int, contributors: tuple[int, ...], creator: int,
                   status: str) -> tuple[Reviewer, ...]:
    """1-3 reviewers, repository contributors first; a completed pull request has an approval."""
    wanted = min(pick(rng, (1, 1, 2, 2, 2, 3)), people - 1)
    pool = [p for p in contributors if p != creator]
    chosen: list[int] = []
    while len(chosen) < wanted:
        person = pool.pop(int(rng.random() * len(pool))) if pool else int(rng.random() * people)
        if person != creator and person not in chosen:
            chosen.append(person)
    votes = _VOTES[status]
    reviewers = []
    for index, person in enumerate(chosen):
        vote = pick(rng, (10, 5)) if status == COMPLETED and index == 0 else pick(rng, votes)
        reviewers.append(Reviewer(person, vote, rng.random() < 0.3, vote == 0 and rng.random() < 0.1,
                                  rng.random() < 0.05))
    return tuple(reviewers)


def plan_threads(rng: random.Random, reviewers: tuple[Reviewer, ...], creator: int, start: int, end: int,
                 closed: bool) -> list[ThreadPlan]:
    """A vote note per cast vote and 0-4 discussions (some on a line of code) within ``[start, end]``,
    in the order they were published."""
    plans = []
    for reviewer in reviewers:
        if reviewer.vote != 0:
            when = within(rng, start, end)
            plans.append(ThreadPlan(when, VOTE, reviewer.person, when, 1, "", reviewer.vote))
    statuses = _CLOSED_STATUSES if closed else _OPEN_STATUSES
    for _ in range(pick(rng, (0, 1, 1, 1, 2, 2, 3, 4))):
        author = pick(rng, reviewers).person if reviewers and rng.random() < 0.8 else creator
        published = within(rng, start, end)
        count = pick(rng, (1, 1, 2, 2, 3, 4))
        settled = published if count == 1 else within(rng, published, end)
        kind = INLINE if rng.random() < 0.4 else TEXT
        plans.append(ThreadPlan(published, kind, author, settled, count, pick(rng, statuses), 0))
    plans.sort(key=lambda plan: plan.published)
    return plans


def plan_work_items(rng: random.Random, work_items: int) -> tuple[int, ...]:
    """About 60% of pull requests link 1-3 work items (ids ``1..work_items``)."""
    if work_items < 1 or rng.random() >= 0.6:
        return ()
    linked = {within(rng, 1, work_items) for _ in range(within(rng, 1, 3))}
    return tuple(sorted(linked))


def plan_labels(rng: random.Random) -> tuple[str, ...]:
    """About 20% of pull requests carry one or two labels."""
    if rng.random() >= 0.2:
        return ()
    return tuple(sorted({pick(rng, LABELS) for _ in range(within(rng, 1, 2))}))


def new_vote(rng: random.Random) -> int:
    return pick(rng, (10, 10, 5, -5, -10))


def long_description(pr_id: int, title: str) -> str | None:
    """A description longer than 400 characters for about two pull requests in three, else None (keep the
    short one). A pure function of the id: worlds with the ``long_pr_descriptions`` semantics only."""
    rng = random.Random(f"pr-description:{pr_id}")
    if rng.random() >= 0.65:
        return None
    count = rng.randint(3, len(_SECTIONS))
    chosen = sorted(rng.sample(range(len(_SECTIONS)), count))
    return "\n\n".join(_SECTIONS[i].format(t=title) for i in chosen)

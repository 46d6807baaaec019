"""Pull request cycle time from the model: first commit -> opened -> first review vote -> approval -> merged.

docs/metrics.md: completed pull requests only; first commit = the earliest author date of the
pull request's commits (``git log target..source`` of its last merge); a review vote = a
``VoteUpdate`` thread (publishedDate), an approval = one with a vote >= 5. A pull request
missing a stage has no sample for the spans that need it; negative spans are kept.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, cast

from standins.ado_simulator.truth.figures import MetricTruth, Sample, duration_metric
from standins.ado_simulator.truth.instants import (
    US,
    iso_instant,
    pull_request_instant,
    seconds_between,
)
from standins.ado_simulator.world.git.pr_model import COMPLETED, VOTE, PullRequest
from standins.ado_simulator.world.git.pr_timeline import pull_request_commits

if TYPE_CHECKING:
    from standins.ado_simulator.world.git.pull_requests import PullRequests
    from standins.ado_simulator.world.world import World

__all__ = ["SPANS", "pull_request_metrics"]

SPANS = ("pr_coding", "pr_pickup", "pr_review", "pr_merge", "pr_total")


def _first_commit(world: World, pr: PullRequest) -> int | None:
    with world.reading(pr.repository_id) as history:
        dates = [iso_instant(history.commits[p].author_date) for p in pull_request_commits(history, pr)]
    return min(dates) if dates else None


def pull_request_metrics(world: World) -> dict[str, MetricTruth]:
    """The five spans of every completed pull request, each with count, p50, p90 and weeks (of the span's end)."""
    domain = cast("PullRequests", world.domain("pull_requests"))
    samples: dict[str, list[Sample]] = defaultdict(list)
    for repository in world.repositories:
        for pr in domain.of_repositories([repository.id]):  # grouped per repository name
            if pr.status != COMPLETED:
                continue
            first = _first_commit(world, pr)
            opened = pull_request_instant(pr.created, pr.id, closed=False)
            merged = pull_request_instant(pr.closed, pr.id, closed=True)
            votes = [t for t in pr.threads if t.kind == VOTE]
            voted = min((t.published * US for t in votes), default=None)
            approved = min((t.published * US for t in votes if t.vote >= 5), default=None)
            for span, start, end in (("pr_coding", first, opened), ("pr_pickup", opened, voted),
                                     ("pr_review", voted, approved), ("pr_merge", approved, merged),
                                     ("pr_total", first, merged)):
                if start is not None and end is not None:
                    samples[span].append(Sample(repository.name, seconds_between(start, end), end))
    return {span: duration_metric(span, samples[span]) for span in SPANS}

"""Flow metrics: pull request cycle time split in five spans, work item cycle time (docs/metrics.md)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from standins.sei_receiver.report.fields import dig, integer, items, text, time_of
from standins.sei_receiver.report.model import Metric, duration_metric
from standins.sei_receiver.report.records import Snapshot
from standins.sei_receiver.report.stats import Sample
from standins.sei_receiver.report.times import seconds_between

__all__ = ["pr_metrics", "work_item_cycle_time"]

APPROVED = 5  # CodeReviewVoteResult: 10 approved, 5 approved with suggestions
PR_SPANS = (  # id, title, from, to
    ("pr_coding", "PR coding time (first commit -> opened)", "first_commit", "opened"),
    ("pr_pickup", "PR pickup time (opened -> first review vote)", "opened", "first_vote"),
    ("pr_review", "PR review time (first vote -> approval)", "first_vote", "approved"),
    ("pr_merge", "PR merge time (approval -> merged)", "approved", "closed"),
    ("pr_total", "PR cycle time (first commit -> merged)", "first_commit", "closed"),
)


def _child_of(key: str) -> str:
    """``{repositoryId}:{pullRequestId}:{child}`` -> the PR key."""
    return key.rsplit(":", 1)[0]


def pr_metrics(snapshot: Snapshot) -> tuple[Metric, ...]:
    first_commit: dict[str, datetime] = {}
    skipped = 0
    for record in snapshot.of("git.pull_request_commit"):
        authored = time_of(record.data, "author", "date")
        if authored is None:
            skipped += 1
            continue
        pr = _child_of(record.key)
        if pr not in first_commit or authored < first_commit[pr]:
            first_commit[pr] = authored
    first_vote: dict[str, datetime] = {}
    approved: dict[str, datetime] = {}
    for record in snapshot.of("git.pull_request_thread"):
        if text(record.data, "properties", "CodeReviewThreadType", "$value") != "VoteUpdate":
            continue
        published = time_of(record.data, "publishedDate")
        if published is None:
            skipped += 1
            continue
        pr = _child_of(record.key)
        _keep_earliest(first_vote, pr, published)
        vote = integer(record.data, "properties", "CodeReviewVoteResult", "$value")
        if vote is not None and vote >= APPROVED:
            _keep_earliest(approved, pr, published)
    samples: dict[str, list[Sample]] = defaultdict(list)
    for record in snapshot.of("git.pull_request"):
        if text(record.data, "status") != "completed":
            continue
        repository = text(record.data, "repository", "name") or record.key.split(":")[0]
        opened, closed = time_of(record.data, "creationDate"), time_of(record.data, "closedDate")
        if opened is None or closed is None:
            skipped += 1
            continue
        moments = {"first_commit": first_commit.get(record.key), "opened": opened, "first_vote": first_vote.get(record.key),
                   "approved": approved.get(record.key), "closed": closed}
        for metric_id, _, start, end in PR_SPANS:
            if moments[start] is not None and moments[end] is not None:
                samples[metric_id].append(Sample(repository, seconds_between(moments[start], moments[end]), moments[end]))
    return tuple(duration_metric(metric_id, title, samples[metric_id], skipped=skipped)
                 for metric_id, title, _, _ in PR_SPANS)


def _keep_earliest(found: dict[str, datetime], key: str, moment: datetime) -> None:
    if key not in found or moment < found[key]:
        found[key] = moment


@dataclass(frozen=True)
class _Revision:
    rev: int
    changed: datetime
    kind: str  # the work item type's name
    category: str | None  # of its state in its type; None for a state the type does not list


def work_item_cycle_time(snapshot: Snapshot) -> Metric:
    """First InProgress revision -> the first revision of the final run of Completed ones, per work item."""
    categories = _state_categories(snapshot)
    items: dict[tuple[str, int], list[_Revision]] = defaultdict(list)
    skipped = 0
    for record in snapshot.of("wit.work_item_revision"):
        fields = dig(record.data, "fields")
        item = _first(integer(fields, "System.Id"), integer(record.data, "id"))
        rev = _first(integer(record.data, "rev"), integer(fields, "System.Rev"))
        changed, kind, state = time_of(fields, "System.ChangedDate"), text(fields, "System.WorkItemType"), text(fields, "System.State")
        if item is None or rev is None or changed is None or kind is None or state is None:
            skipped += 1
            continue
        category = categories.get((text(fields, "System.TeamProject"), kind, state)) or categories.get((None, kind, state))
        collection = record.key.split(":")[0] if record.key.count(":") >= 2 else ""  # {collectionId}:{id}:{rev}
        items[(collection, item)].append(_Revision(rev, changed, kind, category))
    samples = []
    for history in items.values():
        history.sort(key=lambda r: r.rev)
        started = next((r for r in history if r.category == "InProgress"), None)
        if started is None or history[-1].category != "Completed":
            continue
        closing = len(history) - 1
        while closing > 0 and history[closing - 1].category == "Completed":
            closing -= 1
        closed = history[closing]
        samples.append(Sample(history[-1].kind, seconds_between(started.changed, closed.changed), closed.changed))
    return duration_metric("work_item_cycle_time", "Work item cycle time", samples, skipped=skipped)


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _state_categories(snapshot: Snapshot) -> dict[tuple[str | None, str, str], str]:
    """(project name, type name, state) -> category; (None, type name, state) where every project agrees."""
    projects = {r.key: text(r.data, "name") for r in snapshot.of("core.project")}
    found: dict[tuple[str | None, str, str], str] = {}
    anywhere: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in snapshot.of("wit.work_item_type"):
        project, kind = projects.get(record.key.split(":")[0]), text(record.data, "name")
        for state in items(record.data, "states"):
            name, category = text(state, "name"), text(state, "category")
            if kind is None or name is None or category is None:
                continue
            found[(project, kind, name)] = category
            anywhere[(kind, name)].add(category)
    for (kind, name), seen in anywhere.items():
        if len(seen) == 1:
            found[(None, kind, name)] = next(iter(seen))
    return found

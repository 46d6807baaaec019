"""Freshness: receiver time of the record's batch minus its change time, only for changes after the first batch."""

from __future__ import annotations

from standins.sei_receiver.report.freshness import freshness_metrics
from standins.sei_receiver.report.records import StoredRecord
from standins.sei_receiver.report.times import parse_time
from tests.unit.report.records import build, revision, snapshot


def at(text: str) -> float:
    return parse_time(text).timestamp()


def test_freshness_per_type_counts_only_changes_after_the_first_batch():
    first = at("2024-02-01T00:00:00Z")
    s = snapshot(
        StoredRecord("git.push", "repo:1", {"date": "2024-01-15T00:00:00Z"}, at("2024-02-01T00:00:00Z")),  # history
        StoredRecord("git.push", "repo:2", {"date": "2024-02-01T10:00:00.5Z", "repository": {"project": {"name": "Fabrikam"}}},
                     at("2024-02-01T10:01:00Z")),
        StoredRecord("git.push", "repo:3", {"date": "2024-02-01T10:00:00Z"}, None),  # no batch time: skipped
        build(1, changed="2024-02-01T11:00:00Z", received_at=at("2024-02-01T11:05:00Z")),
        build(2, changed="2024-02-01T12:00:00Z", received_at=at("2024-02-01T12:00:30Z")),
        revision(1, 1, "New", "2024-02-02T00:00:00Z", received_at=at("2024-02-02T00:00:10Z")),
        first_batch_at=first,
    )
    found = {m.id: m for m in freshness_metrics(s)}
    push, builds, items = found["freshness_git_push"], found["freshness_build"], found["freshness_work_item"]
    assert (push.summary.count, push.summary.p50, push.skipped) == (1, 59, 1)
    assert push.groups[0].name == "Fabrikam"
    assert (builds.summary.count, builds.summary.p50, builds.summary.p90) == (2, 30, 300)
    assert (items.summary.count, items.summary.p50) == (1, 10)


def test_no_batch_yet_means_no_samples():
    found = freshness_metrics(snapshot(build(1, changed="2024-02-01T11:00:00Z", received_at=None)))
    assert all(m.summary.count == 0 and m.available and "first batch" in m.reason for m in found)

"""PR cycle time in five spans (a PR with no vote, one never approved, one without commits) and work item
cycle time (a reopened item, one never started, one open now, an unknown state)."""

from __future__ import annotations

from standins.sei_receiver.report.flow import pr_metrics, work_item_cycle_time
from standins.sei_receiver.report.records import StoredRecord
from tests.unit.report.records import (
    pr,
    pr_commit,
    revision,
    snapshot,
    vote,
    work_item_type,
)

HOUR = 3600


def spans(s):
    return {m.id: m for m in pr_metrics(s)}


def test_a_pr_with_every_stage_has_all_five_spans():
    found = spans(snapshot(
        pr(1, "2024-01-01T10:00:00Z", "2024-01-02T10:00:00Z"),
        pr_commit(1, "a", "2024-01-01T08:00:00+00:00"), pr_commit(1, "b", "2024-01-01T04:00:00.1234567Z"),
        vote(1, 1, "2024-01-01T12:00:00Z", -5), vote(1, 2, "2024-01-01T15:00:00Z", 10), vote(1, 3, "2024-01-01T16:00:00Z", 5),
        StoredRecord("git.pull_request_thread", "repo:1:4", {"publishedDate": "2024-01-01T11:00:00Z", "properties": {}}),
    ))
    assert {k: m.summary.p50 for k, m in found.items()} == {
        "pr_coding": 6 * HOUR - 1, "pr_pickup": 2 * HOUR, "pr_review": 3 * HOUR, "pr_merge": 19 * HOUR, "pr_total": 30 * HOUR - 1}
    assert found["pr_total"].groups[0].name == "web"


def test_missing_stages_leave_out_only_the_spans_that_need_them():
    found = spans(snapshot(
        pr(1, "2024-01-01T10:00:00Z", "2024-01-01T20:00:00Z"), pr_commit(1, "a", "2024-01-01T09:00:00Z"),  # no vote
        pr(2, "2024-01-01T10:00:00Z", "2024-01-01T20:00:00Z"), vote(2, 1, "2024-01-01T11:00:00Z", -10),  # never approved, no commits
        pr(3, "2024-01-01T10:00:00Z", None, status="active"), pr_commit(3, "c", "2024-01-01T09:00:00Z"),  # not completed
        pr(4, "2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z", status="abandoned"),
    ))
    assert {k: m.summary.count for k, m in found.items()} == {
        "pr_coding": 1, "pr_pickup": 1, "pr_review": 0, "pr_merge": 0, "pr_total": 1}


def test_a_commit_authored_after_the_pr_opened_gives_a_negative_span_as_it_is():
    found = spans(snapshot(pr(1, "2024-01-01T10:00:00Z", "2024-01-01T12:00:00Z"), pr_commit(1, "a", "2024-01-01T10:30:00Z")))
    assert found["pr_coding"].summary.p50 == -1800


def test_records_lacking_fields_are_skipped():
    found = spans(snapshot(pr(1, "2024-01-01T10:00:00Z", None),
                           StoredRecord("git.pull_request_commit", "repo:1:a", {"author": {}})))
    assert all(m.summary.count == 0 and m.skipped == 2 for m in found.values())


def test_work_item_cycle_time_from_first_active_to_the_last_close():
    s = snapshot(
        *work_item_type("Bug"),
        # reopened: Active at 1st, closed on the 3rd, reopened, closed again on the 5th
        revision(1, 1, "New", "2024-01-01T00:00:00Z"), revision(1, 2, "Active", "2024-01-01T12:00:00Z"),
        revision(1, 3, "Closed", "2024-01-03T12:00:00Z"), revision(1, 4, "Active", "2024-01-04T00:00:00Z"),
        revision(1, 5, "Resolved", "2024-01-04T12:00:00Z"), revision(1, 6, "Closed", "2024-01-05T12:00:00Z"),
        revision(1, 7, "Closed", "2024-01-06T12:00:00Z"),  # an edit while closed: the close stays the 5th
        # never InProgress
        revision(2, 1, "New", "2024-01-01T00:00:00Z"), revision(2, 2, "Closed", "2024-01-02T00:00:00Z"),
        # open now
        revision(3, 1, "Active", "2024-01-01T00:00:00Z"), revision(3, 2, "Closed", "2024-01-02T00:00:00Z"),
        revision(3, 3, "Active", "2024-01-03T00:00:00Z"),
        # a state the type does not list, then closed: the unknown revision is neither start nor close
        revision(4, 1, "Doing", "2024-01-01T00:00:00Z"), revision(4, 2, "Active", "2024-01-02T00:00:00Z"),
        revision(4, 3, "Closed", "2024-01-02T06:00:00Z"),
        StoredRecord("wit.work_item_revision", "coll:5:1", {"fields": {"System.Id": 5}}),  # lacking fields
    )
    metric = work_item_cycle_time(s)
    assert metric.summary.count == 2 and metric.skipped == 1
    assert sorted([metric.summary.p50, metric.summary.p90]) == [6 * HOUR, 4 * 24 * HOUR]
    assert [(g.name, g.count) for g in metric.groups] == [("Bug", 2)]
    assert [w.week for w in metric.weekly] == ["2024-W01"]


def test_revisions_arriving_out_of_order_are_sorted_by_rev():
    s = snapshot(*work_item_type("Task"),
                 revision(1, 3, "Closed", "2024-01-03T00:00:00Z", kind="Task"),
                 revision(1, 1, "Active", "2024-01-01T00:00:00Z", kind="Task"),
                 revision(1, 2, "Closed", "2024-01-02T00:00:00Z", kind="Task"))
    assert work_item_cycle_time(s).summary.p50 == 24 * HOUR

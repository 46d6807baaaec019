"""Pipeline duration, queue time, job duration and stage status from hand-written builds and timelines."""

from __future__ import annotations

from standins.sei_receiver.report.pipelines import (
    job_duration,
    pipeline_duration,
    queue_time,
    release_stage_status,
    stage_status,
)
from tests.unit.report.records import build, release, snapshot, timeline

T = "2024-01-08T10:{:02d}:00Z"  # a Monday: week 2024-W02


def test_pipeline_duration_and_queue_time_per_pipeline_and_week():
    s = snapshot(
        build(1, "web CI", queued=T.format(0), start=T.format(1), finish=T.format(11)),
        build(2, "web CI", queued=T.format(0), start=T.format(3), finish=T.format(6), result="failed"),
        build(3, "api CI", queued="2024-01-15T10:20:00Z", start="2024-01-15T10:20:00Z", finish="2024-01-15T10:30:00.1234567Z",
              result="partiallySucceeded"),
        build(4, "web CI", queued=T.format(0), start=T.format(1), status="inProgress", result=None),  # not completed
        build(5, "web CI", queued=T.format(0), finish=T.format(9), result="canceled"),  # canceled before it started
    )
    duration = pipeline_duration(s)
    assert (duration.summary.count, duration.summary.p50, duration.summary.p90) == (3, 600, 600)
    assert [(g.name, g.count, g.p50) for g in duration.groups] == [("api CI", 1, 600), ("web CI", 2, 180)]
    assert duration.counts == {"failed": 1, "partiallySucceeded": 1, "succeeded": 1}
    assert [(w.week, w.count, w.p50) for w in duration.weekly] == [("2024-W02", 2, 180), ("2024-W03", 1, 600)]
    assert duration.skipped == 1  # the completed build without a start
    queue = queue_time(s)
    assert (queue.summary.count, queue.summary.p50) == (3, 60)
    assert [(g.name, g.p50, g.p90) for g in queue.groups] == [("api CI", 0, 0), ("web CI", 60, 180)]


def test_job_duration_takes_the_latest_attempt_skips_never_started_jobs_and_records_lacking_fields():
    s = snapshot(
        build(1, "web CI", start=T.format(0), finish=T.format(30)),
        timeline(1, "j1", "Job", "Build", start=T.format(0), finish=T.format(10)),
        timeline(1, "j2", "Job", "Test", start=T.format(20), finish=T.format(25), attempt=2, result="failed"),
        timeline(1, "j3", "Job", "Deploy", state="completed", result="skipped"),  # never started: no sample
        timeline(1, "t1", "Task", "Checkout", start=T.format(0), finish=T.format(1)),
        timeline(1, "j4", "Job", "Lint", start=T.format(0), state="inProgress", result=None),
        timeline(9, "j5", "Job", "Orphan", start=T.format(0), finish=T.format(2)),  # its build is not held
    )
    jobs = job_duration(s)
    assert [(g.name, g.count, g.p50) for g in jobs.groups] == [("web CI / Build", 1, 600), ("web CI / Test", 1, 300)]
    assert jobs.summary.count == 2 and jobs.skipped == 1


def test_stage_status_counts_results_partial_success_reruns_and_attempts():
    s = snapshot(
        build(1, "web CI"), build(2, "api CI"),
        timeline(1, "s1", "Stage", "Build", result="succeeded"),
        timeline(1, "s2", "Stage", "Test", result="succeededWithIssues", attempt=3),
        timeline(1, "s3", "Stage", "Deploy", result="skipped"),
        timeline(2, "s4", "Stage", "Build", result="canceled"),
        timeline(2, "s5", "Stage", "Deploy", state="inProgress", result=None, attempt=2),
        timeline(2, "j1", "Job", "Build", result="failed"),
    )
    stages = stage_status(s)
    assert stages.summary.count == 5 and stages.unit == "count"
    assert stages.counts == {"canceled": 1, "inProgress": 1, "skipped": 1, "succeeded": 1, "succeededWithIssues": 1,
                             "reruns": 2, "attempts": 8}
    assert {g.name: g.counts for g in stages.groups}["web CI"] == {
        "skipped": 1, "succeeded": 1, "succeededWithIssues": 1, "reruns": 1, "attempts": 5}


def test_release_stage_status_counts_environments_and_redeployments():
    s = snapshot(
        release(1, 7, [("Dev", "succeeded", 1), ("Prod", "partiallySucceeded", 2)]),
        release(2, 8, [("Dev", "canceled", 1), ("Prod", "notStarted", 0)], definition="api CD"),
    )
    metric = release_stage_status(s)
    assert metric.summary.count == 4
    assert metric.counts == {"canceled": 1, "notStarted": 1, "partiallySucceeded": 1, "succeeded": 1, "reruns": 1, "attempts": 4}
    assert [(g.name, g.count) for g in metric.groups] == [("api CD", 2), ("web CD", 2)]


def test_records_lacking_fields_are_skipped_never_a_crash():
    from standins.sei_receiver.report.records import StoredRecord

    s = snapshot(StoredRecord("build.build", "coll:1", {"status": "completed"}),
                 StoredRecord("build.timeline_record", "coll:1:x", {"type": "Stage"}),
                 StoredRecord("release.release", "coll:2", {"environments": "nope"}))
    assert pipeline_duration(s).skipped == 1 and stage_status(s).skipped == 1 and release_stage_status(s).skipped == 1
    assert job_duration(s).summary.count == 0 and queue_time(s).summary.p50 is None

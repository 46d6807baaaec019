"""The DORA four from classic releases and YAML environments: re-runs, a failure followed by a fix,
canceled attempts, unfinished deployments, one lead time per commit, a server without YAML environments."""

from __future__ import annotations

import pytest

from standins.sei_receiver.report.deployments import (
    is_production,
    production_deployments,
    yaml_reason,
)
from standins.sei_receiver.report.dora import dora_metrics
from tests.unit.report.records import (
    build,
    change,
    classic_deployment,
    env_record,
    environment,
    release,
    snapshot,
)

HOUR = 3600
DAY = 24 * HOUR


def world(api_versions=("7.0",), *extra):
    return snapshot(
        *[build(n, "web CI") for n in (10, 11, 12, 13, 14)],
        build(20, "web CI", branch="refs/heads/release"),
        build(30, "web", definition_id=2), build(31, "web", definition_id=2),
        change(10, "a", "2024-01-01T00:00:00Z"), change(10, "b", "2024-01-02T00:00:00.5Z"),
        change(11, "c", "2024-01-02T12:00:00Z"), change(12, "d", "2024-01-04T00:00:00Z"),
        change(12, "a", "2024-01-01T00:00:00Z"),  # the same commit carried again: one lead time
        change(13, "e", "2024-01-20T00:00:00Z"), change(20, "f", "2024-01-01T00:00:00Z"),
        change(30, "g", "2024-01-09T00:00:00Z"), change(31, "h", "2024-01-11T00:00:00Z"),
        change(31, "x", None),  # lacks its time: skipped
        release(1, 11), release(2, 12), release(3, 13), release(4, 14),
        classic_deployment(1, 1, "succeeded", "2024-01-02T00:00:00Z", environment="Dev"),
        classic_deployment(2, 1, "succeeded", "2024-01-03T00:00:00Z"),
        classic_deployment(3, 2, "failed", "2024-01-05T00:00:00Z"),
        classic_deployment(4, 2, "succeeded", "2024-01-05T06:00:00.0000001Z", attempt=2),  # the re-run fixes it
        classic_deployment(5, 3, "inProgress", None),
        classic_deployment(6, 4, "succeeded", "2024-01-24T00:00:00Z"),
        environment(5, "production"), environment(6, "staging"),
        env_record(1, 5, 30, "succeeded", "2024-01-10T01:00:00Z", job="a"),
        env_record(2, 5, 30, "succeededWithIssues", "2024-01-10T02:00:00Z", job="b"),
        env_record(3, 5, 31, "failed", "2024-01-12T00:00:00Z"),
        env_record(4, 5, 31, "canceled", "2024-01-12T01:00:00Z", stage_attempt=2),
        env_record(5, 5, 31, "succeeded", "2024-01-12T03:00:00Z", stage_attempt=3),
        env_record(6, 5, 32, "succeeded", "2024-01-13T03:00:00Z", job="a"),
        env_record(7, 5, 32, None, None, job="b"),  # still running: run 32 is not finished
        env_record(8, 6, 30, "failed", "2024-01-10T00:30:00Z"),  # staging: not production
        *extra,
        api_versions=api_versions,
    )


def metrics(s):
    return {m.id: m for m in dora_metrics(s)}


def test_production_deployments_from_both_sources():
    found = production_deployments(world())
    assert [(d.source, d.result) for d in found.items] == [
        ("classic", "succeeded"), ("classic", "failed"), ("classic", "succeeded"),
        ("yaml", "partiallySucceeded"), ("yaml", "failed"), ("yaml", "canceled"), ("yaml", "succeeded"),
        ("classic", "succeeded")]
    assert found.items[0].build_key == "coll:11" and found.items[3].build_key == "coll:30"


def test_deployment_frequency_per_week_counts_empty_weeks_between():
    frequency = metrics(world())["deployment_frequency"]
    assert frequency.summary.count == 5 and frequency.summary.value == 5 / 4
    assert [(w.week, w.count) for w in frequency.weekly] == [("2024-W01", 2), ("2024-W02", 2), ("2024-W03", 0), ("2024-W04", 1)]
    assert frequency.counts == {"2024-W01": 2, "2024-W02": 2, "2024-W04": 1}
    assert [(g.name, g.count, g.counts) for g in frequency.groups] == [
        ("web / production", 2, {"partiallySucceeded": 1, "succeeded": 1}), ("web CD / Production", 3, {"succeeded": 3})]
    assert frequency.reason is None


def test_change_failure_rate_leaves_canceled_out():
    rate = metrics(world())["change_failure_rate"]
    assert rate.counts == {"succeeded": 4, "partiallySucceeded": 1, "failed": 2, "canceled": 1}
    assert rate.summary.count == 7 and rate.summary.value == pytest.approx(2 / 7)


def test_time_to_restore_from_the_first_failure_to_the_next_success_per_pipeline():
    restore = metrics(world())["time_to_restore"]
    assert sorted((g.name, g.p50) for g in restore.groups) == [("web / production", 3 * HOUR), ("web CD / Production", 6 * HOUR)]
    assert (restore.summary.count, restore.summary.p50, restore.summary.p90) == (2, 3 * HOUR, 6 * HOUR)


def test_a_run_still_failing_has_no_restore_sample():
    s = snapshot(release(1, None), classic_deployment(1, 1, "succeeded", "2024-01-01T00:00:00Z"),
                 classic_deployment(2, 1, "failed", "2024-01-02T00:00:00Z"),
                 classic_deployment(3, 1, "failed", "2024-01-03T00:00:00Z"))
    assert metrics(s)["time_to_restore"].summary.count == 0
    assert metrics(s)["change_failure_rate"].summary.value == pytest.approx(2 / 3)


def test_lead_time_once_per_commit_from_the_first_production_deployment_shipping_it():
    lead = metrics(world())["lead_time"]
    # a, b (build 10) and c (11) ship with build 11 on Jan 3; d (12) on Jan 5 06:00 after the failure;
    # e (13) with build 14 on Jan 24; g with run 30, h with run 31; f (another branch) never
    expected = sorted([2 * DAY, DAY - 1, DAY // 2, DAY + 6 * HOUR, 4 * DAY, DAY + 2 * HOUR, DAY + 3 * HOUR])
    assert lead.summary.count == 7
    assert lead.summary.p50 == expected[3] and lead.summary.p90 == expected[6]
    assert lead.skipped == 1
    assert [(g.name, g.count) for g in lead.groups] == [("web", 2), ("web CI", 5)]


def test_no_deployments_gives_no_samples_and_no_rate():
    found = {m.id: m for m in dora_metrics(snapshot(api_versions=("7.0",)))}
    assert found["change_failure_rate"].summary.value is None and found["deployment_frequency"].summary.value is None
    assert all(m.summary.count == 0 and m.available for m in found.values())


def test_without_yaml_environments_on_the_server_the_metrics_say_so():
    old = {m.id: m for m in dora_metrics(snapshot(classic_deployment(1, 1, "succeeded", "2024-01-01T00:00:00Z"),
                                                  api_versions=("5.0",)))}
    assert all(m.available and "not available on this server version" in m.reason for m in old.values())
    assert old["deployment_frequency"].summary.count == 1
    assert "unknown" in yaml_reason(snapshot())
    assert yaml_reason(snapshot(environment(1, "prod"))) is None and yaml_reason(snapshot(api_versions=("6.0",))) is None


@pytest.mark.parametrize("name, production", [("Prod", True), ("production", True), ("prod-eu", True), ("PRODUCTION", True),
                                              ("Dev", False), ("QA", False), ("Staging", False), (None, False)])
def test_production_environment_names(name, production):
    assert is_production(name) is production

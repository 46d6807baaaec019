"""Hand checks of the truth: a few metrics recomputed from what a tiny world serves, and the DORA rules
on deployments written out by hand."""

from __future__ import annotations

from collections import Counter

import pytest

from standins.ado_simulator.truth import METRIC_IDS, world_metrics
from standins.ado_simulator.truth.deployments import (
    ProductionDeployment,
    change_failure_rate,
    classic_deployments,
    deployment_frequency,
    is_production,
    time_to_restore,
)
from standins.ado_simulator.truth.figures import nearest_rank
from standins.ado_simulator.truth.instants import US
from standins.ado_simulator.truth.lead_time import change_leads
from standins.ado_simulator.world.pipelines.builds import builds_of
from standins.ado_simulator.world.world import generate_world
from tests.unit.truth.served import Served
from tests.unit.truth.test_instants import parsed

DAY = 86400 * US


@pytest.fixture(scope="module")
def served() -> Served:
    world = generate_world(seed=7, scale="tiny")
    world.advance(6)
    return Served(world)


@pytest.fixture(scope="module")
def truth(served):
    return world_metrics(served.world, served.version)


def test_every_metric_id_once_and_no_freshness(truth):
    assert tuple(truth) == METRIC_IDS and "freshness" not in " ".join(METRIC_IDS)
    assert all(m.available for m in truth.values())


def test_pipeline_duration_and_queue_time_from_the_served_builds(served, truth):
    durations, queues, results = {}, {}, Counter()
    for project in served.world.projects:
        for body in served.items(f"{project.id}/_apis/build/builds"):
            if body["status"] != "completed":
                continue
            name = body["definition"]["name"]
            start, finish = parsed(body["startTime"]), parsed(body["finishTime"])
            durations.setdefault(name, []).append((finish - start) // US)
            queues.setdefault(name, []).append((start - parsed(body["queueTime"])) // US)
            results[body["result"]] += 1
    duration, queue = truth["pipeline_duration"], truth["queue_time"]
    assert duration.count == queue.count == sum(map(len, durations.values())) > 20
    assert dict(duration.counts) == dict(results)
    for name, values in durations.items():
        group = duration.group(name)
        assert (group.count, group.p50, group.p90) == (len(values), nearest_rank(values, 0.5), nearest_rank(values, 0.9))
        assert queue.group(name).p50 == nearest_rank(queues[name], 0.5)


def test_job_durations_and_stage_results_from_a_few_timelines(served, truth):
    world, domain = served.world, builds_of(served.world)
    started = [b for b in domain.builds if not b.deleted and b.status != "notStarted"]
    jobs, stages = Counter(), Counter()
    for build in started:
        definition = domain.definitions[build.definition - 1]
        project = world.projects[definition.project]
        for record in served.get(f"{project.id}/_apis/build/builds/{build.id}/timeline")["records"]:
            if record["type"] == "Job" and record["state"] == "completed" and "startTime" in record:
                seconds = (parsed(record["finishTime"]) - parsed(record["startTime"])) // US
                jobs[(f"{definition.name} / {record['name']}", seconds)] += 1
            if record["type"] == "Stage":
                stages[record.get("result") or record["state"]] += 1
                stages["attempts"] += record["attempt"]
                stages["reruns"] += record["attempt"] > 1
    job = truth["job_duration"]
    assert job.count == sum(jobs.values())
    for group in job.groups:
        values = sorted(s for (name, s), n in jobs.items() if name == group.name for _ in range(n))
        assert (group.count, group.p50) == (len(values), nearest_rank(values, 0.5))
    assert truth["stage_status"].count == sum(n for k, n in stages.items() if k not in ("attempts", "reruns"))
    assert dict(truth["stage_status"].counts) == {k: n for k, n in stages.items() if n or k in ("attempts", "reruns")}


def test_release_environments_as_served(served, truth):
    statuses, steps = Counter(), 0
    for project in served.world.projects:
        for release in served.items(f"{project.id}/_apis/release/releases", **{"$expand": "environments"}):
            for environment in release["environments"]:
                statuses[environment["status"]] += 1
                steps += len(environment["deploySteps"])
    metric = truth["release_stage_status"]
    assert metric.count == sum(statuses.values()) > 0
    assert metric.counts["attempts"] == steps
    assert {k: n for k, n in metric.counts.items() if k not in ("attempts", "reruns")} == dict(statuses)


def test_production_names():
    assert all(map(is_production, ("Prod", "production", "PROD-eu", "Production")))
    assert not any(map(is_production, ("Dev", "QA", "Staging", "Test", "preprod")))


def test_classic_production_deployments_are_the_finished_prod_ones_of_their_release_build(served):
    world = served.world
    expected = []
    for project in world.projects:
        for d in served.items(f"{project.id}/_apis/release/deployments"):
            if is_production(d["releaseEnvironment"]["name"]) and "completedOn" in d:
                release = served.get(f"{project.id}/_apis/release/releases/{d['release']['id']}")
                artifact = next(a for a in release["artifacts"] if a["isPrimary"] and a["type"] == "Build")
                build_id = int(artifact["definitionReference"]["version"]["id"])
                expected.append((d["deploymentStatus"], parsed(d["completedOn"]), build_id))
    found = classic_deployments(world)
    assert found and sorted((d.result, d.finish_us, d.build_id) for d in found) == sorted(expected)


def _d(key: str, result: str, day: float) -> ProductionDeployment:
    return ProductionDeployment("classic", key, key, 1, result, int(1_704_067_200 * US + day * DAY))


def test_time_to_restore_runs_of_failures_per_pipeline():
    deployments = [_d("a", "succeeded", 0), _d("a", "failed", 1), _d("b", "failed", 1.5), _d("a", "failed", 2),
                   _d("a", "canceled", 2.5), _d("a", "partiallySucceeded", 3), _d("b", "succeeded", 4),
                   _d("a", "failed", 5)]  # a: restored after 2 days, then still failing; b: after 2.5 days
    metric = time_to_restore(deployments)
    assert metric.count == 2 and sorted(g.p50 for g in metric.groups) == [2 * 86400, int(2.5 * 86400)]


def test_change_failure_rate_leaves_canceled_out():
    metric = change_failure_rate([_d("a", "succeeded", 0), _d("a", "failed", 1), _d("a", "canceled", 2),
                                  _d("b", "partiallySucceeded", 3)])
    assert (metric.count, metric.value) == (3, 1 / 3)
    assert dict(metric.counts) == {"succeeded": 1, "partiallySucceeded": 1, "failed": 1, "canceled": 1}
    assert change_failure_rate([]).value is None


def test_deployment_frequency_counts_every_week_between_the_first_and_the_last():
    metric = deployment_frequency([_d("a", "succeeded", 0), _d("a", "failed", 1), _d("b", "succeeded", 15),
                                   _d("a", "partiallySucceeded", 16)])  # 2024-01-01 is a Monday (W01)
    assert metric.count == 3 and metric.value == 1.0
    assert dict(metric.counts) == {"2024-W01": 1, "2024-W03": 2}
    assert [(g.name, g.count, dict(g.counts)) for g in metric.groups] == [
        ("a", 2, {"partiallySucceeded": 1, "succeeded": 1}), ("b", 1, {"succeeded": 1})]
    assert [(w.week, w.count) for w in metric.weekly] == [("2024-W01", 1), ("2024-W02", 0), ("2024-W03", 2)]


def test_lead_time_of_each_change_a_deployment_ships(served):
    """Every change of a production deployment's build (the build's changes route) has a lead time no later
    than that deployment, and never before the change's timestamp."""
    world = served.world
    domain = builds_of(world)
    deployments = classic_deployments(world)
    leads = change_leads(world, deployments)
    good = [d for d in deployments if d.result in ("succeeded", "partiallySucceeded")]
    assert good
    checked = 0
    for deployment in good:
        build = domain.builds[deployment.build_id - 1]
        project = world.projects[domain.definitions[build.definition - 1].project]
        for change in served.items(f"{project.id}/_apis/build/builds/{build.id}/changes", **{"$top": "5000"}):
            sample = leads[change["id"]]
            assert sample.end_us <= deployment.finish_us
            assert sample.seconds == (sample.end_us - parsed(change["timestamp"])) // US
            checked += 1
    assert checked > 0


def test_pull_request_spans_from_the_served_pull_requests(served, truth):
    world = served.world
    spans: dict[str, list[int]] = {s: [] for s in ("pr_coding", "pr_pickup", "pr_review", "pr_merge", "pr_total")}
    for project in world.projects:
        for pr in served.items(f"{project.id}/_apis/git/pullrequests", **{"searchCriteria.status": "completed"}):
            base = f"{project.id}/_apis/git/repositories/{pr['repository']['id']}/pullRequests/{pr['pullRequestId']}"
            commits = [parsed(c["author"]["date"]) for c in served.items(f"{base}/commits")]
            votes = [t for t in served.items(f"{base}/threads")
                     if t.get("properties", {}).get("CodeReviewThreadType", {}).get("$value") == "VoteUpdate"]
            voted = min((parsed(t["publishedDate"]) for t in votes), default=None)
            approved = min((parsed(t["publishedDate"]) for t in votes
                            if int(t["properties"]["CodeReviewVoteResult"]["$value"]) >= 5), default=None)
            first = min(commits, default=None)
            opened, merged = parsed(pr["creationDate"]), parsed(pr["closedDate"])
            for span, start, end in (("pr_coding", first, opened), ("pr_pickup", opened, voted),
                                     ("pr_review", voted, approved), ("pr_merge", approved, merged),
                                     ("pr_total", first, merged)):
                if start is not None and end is not None:
                    spans[span].append((end - start) // US)
    assert spans["pr_total"]
    for span, values in spans.items():
        metric = truth[span]
        assert (metric.count, metric.p50, metric.p90) == (len(values), nearest_rank(values, 0.5), nearest_rank(values, 0.9))


def test_work_item_cycle_time_from_the_served_revisions(served, truth):
    body = served.get("_apis/wit/reporting/workitemrevisions", includeDeleted="true", **{"$maxPageSize": "1000"})
    category = {"New": "Proposed", "Active": "InProgress", "Resolved": "Resolved", "Closed": "Completed"}
    by_item: dict[int, list[dict]] = {}
    for revision in body["values"]:
        by_item.setdefault(revision["fields"]["System.Id"], []).append(revision["fields"])
    values = []
    for revisions in by_item.values():
        revisions.sort(key=lambda f: f["System.Rev"])
        kinds = [category[f["System.State"]] for f in revisions]
        if "InProgress" not in kinds or kinds[-1] != "Completed":
            continue
        last_run = len(kinds) - 1
        while last_run > 0 and kinds[last_run - 1] == "Completed":
            last_run -= 1
        start = parsed(revisions[kinds.index("InProgress")]["System.ChangedDate"])
        values.append((parsed(revisions[last_run]["System.ChangedDate"]) - start) // US)
    metric = truth["work_item_cycle_time"]
    assert values and (metric.count, metric.p50, metric.p90) == (len(values), nearest_rank(values, 0.5),
                                                                  nearest_rank(values, 0.9))


def test_yaml_parts_are_marked_before_server_2020(served):
    old = world_metrics(served.world, "5.0")
    assert old["deployment_frequency"].available and "not available" in old["deployment_frequency"].reason
    assert old["pipeline_duration"].reason is None

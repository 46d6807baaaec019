"""The truth's instants are the times the server writes, to the microsecond a reader parses.

Each model time is compared with the same time in what the simulator serves for a tiny world."""

from __future__ import annotations

import datetime as dt

import pytest

from standins.ado_simulator.truth.instants import (
    FINISHED,
    QUEUED,
    STARTED,
    US,
    build_instant,
    iso_instant,
    pull_request_instant,
    release_instant,
    revision_instant,
    timeline_instant,
)
from standins.ado_simulator.world.git.pr_model import ACTIVE
from standins.ado_simulator.world.pipelines.builds import NOT_STARTED, builds_of
from standins.ado_simulator.world.pipelines.releases import releases_of
from standins.ado_simulator.world.world import generate_world
from tests.unit.truth.served import Served


def parsed(text: str) -> int:
    """An ISO time as a reader parses it: microseconds (a 7th digit dropped)."""
    when = dt.datetime.fromisoformat(text)
    return int(when.timestamp()) * US + when.microsecond


@pytest.fixture(scope="module")
def served() -> Served:
    world = generate_world(seed=7, scale="tiny")
    world.advance(6)
    return Served(world)


def test_build_times(served):
    domain = builds_of(served.world)
    seen = 0
    for project in served.world.projects:
        for body in served.items(f"{project.id}/_apis/build/builds"):
            build = domain.builds[body["id"] - 1]
            assert parsed(body["queueTime"]) == build_instant(build.queued, build.id, QUEUED)
            if "startTime" in body:
                assert parsed(body["startTime"]) == build_instant(build.started, build.id, STARTED)
            if "finishTime" in body:
                assert parsed(body["finishTime"]) == build_instant(build.finished, build.id, FINISHED)
                seen += 1
    assert seen > 20


def test_timeline_record_times(served):
    world, domain = served.world, builds_of(served.world)
    checked = 0
    for build in [b for b in domain.builds if not b.deleted and b.status != NOT_STARTED][:12]:
        project = world.projects[domain.definitions[build.definition - 1].project]
        records = {r.id: r for r in domain.timeline(build, world.clock)}
        for body in served.get(f"{project.id}/_apis/build/builds/{build.id}/timeline")["records"]:
            record = records[body["id"]]
            if "startTime" in body:
                assert parsed(body["startTime"]) == timeline_instant(record.start, record.id, finish=False)
                checked += 1
            if "finishTime" in body:
                assert parsed(body["finishTime"]) == timeline_instant(record.finish, record.id, finish=True)
    assert checked > 50


def test_pull_request_times_and_commit_dates(served):
    world = served.world
    domain = world.domain("pull_requests")
    closed = 0
    for project in world.projects:
        for body in served.items(f"{project.id}/_apis/git/pullrequests", **{"searchCriteria.status": "all"}):
            pr = domain.get(body["pullRequestId"])
            assert parsed(body["creationDate"]) == pull_request_instant(pr.created, pr.id, closed=False)
            if pr.status != ACTIVE:
                assert parsed(body["closedDate"]) == pull_request_instant(pr.closed, pr.id, closed=True)
                closed += 1
            repo = body["repository"]["id"]
            for commit in served.items(f"{project.id}/_apis/git/repositories/{repo}/pullRequests/{pr.id}/commits"):
                with world.reading(repo) as history:
                    model = history.commit(commit["commitId"])
                assert parsed(commit["author"]["date"]) == iso_instant(model.author_date)
    assert closed > 0


def test_deployment_completion_times(served):
    world, domain = served.world, releases_of(served.world)
    completed = 0
    for project in world.projects:
        for body in served.items(f"{project.id}/_apis/release/deployments"):
            deployment = domain.deployments[body["id"] - 1]
            if "completedOn" in body:
                assert parsed(body["completedOn"]) == release_instant(deployment.completed, deployment.id, FINISHED)
                completed += 1
    assert completed > 0


def test_work_item_revision_changed_dates(served):
    world = served.world
    domain = world.domain("work_items")
    body = served.get("_apis/wit/reporting/workitemrevisions", includeDeleted="true", **{"$maxPageSize": "1000"})
    states = {}
    for item in domain.items[1:]:
        for state in domain.history(item):
            states[(item.id, state.rev)] = state.changed
    assert len(body["values"]) > 100
    for revision in body["values"]:
        fields = revision["fields"]
        expected = revision_instant(states[(fields["System.Id"], fields["System.Rev"])])
        assert parsed(fields["System.ChangedDate"]) == expected

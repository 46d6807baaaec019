"""Service hook events of the simulator (standins/ado_simulator/events): the changes of a step, the payloads
built from them, the publisher filters, the fault plan's draws and the order of reordered deliveries; a world
with subscriptions generates exactly the data of one without."""

from __future__ import annotations

from collections import Counter

import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.events.changes import Changes, latest_change, take_snapshot
from standins.ado_simulator.events.delivery import _Job, _reordered, request_headers
from standins.ado_simulator.events.faults import EventFaultPlan
from standins.ado_simulator.events.filters import facts_of, matches
from standins.ado_simulator.events.payloads import Event, Message, build_events
from standins.ado_simulator.events.service import match_events
from standins.ado_simulator.events.subscriptions import Notification, Subscription
from standins.ado_simulator.world.world import generate_world

ORIGIN = "http://127.0.0.1:9"
ENVELOPE = {"id", "eventType", "publisherId", "message", "detailedMessage", "resource", "resourceVersion",
            "resourceContainers", "createdDate"}


def _events(steps: int = 3, profile: str = "2022", scale: str = "small") -> list[Event]:
    world = generate_world(7, scale)
    app = create_app(world, profile)
    events = []
    for _ in range(steps):
        with world.lock:
            before = take_snapshot(world)
            world.advance(1)
            changes = Changes.between(before, take_snapshot(world), world)
            events += build_events(changes, app.hooks.reader, ORIGIN)
    return events


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return _events()


def _subscription(event_type: str, **inputs: str) -> Subscription:
    return Subscription("s1", "tfs", event_type, "1.0", dict(inputs), {"url": "http://127.0.0.1:1/x"}, "enabled", 0, 0.0,
                        0.0, ORIGIN)


def test_a_step_publishes_every_kind_of_event(events):
    kinds = Counter(e.event_type for e in events)
    for kind in ("git.push", "build.complete", "workitem.created", "workitem.updated", "tfvc.checkin",
                 "ms.vss-pipelines.run-state-changed-event", "ms.vss-release.deployment-completed-event"):
        assert kinds[kind] > 0, (kind, kinds)
    assert any(k.startswith("git.pullrequest.") for k in kinds), kinds


def test_the_envelope_and_the_resources_have_the_documented_shapes(events):
    by_kind = {e.event_type: e for e in events}
    for event in events:
        body = event.to_json("sub", 3)
        assert set(body) == ENVELOPE | {"subscriptionId", "notificationId"}
        assert set(body["message"]) == {"text", "html", "markdown"} and body["message"]["text"]
        assert body["resourceContainers"]["collection"]["id"] and body["resourceContainers"]["project"]["id"]
        assert body["createdDate"].endswith("Z")
    push = by_kind["git.push"].resource
    assert {"pushId", "refUpdates", "commits", "repository", "pushedBy", "date", "url"} <= set(push)
    pull_request = next(e.resource for e in events if e.event_type.startswith("git.pullrequest."))
    assert {"pullRequestId", "repository", "status", "sourceRefName", "targetRefName", "commits"} <= set(pull_request)
    build = by_kind["build.complete"].resource
    assert build["status"] == "completed" and build["result"] and build["definition"]["name"]
    update = by_kind["workitem.updated"].resource
    assert {"workItemId", "rev", "fields", "revision", "revisedBy", "url"} <= set(update)
    assert all(set(v) <= {"oldValue", "newValue"} for v in update["fields"].values())
    created = by_kind["workitem.created"].resource
    assert created["rev"] == 1 and created["fields"]["System.WorkItemType"]
    assert {"changesetId", "author", "checkedInBy", "createdDate"} <= set(by_kind["tfvc.checkin"].resource)
    run = by_kind["ms.vss-pipelines.run-state-changed-event"].resource
    assert {"run", "pipeline", "runId", "pipelineId"} <= set(run) and run["run"]["id"] == run["runId"]
    deployment = by_kind["ms.vss-release.deployment-completed-event"].resource
    assert {"environment", "release", "deployment", "project"} <= set(deployment)
    assert deployment["deployment"]["deploymentStatus"] in ("succeeded", "partiallySucceeded", "failed")
    assert by_kind["ms.vss-release.deployment-completed-event"].publisher_id == "rm"
    assert by_kind["ms.vss-pipelines.run-state-changed-event"].publisher_id == "pipelines"


def test_event_ids_are_stable_and_unique(events):
    again = _events()
    assert [e.id for e in again] == [e.id for e in events]
    assert len({e.id for e in events}) == len(events)


def test_resource_details_and_messages_follow_the_consumer_inputs(events):
    event = next(e for e in events if e.event_type == "git.push")
    assert event.to_json(resource_details="none")["resource"] is None
    assert set(event.to_json(resource_details="minimal")["resource"]) <= {"pushId", "url"}
    assert event.to_json(messages="text")["message"] == {"text": event.message.text}
    assert event.to_json(detailed_messages="none")["detailedMessage"] is None


def test_no_pipelines_events_before_2020():
    assert not [e for e in _events(2, "2019", "tiny") if e.event_type.startswith("ms.vss-pipelines")]


def test_a_world_with_subscriptions_generates_the_same_data():
    plain, watched = generate_world(7, "small"), generate_world(7, "small")
    app = create_app(watched)
    app.hooks.store.put(_subscription("git.push"))
    plain_counts = plain.advance(4)
    watched_counts = app.hooks.advance(watched, 4)
    assert watched_counts == plain_counts
    assert watched.truth("7.0") == plain.truth("7.0")
    app.hooks.close()


# -- filters ------------------------------------------------------------------------------------


def _event(event_type: str, resource: dict, project: str = "p1", extra: dict | None = None) -> Event:
    message = Message.of("x")
    return Event("e1", event_type, 0.0, message, message, resource, {"project": project}, extra or {})


def test_push_filters_by_project_repository_branch_and_pusher():
    event = _event("git.push", {"repository": {"id": "R1"}, "refUpdates": [{"name": "refs/heads/main"}],
                                "pushedBy": {"id": "U1", "uniqueName": "DOM\\ann"}})
    assert matches(event, {"projectId": "P1", "repository": "r1", "branch": "main", "pushedBy": "dom\\ANN"})
    assert matches(event, {"branch": "refs/heads/main", "pushedBy": "u1", "hostId": "ignored"})
    assert not matches(event, {"branch": "dev"})
    assert not matches(event, {"repository": "r2"})
    assert not matches(event, {"projectId": "p2"})
    assert matches(event, {"branch": "", "repository": ""})


def test_pull_request_filters_on_the_target_branch_people_and_update_kind():
    resource = {"repository": {"id": "R1"}, "targetRefName": "refs/heads/main", "createdBy": {"id": "U1"},
                "reviewers": [{"id": "U2", "uniqueName": "DOM\\bo"}]}
    event = _event("git.pullrequest.updated", resource, extra={"notificationType": ("ReviewerVoteNotification",)})
    assert matches(event, {"branch": "main", "pullrequestCreatedBy": "u1", "pullrequestReviewersContains": "DOM\\bo",
                           "notificationType": "ReviewerVoteNotification"})
    assert not matches(event, {"notificationType": "PushNotification"})
    assert not matches(event, {"pullrequestReviewersContains": "u1"})


def test_build_work_item_tfvc_pipeline_and_deployment_filters():
    build = _event("build.complete", {"definition": {"name": "CI"}, "result": "canceled"})
    assert matches(build, {"definitionName": "ci", "buildStatus": "Stopped"})
    assert not matches(build, {"buildStatus": "Failed"})
    item = _event("workitem.updated", {"revision": {"fields": {"System.WorkItemType": "Bug", "System.AreaPath": "Web\\UI"}}})
    assert matches(item, {"workItemType": "bug", "areaPath": "Web"}) and matches(item, {"areaPath": "Web\\UI"})
    assert not matches(item, {"areaPath": "We"}) and not matches(item, {"workItemType": "Task"})
    checkin = _event("tfvc.checkin", {}, extra={"path": ("$/Web/Main/a.cs",)})
    assert matches(checkin, {"path": "$/Web/Main"}) and matches(checkin, {"path": "$/Web/"})
    assert not matches(checkin, {"path": "$/Web/Ma"})
    run = _event("ms.vss-pipelines.run-state-changed-event", {"pipelineId": 4, "run": {"state": "completed", "result": "failed"}})
    assert matches(run, {"pipelineId": "4", "runStateId": "Completed", "runResultId": "Failed"})
    assert not matches(run, {"runStateId": "InProgress"})
    deployment = _event("ms.vss-release.deployment-completed-event",
                        {"release": {"releaseDefinition": {"id": 2}}, "environment": {"definitionEnvironmentId": 5,
                                                                                     "status": "rejected"}})
    assert matches(deployment, {"releaseDefinitionId": "2", "releaseEnvironmentId": "5", "releaseEnvironmentStatus": "Rejected"})
    assert facts_of(deployment)["releaseEnvironmentStatus"] == ("Rejected",)


def test_match_events_keeps_event_order_and_skips_disabled_subscriptions():
    first = _event("git.push", {"refUpdates": [{"name": "refs/heads/main"}]})
    second = _event("build.complete", {"definition": {"name": "CI"}, "result": "succeeded"})
    push, build = _subscription("git.push"), _subscription("build.complete", buildStatus="Succeeded")
    off = Subscription("s3", "tfs", "git.push", "1.0", {}, {"url": "http://x/"}, "disabledByUser", 0, 0.0, 0.0, ORIGIN)
    assert match_events([first, second], [push, build, off]) == [(push, first), (build, second)]


# -- faults, delivery order, headers ------------------------------------------------------------


def test_fault_draws_are_seeded_and_deterministic():
    plan = EventFaultPlan.parse("drop:0.1,duplicate:0.1,delay:0.2,reorder:0.2", seed=3)
    draws = [plan.decide("s", f"e{i}") for i in range(2000)]
    assert draws == [plan.decide("s", f"e{i}") for i in range(2000)]
    assert draws != [EventFaultPlan.parse("drop:0.1,duplicate:0.1,delay:0.2,reorder:0.2", seed=4).decide("s", f"e{i}")
                     for i in range(2000)]
    counts = Counter(kind for d in draws for kind in d)
    assert 150 < counts["drop"] < 250 and 130 < counts["duplicate"] < 230 and 280 < counts["reorder"] < 450
    assert all(d == {"drop"} for d in draws if "drop" in d)
    assert EventFaultPlan().decide("s", "e") == frozenset()


def test_fault_plan_parsing_and_json():
    plan = EventFaultPlan.parse("drop:0.5, delay:1", seed=2, delay_s=0.5)
    assert (plan.drop, plan.delay, plan.duplicate, plan.seed, plan.delay_s) == (0.5, 1.0, 0.0, 2, 0.5)
    assert EventFaultPlan.from_json(plan.to_json()) == plan
    assert EventFaultPlan.parse("").empty and EventFaultPlan.parse("off").empty
    for bad in ("drop", "lose:0.1", "drop:x", "drop:1.5"):
        with pytest.raises(ValueError):
            EventFaultPlan.parse(bad)
    with pytest.raises(ValueError):
        EventFaultPlan.from_json({"dropped": 0.1})


def _job(subscription_id: str, event_id: str) -> _Job:
    subscription = Subscription(subscription_id, "tfs", "git.push", "1.0", {}, {}, "enabled", 0, 0.0, 0.0, ORIGIN)
    message = Message.of("x")
    return _Job(subscription, Event(event_id, "git.push", 0.0, message, message, {}), Notification(0, subscription_id,
                                                                                                   event_id, "git.push", 0.0, 0.0))


def test_a_reordered_notification_goes_after_the_next_one_of_its_subscription():
    jobs = [(_job("a", "1"), frozenset({"reorder"})), (_job("b", "2"), frozenset()), (_job("a", "3"), frozenset()),
            (_job("a", "4"), frozenset({"reorder"}))]
    order = [(j.subscription.id, j.event.id) for j, _ in _reordered(jobs)]
    assert order == [("b", "2"), ("a", "3"), ("a", "1"), ("a", "4")]  # the last has nothing after it: stays


def test_request_headers_carry_basic_credentials_and_the_http_headers_lines():
    subscription = Subscription("s", "tfs", "git.push", "1.0", {}, {"url": "http://x/", "basicAuthUsername": "ado",
                                                                  "basicAuthPassword": "pw", "httpHeaders": "X-A: 1\nX-B:two\nbad"},
                                "enabled", 0, 0.0, 0.0, ORIGIN)
    headers = request_headers(subscription)
    assert headers["Authorization"] == "Basic YWRvOnB3"
    assert headers["X-A"] == "1" and headers["X-B"] == "two" and "bad" not in headers
    assert "Authorization" not in request_headers(Subscription("s", "tfs", "git.push", "1.0", {}, {"url": "http://x/"},
                                                               "enabled", 0, 0.0, 0.0, ORIGIN))


def test_latest_change_finds_something_for_every_event_type():
    world = generate_world(7, "small")
    with world.lock:
        for event_type in ("git.push", "git.pullrequest.created", "git.pullrequest.merged", "build.complete",
                           "ms.vss-pipelines.run-state-changed-event", "workitem.created", "workitem.updated",
                           "workitem.commented", "workitem.deleted", "tfvc.checkin",
                           "ms.vss-release.deployment-completed-event"):
            assert not latest_change(world, event_type).empty, event_type

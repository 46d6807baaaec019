"""Service hook events from a running simulator to a tiny loopback receiver of the test's: subscriptions
created through the REST API (with the right PAT scope), events posted with the subscription's Basic
credentials and headers when the world advances, filters honoured, retries recorded in the notification
history, and the event faults (drops, duplicates, delays, reordering) seeded and deterministic."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.events.delivery import DeliveryConfig
from standins.ado_simulator.events.faults import EventFaultPlan
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from tests.integration.test_simulator_spec import schema_errors
from tests.simulator_samples import spec_index
from tests.support import COLLECTION, PAT, wait_until

pytestmark = pytest.mark.integration

READER_PAT = "CANARY-HOOKS-READ-PAT-5e6f7a8b"
SECRET = "CANARY-HOOK-SECRET-9c8d7e6f"
PATS = {PAT: frozenset({"vso.hooks_write", "vso.code"}), READER_PAT: frozenset({"vso.hooks", "vso.code"})}
V = {"api-version": "7.0"}
ENVELOPE = {"subscriptionId", "notificationId", "id", "eventType", "publisherId", "message", "detailedMessage",
            "resource", "resourceVersion", "resourceContainers", "createdDate"}
ALL_TYPES = (("tfs", "git.push"), ("tfs", "git.pullrequest.created"), ("tfs", "git.pullrequest.updated"),
             ("tfs", "git.pullrequest.merged"), ("tfs", "build.complete"), ("tfs", "workitem.created"),
             ("tfs", "workitem.updated"), ("tfs", "workitem.commented"), ("tfs", "workitem.deleted"),
             ("tfs", "tfvc.checkin"), ("pipelines", "ms.vss-pipelines.run-state-changed-event"),
             ("rm", "ms.vss-release.deployment-completed-event"))


@dataclass
class Sink:
    """A loopback HTTP receiver: records each POST (headers, JSON body); answers ``fail_first`` with 503."""

    received: list[tuple[dict[str, str], dict]] = field(default_factory=list)
    fail_first: int = 0
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}/events/ado/test"

    def bodies(self) -> list[dict]:
        with self.lock:
            return [body for _, body in self.received]


@pytest.fixture
def sink() -> Iterator[Sink]:
    state = Sink()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                failing = state.fail_first > 0
                state.fail_first -= 1 if failing else 0
                if not failing:
                    state.received.append((dict(self.headers), body))
            self.send_response(503 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.server.shutdown()
    state.server.server_close()


def _subscription(sink: Sink, publisher: str, event_type: str, **inputs: str) -> dict:
    return {"publisherId": publisher, "eventType": event_type, "resourceVersion": "1.0", "consumerId": "webHooks",
            "consumerActionId": "httpRequest", "publisherInputs": inputs,
            "consumerInputs": {"url": sink.url, "basicAuthUsername": "ado", "basicAuthPassword": SECRET,
                               "httpHeaders": "X-Integration: prod"}}


class Running:
    def __init__(self, server_url: str, app) -> None:
        self.url = server_url
        self.app = app
        self.client = httpx.Client(auth=("", PAT), timeout=30, headers={"X-TFS-FedAuthRedirect": "Suppress"})
        self.hooks = f"{server_url}{COLLECTION}/_apis/hooks"

    def subscribe(self, body: dict) -> dict:
        response = self.client.post(f"{self.hooks}/subscriptions", params=V, json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def advance(self, steps: int) -> dict:
        return self.client.post(f"{self.url}/_sim/advance", json={"steps": steps}).json()

    def settled(self) -> dict:
        """``/_sim/events`` once nothing is pending."""
        def done() -> dict | None:
            log = self.client.get(f"{self.url}/_sim/events").json()
            return log if log["pending"] == 0 else None

        return wait_until(done, 60, "the event deliveries to finish")

    def notifications(self, subscription_id: str, **params) -> list[dict]:
        response = self.client.get(f"{self.hooks}/subscriptions/{subscription_id}/notifications", params=V | params)
        assert response.status_code == 200, response.text
        return response.json()["value"]


def _running(seed: int = 7, faults: EventFaultPlan | None = None, backoff_s: float = 0.02):
    world = generate_world(seed, "small")
    app = create_app(world, "2022", PATS, event_faults=faults, delivery=DeliveryConfig(backoff_s=backoff_s))
    return app, serve_in_thread(app)


def test_subscriptions_need_the_hooks_write_scope_and_hide_the_password(sink):
    app, server = _running()
    with server, httpx.Client(auth=("", READER_PAT), timeout=30, headers={"X-TFS-FedAuthRedirect": "Suppress"}) as reader:
        run = Running(server.url, app)
        refused = reader.post(f"{run.hooks}/subscriptions", params=V, json=_subscription(sink, "tfs", "git.push"))
        assert refused.status_code == 403 and "vso.hooks_write" in refused.json()["message"]
        created = run.subscribe(_subscription(sink, "tfs", "git.push", branch="main"))
        assert created["status"] == "enabled" and created["consumerInputs"]["basicAuthPassword"] == "********"
        listed = reader.get(f"{run.hooks}/subscriptions", params=V | {"eventType": "git.push"}).json()
        assert [s["id"] for s in listed["value"]] == [created["id"]]
        bad = run.client.post(f"{run.hooks}/subscriptions", params=V,
                              json=_subscription(sink, "tfs", "git.push", definitionName="CI"))
        assert bad.status_code == 400 and "definitionName" in bad.json()["message"]
        kept = run.client.put(f"{run.hooks}/subscriptions/{created['id']}", params=V,
                              json=created | {"status": "disabledByUser"})
        assert kept.status_code == 200 and kept.json()["status"] == "disabledByUser"
        assert app.hooks.store.get(created["id"]).consumer_inputs["basicAuthPassword"] == SECRET
        assert run.client.delete(f"{run.hooks}/subscriptions/{created['id']}", params=V).status_code == 204
        assert run.client.get(f"{run.hooks}/subscriptions/{created['id']}", params=V).status_code == 404
        run.client.close()


def test_events_reach_the_subscribed_url_with_basic_credentials_filters_and_history(sink):
    app, server = _running()
    with server:
        run = Running(server.url, app)
        subscriptions = {event_type: run.subscribe(_subscription(sink, publisher, event_type))["id"]
                         for publisher, event_type in ALL_TYPES}
        main_only = run.subscribe(_subscription(sink, "tfs", "git.push", branch="main"))["id"]
        run.advance(4)
        log = run.settled()
        bodies = sink.bodies()
        assert bodies and all(a["status"] == 200 and a["attempt"] == 1 for a in log["sent"])
        assert len(bodies) == len(log["sent"])
        for headers, body in sink.received:
            assert headers["Authorization"] == "Basic " + base64.b64encode(f"ado:{SECRET}".encode()).decode()
            assert headers["X-Integration"] == "prod" and headers["Content-Type"].startswith("application/json")
            assert set(body) == ENVELOPE
            assert body["subscriptionId"] in (*subscriptions.values(), main_only)
        kinds = Counter(b["eventType"] for b in bodies if b["subscriptionId"] != main_only)
        for kind in ("git.push", "build.complete", "workitem.updated", "tfvc.checkin",
                     "ms.vss-release.deployment-completed-event", "ms.vss-pipelines.run-state-changed-event"):
            assert kinds[kind] > 0, kinds
        for body in bodies:
            assert subscriptions.get(body["eventType"]) == body["subscriptionId"] or body["subscriptionId"] == main_only
        pushes = [b for b in bodies if b["subscriptionId"] == subscriptions["git.push"]]
        on_main = [b for b in bodies if b["subscriptionId"] == main_only]
        assert on_main and len(on_main) < len(pushes)
        assert all(any(u["name"] == "refs/heads/main" for u in b["resource"]["refUpdates"]) for b in on_main)
        assert {b["id"] for b in on_main} == {b["id"] for b in pushes
                                              if any(u["name"] == "refs/heads/main" for u in b["resource"]["refUpdates"])}
        history = run.notifications(subscriptions["git.push"])
        assert len(history) == len(pushes)
        assert all(n["status"] == "completed" and n["result"] == "succeeded" and n["details"]["requestAttempts"] == 1
                   for n in history)
        assert {n["eventId"] for n in history} == {b["id"] for b in pushes}
        assert SECRET not in json.dumps(history)
        schema = spec_index("7.0").operation("GET", "_apis/hooks/subscriptions/{subscriptionId}/notifications")[1]["schema"]
        assert schema_errors("7.0", schema, {"count": len(history), "value": history}) == []
        for body in bodies[:50]:  # the payloads are Events as the spec defines them, plus the two routing ids
            event = {k: v for k, v in body.items() if k not in ("subscriptionId", "notificationId")}
            assert schema_errors("7.0", {"$ref": "#/$defs/Event"}, event) == [], body["eventType"]
        assert [n["id"] for n in history] == sorted((n["id"] for n in history), reverse=True)  # newest first
        run.client.close()


def test_failed_deliveries_are_retried_with_backoff_and_recorded(sink):
    app, server = _running()
    with server:
        run = Running(server.url, app)
        subscription = run.subscribe(_subscription(sink, "tfs", "tfvc.checkin"))["id"]
        sink.fail_first = 2
        run.advance(2)
        log = run.settled()
        by_notification: dict[int, list[dict]] = {}
        for attempt in log["sent"]:
            by_notification.setdefault(attempt["notificationId"], []).append(attempt)
        assert sum(a["status"] == 503 for a in log["sent"]) == 2
        history = {n["id"]: n for n in run.notifications(subscription)}
        for notification_id, attempts in by_notification.items():
            assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
            assert [a["status"] for a in attempts] == [503] * (len(attempts) - 1) + [200]
            assert history[notification_id]["details"]["requestAttempts"] == len(attempts)
            assert history[notification_id]["result"] == "succeeded"
        assert any(len(attempts) > 1 for attempts in by_notification.values())
        assert len(sink.bodies()) == len(by_notification)
        sink.fail_first = 10**6  # the receiver is down: after 4 attempts the notification fails
        run.advance(1)
        run.settled()
        failed = run.notifications(subscription, result="failed")
        assert failed and all(n["details"]["requestAttempts"] == 4 for n in failed)
        assert run.client.get(f"{run.hooks}/subscriptions/{subscription}", params=V).json()["status"] == "onProbation"
        run.client.close()


def _faulty_run(sink: Sink, faults: EventFaultPlan | None) -> tuple[list[dict], dict]:
    app, server = _running(faults=faults)
    with server:
        run = Running(server.url, app)
        for publisher, event_type in ALL_TYPES[:6]:
            run.subscribe(_subscription(sink, publisher, event_type))
        run.advance(3)
        log = run.settled()
        run.client.close()
    return log["sent"], log


def test_event_faults_drop_duplicate_delay_and_reorder_deterministically(sink):
    plan = EventFaultPlan(drop=0.2, duplicate=0.2, delay=0.2, reorder=0.3, seed=5, delay_s=0.3)
    clean, _ = _faulty_run(sink, None)
    sink.received.clear()
    sent, log = _faulty_run(sink, plan)
    received = sink.bodies()
    sink.received.clear()
    again, log_again = _faulty_run(sink, plan)
    expected = Counter(a["eventId"] for a in clean)
    got = Counter(b["id"] for b in received)
    dropped = {d["eventId"] for d in log["dropped"]}
    assert dropped and all(got[e] == 0 for e in dropped)
    duplicated = {e for e, n in got.items() if n == 2}
    assert duplicated and all(sum(a["fault"] == "duplicate" for a in sent if a["eventId"] == e) == 1 for e in duplicated)
    assert set(got) | dropped == set(expected)  # nothing invented, nothing lost but the drops
    assert any("delay" in a["fault"] for a in sent) and any("reorder" in a["fault"] for a in sent)
    assert [b["id"] for b in received] != [a["eventId"] for a in clean if a["eventId"] not in dropped]  # reordered
    # the same seed, the same world: the same faults on the same events (when a delayed one goes out depends on
    # the clock; the order of everything else does not: below)
    assert Counter((a["eventId"], a["fault"]) for a in again) == Counter((a["eventId"], a["fault"]) for a in sent)
    assert log_again["dropped"] and [d["eventId"] for d in log_again["dropped"]] == [d["eventId"] for d in log["dropped"]]


def test_reordering_without_delays_gives_the_same_order_every_time(sink):
    plan = EventFaultPlan(duplicate=0.2, reorder=0.4, seed=9)
    orders = []
    for _ in range(2):
        sink.received.clear()
        sent, _ = _faulty_run(sink, plan)
        orders.append([(a["eventId"], a["fault"]) for a in sent])
        assert [b["id"] for b in sink.bodies()] == [a["eventId"] for a in sent]
    assert orders[0] == orders[1] and any(fault == "reorder" for _, fault in orders[0])


def test_event_faults_are_set_at_run_time_and_a_test_notification_is_sent(sink):
    app, server = _running()
    with server:
        run = Running(server.url, app)
        put = run.client.put(f"{run.url}/_sim/event-faults", json={"drop": 1.0, "seed": 2})
        assert put.status_code == 200 and put.json()["plan"]["drop"] == 1.0
        subscription = run.subscribe(_subscription(sink, "tfs", "build.complete"))["id"]
        run.advance(2)
        log = run.settled()
        assert log["dropped"] and not log["sent"] and not sink.bodies()
        assert run.notifications(subscription) == []  # the server lost them: no history either
        assert run.client.delete(f"{run.url}/_sim/event-faults").json()["plan"]["drop"] == 0.0
        test = run.client.post(f"{run.hooks}/testnotifications", params=V, json={"subscriptionId": subscription})
        assert test.status_code == 200 and test.json()["subscriptionId"] == subscription
        run.settled()
        assert [b["eventType"] for b in sink.bodies()] == ["build.complete"]
        assert run.client.delete(f"{run.url}/_sim/events").json()["cleared"] >= 1
        run.client.close()

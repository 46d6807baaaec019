"""Events (issue 22): payload shape, constant-time auth, de-duplication, due partitions, the flood bound."""

from __future__ import annotations

import base64
import hmac
import json
import threading
from types import SimpleNamespace

import pytest
import structlog

from satellite.config.model import EventSettings
from satellite.events.auth import basic_credentials_match
from satellite.events.catalog import EVENT_TYPES, types_for_services
from satellite.events.focus import Focus
from satellite.events.health import covered_streams, stale_finding
from satellite.events.payload import InvalidEvent, parse_event
from satellite.events.receiver import EventReceiver
from satellite.metrics import EVENTS
from satellite.store import Store
from satellite.store.events import DuePartition, EventJournal

COLLECTION = "11111111-1111-1111-1111-111111111111"
PROJECT = "22222222-2222-2222-2222-222222222222"
REPO = "33333333-3333-3333-3333-333333333333"
SECRET = "correct-horse-battery-staple-canary-7c1"


def push(event_id: str = "e-1", **overrides) -> dict:
    body = {"id": event_id, "eventType": "git.push", "publisherId": "tfs",
            "resource": {"repository": {"id": REPO, "project": {"id": PROJECT}}, "pushId": 7},
            "resourceContainers": {"collection": {"id": COLLECTION}, "project": {"id": PROJECT}}}
    body.update(overrides)
    return body


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def integration(**events) -> SimpleNamespace:
    settings = EventSettings(**{"enabled": True, "password": SECRET, "public_url": "http://sat:8080", **events})
    return SimpleNamespace(id="prod", events=settings, services=("repos", "tfvc", "pipelines", "boards"))


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "data")
    yield store
    store.close()


# --- payload ---------------------------------------------------------------------------------------


def test_a_push_marks_its_repository_streams_due():
    event = parse_event(json.dumps(push()).encode())
    assert (event.event_id, event.event_type, event.collection_id, event.project_id, event.repository_id) == (
        "e-1", "git.push", COLLECTION, PROJECT, REPO)
    assert {(d.stream, d.parent_id, d.project_id) for d in event.due(("repos",))} == {
        ("git.refs", REPO, PROJECT), ("git.pushes", REPO, PROJECT), ("git.commits", REPO, PROJECT)}
    assert event.due(("boards",)) == ()  # a service not collected marks nothing


@pytest.mark.parametrize("name, partition", [
    ("git.pullrequest.merged", ("git.pull_requests", PROJECT)),
    ("build.complete", ("build.builds", PROJECT)),
    ("ms.vss-release.deployment-completed-event", ("release.releases", PROJECT)),
    ("workitem.commented", ("wit.comments", "")),
])
def test_each_kind_marks_only_its_partition(name, partition):
    event = parse_event(json.dumps(push(eventType=name, resource={})).encode())
    due = {(d.stream, d.parent_id) for d in event.due(("repos", "tfvc", "pipelines", "boards"))}
    assert partition in due
    assert all(parent == partition[1] for _, parent in due)


def test_a_checkin_marks_the_changesets_and_its_projects_branches_and_labels():
    event = parse_event(json.dumps(push(eventType="tfvc.checkin", resource={"changesetId": 5})).encode())
    assert {(d.stream, d.parent_id) for d in event.due(("tfvc",))} == {
        ("tfvc.changesets", ""), ("tfvc.branches", PROJECT), ("tfvc.labels", PROJECT)}
    alone = parse_event(json.dumps(push(eventType="tfvc.checkin", resource={}, resourceContainers={})).encode())
    assert [d.stream for d in alone.due(("tfvc",))] == ["tfvc.changesets"]


@pytest.mark.parametrize("body, problem", [
    (b"not json", "not JSON"),
    (b"[1]", "not a JSON object"),
    (json.dumps(push(id="")).encode(), "id"),
    (json.dumps(push(id="has space")).encode(), "id"),
    (json.dumps({"id": "x"}).encode(), "eventType"),
    (json.dumps(push(resource={"repository": {"id": "../../etc"}})).encode(), "resource.repository.id is not a GUID"),
    (json.dumps(push(resource={}, resourceContainers={})).encode(), "project.id is missing"),
    (json.dumps(push(resourceContainers="x")).encode(), "not an object"),
])
def test_a_malformed_event_is_refused_naming_the_field_not_the_value(body, problem):
    with pytest.raises(InvalidEvent) as caught:
        parse_event(body)
    assert problem in str(caught.value) and "etc" not in str(caught.value)


def test_an_unknown_event_type_parses_and_marks_nothing():
    event = parse_event(json.dumps(push(eventType="ms.vss-code.git-something-else")).encode())
    assert event.kind is None and event.due(("repos",)) == ()


def test_the_catalog_covers_each_service_and_its_streams():
    assert {t.service for t in EVENT_TYPES} == {"repos", "tfvc", "pipelines", "boards"}
    assert [t.name for t in types_for_services(("tfvc",))] == ["tfvc.checkin"]
    assert covered_streams(("repos",)) == {"git.refs", "git.pushes", "git.commits", "git.pull_requests"}


# --- auth --------------------------------------------------------------------------------------------


def test_basic_credentials_match_exactly():
    assert basic_credentials_match(basic("ado", SECRET), "ado", SECRET)
    assert basic_credentials_match("basic " + basic("ado", SECRET)[6:], "ado", SECRET)
    for header in (None, "", basic("ado", SECRET + "x"), basic("ado", SECRET[:-1]), basic("other", SECRET),
                   "Bearer " + SECRET, "Basic !!!", "Basic " + base64.b64encode(SECRET.encode()).decode()):
        assert not basic_credentials_match(header, "ado", SECRET), header


def test_credentials_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("satellite.events.auth.hmac.compare_digest", spy)
    assert not basic_credentials_match(basic("wrong", SECRET), "ado", SECRET)
    assert len(calls) == 2  # both parts compared even when the first is wrong: no early exit


# --- journal: de-duplication and due partitions ---------------------------------------------------------


def test_a_duplicate_event_id_marks_nothing_again(store):
    journal = EventJournal(store)
    due = [DuePartition(COLLECTION, "git.pushes", REPO, PROJECT)]
    assert journal.record("prod", "e-1", "git.push", due).new
    upto, _ = journal.due("prod")
    journal.collected("prod", upto)
    again = journal.record("prod", "e-1", "git.push", due)
    assert not again.new and journal.due("prod")[1] == []
    assert journal.record("other", "e-1", "git.push", due).new  # ids are per integration


def test_due_partitions_coalesce_and_a_later_mark_survives_collection(store):
    journal = EventJournal(store)
    due = [DuePartition(COLLECTION, "git.pushes", REPO, PROJECT)]
    for n in range(5):
        journal.record("prod", f"e-{n}", "git.push", due)
    upto, taken = journal.due("prod")
    assert taken == due and journal.waiting("prod") == 5
    journal.record("prod", "e-late", "git.push", due)  # marked again while the run reads it
    journal.collected("prod", upto)
    assert journal.due("prod")[1] == due and journal.waiting("prod") == 1
    upto, _ = journal.due("prod")
    journal.collected("prod", upto)
    assert journal.due("prod")[1] == [] and journal.waiting("prod") == 0


def test_a_unit_another_job_ran_stays_due(store):
    journal = EventJournal(store)
    running = DuePartition(COLLECTION, "git.commits", REPO, PROJECT)
    done = DuePartition(COLLECTION, "git.refs", REPO, PROJECT)
    journal.record("prod", "e-1", "git.push", [running, done])
    upto, _ = journal.due("prod")
    journal.collected("prod", upto, keep=[running])
    assert journal.due("prod")[1] == [running]


def test_events_survive_a_restart(tmp_path):
    store = Store(tmp_path / "data")
    EventJournal(store).record("prod", "e-1", "git.push", [DuePartition(COLLECTION, "git.refs", REPO, PROJECT)])
    store.close()
    store = Store(tmp_path / "data")
    try:
        assert EventJournal(store).due("prod")[1] == [DuePartition(COLLECTION, "git.refs", REPO, PROJECT)]
        assert not EventJournal(store).record("prod", "e-1", "git.push", []).new
    finally:
        store.close()


def test_focus_selects_by_collection_and_parent():
    due = (DuePartition(COLLECTION, "git.refs", REPO, PROJECT), DuePartition("", "wit.revisions", "", ""),
           DuePartition("99999999-9999-9999-9999-999999999999", "git.refs", "r2", PROJECT))
    focus = Focus(due)
    mine = focus.in_collection(COLLECTION.upper())
    assert mine == due[:2]
    assert focus.streams_of(mine, REPO.upper()) == {"git.refs"} and focus.streams_of(mine, "") == {"wit.revisions"}


def test_stale_needs_changes_and_quiet():
    assert stale_finding(3, last_event_at=None, listening_since=0.0, stale_after_s=60, now=61)
    assert not stale_finding(0, last_event_at=None, listening_since=0.0, stale_after_s=60, now=1000)
    assert not stale_finding(3, last_event_at=990.0, listening_since=0.0, stale_after_s=60, now=1000)
    assert not stale_finding(3, last_event_at=None, listening_since=950.0, stale_after_s=60, now=1000)


# --- receiver: auth, validation, flood bound, no secret in the logs ------------------------------------------


def _post(receiver: EventReceiver, body: dict | bytes, *, auth: str | None = None, integration_id: str = "prod"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return receiver.handle(integration_id, basic("ado", SECRET) if auth is None else auth, str(len(raw)),
                           lambda n: raw[:n])


def _count(outcome: str, integration_id: str = "prod") -> float:
    return EVENTS.labels(integration_id, outcome)._value.get()


def test_receiver_accepts_dedups_refuses_and_wakes(store):
    woken = []
    receiver = EventReceiver([integration(), SimpleNamespace(id="off", events=EventSettings(), services=())],
                             EventJournal(store), wake=woken.append)
    accepted, duplicate = _count("accepted"), _count("duplicate")
    assert _post(receiver, push()).status == 200 and woken == ["prod"]
    answer = _post(receiver, push())
    assert answer.status == 200 and "duplicate" in answer.body and woken == ["prod"]
    assert (_count("accepted") - accepted, _count("duplicate") - duplicate) == (1, 1)
    assert _post(receiver, push("e-2"), auth=basic("ado", "wrong-secret-wrong-secret")).status == 401
    assert _post(receiver, push("e-2"), integration_id="off").status == 404
    assert _post(receiver, push("e-2"), integration_id="nope").status == 404
    assert _post(receiver, b"{").status == 400
    assert _post(receiver, push("e-3", eventType="something.else")).status == 200
    assert {d.stream for d in EventJournal(store).due("prod")[1]} == {"git.refs", "git.pushes", "git.commits"}
    assert EventJournal(store).waiting("prod") == 1  # the forged, invalid and ignored ones recorded nothing


def test_a_forged_event_reads_no_body_and_records_nothing(store):
    receiver = EventReceiver([integration()], EventJournal(store))
    read = []
    answer = receiver.handle("prod", basic("ado", "forged-forged-forged-forged"), "10", lambda n: read.append(n) or b"")
    assert answer.status == 401 and answer.close and read == []
    assert EventJournal(store).due("prod")[1] == []


def test_a_flood_is_bounded_by_the_queue_limit(store):
    receiver = EventReceiver([integration(queue_limit=5)], EventJournal(store))
    before = _count("queue_full")
    statuses = [_post(receiver, push(f"e-{n}")).status for n in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    assert _count("queue_full") - before == 3
    answer = _post(receiver, push("e-9"))
    assert ("Retry-After", "10") in answer.headers
    journal = EventJournal(store)
    upto, _ = journal.due("prod")
    journal.collected("prod", upto)  # the event job caught up: room again
    assert _post(receiver, push("e-10")).status == 200


def test_concurrent_requests_beyond_the_slots_are_429(store):
    gate, entered = threading.Event(), threading.Event()
    receiver = EventReceiver([integration()], EventJournal(store), max_in_flight=1)
    raw = json.dumps(push("slow")).encode()

    def slow_read(n: int) -> bytes:
        entered.set()
        gate.wait(5)
        return raw

    worker = threading.Thread(target=lambda: receiver.handle("prod", basic("ado", SECRET), str(len(raw)), slow_read))
    worker.start()
    assert entered.wait(5)
    assert _post(receiver, push("fast")).status == 429
    gate.set()
    worker.join(5)
    assert _post(receiver, push("fast")).status == 200


def test_oversized_or_unsized_bodies_are_refused(store):
    receiver = EventReceiver([integration()], EventJournal(store))
    assert receiver.handle("prod", basic("ado", SECRET), str(64 * 1024 * 1024), lambda n: b"").status == 413
    assert receiver.handle("prod", basic("ado", SECRET), None, lambda n: b"").status == 411


def test_no_secret_in_the_logs(store):
    receiver = EventReceiver([integration()], EventJournal(store))
    with structlog.testing.capture_logs() as logs:
        _post(receiver, push("c-1"), auth=basic("ado", "canary-wrong-secret-0451"))
        _post(receiver, b'{"id": "canary-body-0451"}')
        _post(receiver, push("c-2"))
    text = repr(logs)
    assert logs and "canary" not in text and SECRET not in text


def test_a_flood_of_refusals_is_logged_once_a_minute(store, monkeypatch):
    receiver = EventReceiver([integration()], EventJournal(store))
    clock = [1000.0]
    monkeypatch.setattr("satellite.events.receiver.time.monotonic", lambda: clock[0])
    with structlog.testing.capture_logs() as logs:
        for _ in range(50):
            _post(receiver, push("x"), auth=basic("ado", "wrong-wrong-wrong-wrong"))
        clock[0] += 61
        _post(receiver, push("x"), auth=basic("ado", "wrong-wrong-wrong-wrong"))
    refused = [entry for entry in logs if entry["event"] == "event_refused"]
    assert len(refused) == 2 and refused[1]["not_logged_before"] == 49

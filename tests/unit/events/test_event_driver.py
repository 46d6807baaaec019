"""The agent's event job (satellite/events/driver.py): one run at a time, bursts gathered, units another
run holds kept due, the stale finding after a sweep."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from satellite.config.model import EventSettings, Schedule
from satellite.events.driver import ELSEWHERE_RETRY_S, GATHER_S, EventDriver
from satellite.events.health import read_event_status
from satellite.store import Store
from satellite.store.events import DuePartition

C, P, R = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222", "33333333-3333-3333-3333-333333333333"
REFS, COMMITS = DuePartition(C, "git.refs", R, P), DuePartition(C, "git.commits", R, P)


def integration(**events):
    return SimpleNamespace(id="prod", services=("repos",), schedule=Schedule(sweep_interval=timedelta(hours=1)),
                           events=EventSettings(enabled=True, password="x" * 20, public_url="http://s:1", **events))


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "data")
    yield store
    store.close()


def test_a_burst_of_wakes_schedules_one_run_and_a_wake_during_a_run_runs_again(store):
    driver = EventDriver([integration()], store)
    soon: list[tuple[str, float]] = []
    driver.run_soon = lambda i, delay: soon.append((i, delay))
    for _ in range(5):
        driver.wake("prod")
    assert soon == [("prod", GATHER_S)]
    driver.journal.record("prod", "e-1", "git.push", [REFS])

    def collect(focus):
        driver.wake("prod")  # an event while the run reads
        return []

    assert driver.run_due(integration(), collect) == 1
    assert soon[-1] == ("prod", GATHER_S) and len(soon) == 2
    assert driver.journal.due("prod")[1] == []


def test_a_unit_another_run_holds_stays_due_and_is_tried_later(store):
    driver = EventDriver([integration()], store)
    soon: list[tuple[str, float]] = []
    driver.run_soon = lambda i, delay: soon.append((i, delay))
    driver.journal.record("prod", "e-1", "git.push", [REFS, COMMITS])
    assert driver.run_due(integration(), lambda focus: [(C, "git.commits", R)]) == 2
    assert driver.journal.due("prod")[1] == [COMMITS] and soon == [("prod", ELSEWHERE_RETRY_S)]


def test_nothing_due_runs_nothing(store):
    driver = EventDriver([integration()], store)
    assert driver.run_due(integration(), lambda focus: pytest.fail("nothing is due")) == 0


def test_the_stale_finding_needs_changes_in_covered_streams_and_quiet(store):
    clock = [1000.0]
    driver = EventDriver([integration(stale_after=timedelta(seconds=60))], store, now=lambda: clock[0])
    clock[0] = 1100.0
    assert not driver.after_sweep(integration(stale_after=timedelta(seconds=60)), {"core.teams": 5}, 1090.0)
    assert driver.after_sweep(integration(stale_after=timedelta(seconds=60)), {"git.commits": 2}, 1090.0)
    (view,) = read_event_status(store)
    assert view.stale_since == 1100.0 and "found 2 change(s)" in view.warning()
    driver.journal.record("prod", "e-1", "git.push", [REFS], now=1200.0)  # an event came: no longer stale
    assert read_event_status(store)[0].warning() is None
    driver.reconciled("prod")  # the sweeps right after a reconciliation re-read everything
    assert not driver.after_sweep(integration(stale_after=timedelta(seconds=60)), {"git.commits": 9}, 1100.0 + 60)


def test_integrations_no_longer_listening_leave_the_status(store):
    EventDriver([integration()], store)
    assert [v.integration_id for v in read_event_status(store)] == ["prod"]
    EventDriver([SimpleNamespace(id="prod", events=EventSettings())], store)
    assert read_event_status(store) == ()

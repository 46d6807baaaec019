"""schedule.backfill_window: the window arithmetic (wrap, DST, time zone) and backfill work behind
incremental work at the gate; the config's errors."""

from __future__ import annotations

import textwrap
import threading
from datetime import UTC, datetime

import pytest

from satellite.config import load_config
from satellite.errors import ConfigError
from satellite.politeness import BackfillWindow, GateSettings, ServerGate, Work
from tests.support import wait_until
from tests.unit.test_config import (
    INTEGRATION,
    SATELLITE,
    pems,  # noqa: F401 (a fixture)
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_an_overnight_window_wraps_midnight():
    window = BackfillWindow.parse("19:00-07:00")  # UTC
    assert [window.contains(utc(f"2026-06-01T{h}")) for h in ("18:59:59", "19:00", "23:59", "00:00", "06:59:59", "07:00", "12:00")] \
        == [False, True, True, True, True, False, False]


def test_a_daytime_window_and_a_whole_day():
    day = BackfillWindow.parse("08:30-17:00")
    assert [day.contains(utc(f"2026-06-01T{h}")) for h in ("08:29", "08:30", "16:59", "17:00")] == [False, True, True, False]
    assert BackfillWindow.parse("00:00-00:00").contains(utc("2026-06-01T13:00"))


def test_the_window_is_wall_clock_time_in_its_zone_across_daylight_saving():
    berlin = BackfillWindow.parse("19:00-07:00", "Europe/Berlin")
    # winter: UTC+1, 18:30 UTC is 19:30 in Berlin; summer: UTC+2, 17:30 UTC is 19:30
    assert berlin.contains(utc("2026-01-15T18:30")) and not berlin.contains(utc("2026-01-15T17:30"))
    assert berlin.contains(utc("2026-07-15T17:30")) and not berlin.contains(utc("2026-07-15T16:30"))
    assert berlin.contains(utc("2026-07-15T04:59")) and not berlin.contains(utc("2026-07-15T05:00"))  # 07:00 CEST
    # the night the clocks go forward (29 March 2026, 02:00 -> 03:00) and back (25 October, 03:00 -> 02:00)
    assert berlin.contains(utc("2026-03-29T01:30")) and not berlin.contains(utc("2026-03-29T05:00"))
    assert berlin.contains(utc("2026-10-25T05:59")) and not berlin.contains(utc("2026-10-25T06:00"))  # 07:00 CET


def test_a_window_in_another_zone_than_the_agent():
    tokyo = BackfillWindow.parse("22:00-06:00", "Asia/Tokyo")  # UTC+9, no DST
    assert tokyo.contains(utc("2026-06-01T13:00")) and not tokyo.contains(utc("2026-06-01T21:00"))


def test_backfill_work_gets_its_share_outside_the_window_and_everything_inside():
    window = BackfillWindow.parse("19:00-07:00")
    work = Work(backfill=True, window=window, share=0.25)
    assert work.share_at(utc("2026-06-01T12:00")) == 0.25
    assert work.share_at(utc("2026-06-01T20:00")) == 1.0
    assert Work(backfill=True, share=0.25).share_at(utc("2026-06-01T12:00")) == 1.0  # no window: always all
    assert Work(window=window, share=0.25).share_at(utc("2026-06-01T12:00")) == 1.0  # incremental: always all


def _gate(now: str) -> tuple[ServerGate, Work]:
    wall = utc(now)
    gate = ServerGate("https://tfs:443", GateSettings(ceiling=8, adaptive=False), wall=lambda: wall)
    return gate, Work(backfill=True, window=BackfillWindow.parse("19:00-07:00"), share=0.25)


def test_outside_the_window_backfill_holds_at_most_its_share_of_the_limit_and_incremental_the_rest():
    gate, backfill = _gate("2026-06-01T12:00")
    held = []
    while gate.may_enter(backfill):
        held.append(gate.enter(backfill))
    assert len(held) == 2  # 25% of 8
    incremental = [gate.enter(Work()) for _ in range(6)]
    assert not gate.may_enter(Work())
    for ticket in held + incremental:
        gate.leave(ticket, 200, {})
    tiny = ServerGate("https://tfs:443", GateSettings(ceiling=2, adaptive=False), wall=lambda: utc("2026-06-01T12:00"))
    assert tiny.may_enter(backfill)  # at least one request, however small the share


def test_inside_the_window_backfill_may_take_the_whole_limit():
    gate, backfill = _gate("2026-06-01T23:00")
    tickets = [gate.enter(backfill) for _ in range(8)]
    assert not gate.may_enter(backfill) and not gate.may_enter(Work())
    for ticket in tickets:
        gate.leave(ticket, 200, {})


def test_a_free_slot_goes_to_waiting_incremental_work_before_waiting_backfill_work():
    gate, backfill = _gate("2026-06-01T23:00")  # in the window: only priority decides
    tickets = [gate.enter(backfill) for _ in range(8)]
    order: list[str] = []
    entered = {name: threading.Event() for name in ("backfill", "incremental")}

    def wait(name: str, work: Work) -> None:
        ticket = gate.enter(work)
        order.append(name)
        entered[name].set()
        gate.leave(ticket, 200, {})

    waiting_backfill = threading.Thread(target=wait, args=("backfill", backfill))
    waiting_backfill.start()
    wait_until(lambda: gate.waiting == 1, 5, "the backfill request to wait")
    waiting_incremental = threading.Thread(target=wait, args=("incremental", Work()))
    waiting_incremental.start()
    wait_until(lambda: gate.waiting == 2, 5, "the incremental request to wait")
    gate.leave(tickets.pop(), 200, {})  # one slot frees: incremental takes it
    assert entered["incremental"].wait(5)
    assert entered["backfill"].wait(5)
    assert order == ["incremental", "backfill"]
    waiting_backfill.join()
    waiting_incremental.join()
    for ticket in tickets:
        gate.leave(ticket, 200, {})



def test_config_errors_of_the_window_zone_share_and_limits_come_all_at_once(tmp_path, pems):  # noqa: F811
    env = {"API_KEY": "api-key-123456", "PAT": "a-pat", "PUBLIC_PEM": pems["public"], "PRIVATE_PEM": pems["private"]}
    text = textwrap.dedent(SATELLITE) + textwrap.dedent(INTEGRATION) + textwrap.dedent("""\
        limits:
          concurrency: 4
          min_concurrency: 8
          max_requests_per_second: -1
        """)
    text = text.replace("    pat:", "    schedule: {backfill_window: 7pm-7am, time_zone: Mars/Olympus, backfill_share: 1.5}\n    pat:", 1)
    (tmp_path / "satellite.yml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "satellite.yml", env)
    paths = sorted(p.path for p in info.value.problems)
    assert paths == ["integrations[0].schedule.backfill_share", "integrations[0].schedule.backfill_window",
                     "integrations[0].schedule.time_zone", "limits.max_requests_per_second"]
    # the floor above the ceiling is told once the fields themselves are valid
    (tmp_path / "satellite.yml").write_text(text.replace("max_requests_per_second: -1", "max_requests_per_second: 5")
                                            .replace("{backfill_window: 7pm-7am, time_zone: Mars/Olympus, backfill_share: 1.5}",
                                                     "{backfill_window: 19:00-07:00, time_zone: Europe/Berlin}"))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "satellite.yml", env)
    assert [p.message for p in info.value.problems] == ["min_concurrency must not exceed concurrency"]


def test_the_work_of_a_unit_follows_its_requests_into_the_clients_worker_threads():
    import httpx

    from satellite.ado.client import AdoClient, CollectionTarget
    from satellite.politeness import Ticket, doing
    from satellite.secret import Secret

    seen: list[tuple[str, bool]] = []
    lock = threading.Lock()

    class Recording:
        def enter(self, work, route=""):
            with lock:
                seen.append((threading.current_thread().name, work.backfill))
            return Ticket(work.backfill, 0.0, 1, route)

        def leave(self, ticket, status, headers):
            pass

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "OPTIONS":
            return httpx.Response(200, json={"value": [{"maxVersion": "7.0"}]})
        return httpx.Response(200, json={"id": request.url.path})

    client = AdoClient(CollectionTarget("http://tfs/tfs/C", "C"), Secret("unit-test-pat"),
                       transport=httpx.MockTransport(answer), gate=Recording(), max_connections=4)
    with client:
        with doing(Work(backfill=True)):
            assert len(list(client.get_many([f"_apis/things/{i}" for i in range(8)]))) == 8
        backfill = list(seen)
        seen.clear()
        list(client.get_many([f"_apis/things/{i}" for i in range(8)]))
    assert len(backfill) == 9 and all(flag for _, flag in backfill)  # the version probe too
    assert any(name.startswith("ado-") for name, _ in backfill)  # ...from the client's pool threads
    assert len(seen) == 8 and not any(flag for _, flag in seen)

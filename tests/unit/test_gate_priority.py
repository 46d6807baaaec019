"""The gate's order of waiting requests: the continuation of a paged walk before fan-out reads, one
wake-up (of the request the slot goes to) per response, not one per waiting thread, and a running
request taking a free slot ahead of equally ranked waiters still waking."""

from __future__ import annotations

import threading

import pytest

from satellite.ado.paging import Answer, TokenHeader
from satellite.politeness import GateSettings, ServerGate, Work, current_work
from satellite.politeness import gate as gate_module
from satellite.politeness.work import chaining, doing
from tests.support import wait_until

FAN_OUT = Work(backfill=True)
CHAINED = Work(backfill=True, chained=True)


class _Waiting:
    """Threads that enter a gate, note their turn, then hold their ticket until ``release``."""

    def __init__(self, gate: ServerGate) -> None:
        self.gate = gate
        self.order: list[str] = []
        self.tickets = []
        self.threads: list[threading.Thread] = []

    def start(self, name: str, work: Work) -> None:
        def run() -> None:
            ticket = self.gate.enter(work)
            self.order.append(name)
            self.tickets.append(ticket)

        thread = threading.Thread(target=run, name=name)
        waiting = self.gate.waiting
        thread.start()
        wait_until(lambda: self.gate.waiting == waiting + 1, 5, f"{name} waiting at the gate")  # in this order of arrival
        self.threads.append(thread)

    def let_one_in(self, ticket) -> None:
        entered = len(self.order)
        self.gate.leave(ticket, 200, {})
        wait_until(lambda: len(self.order) == entered + 1, 5, "the next request to enter")

    def finish(self) -> None:
        """The last request in leaves; every thread ends."""
        self.gate.leave(self.tickets[-1], 200, {})
        for thread in self.threads:
            thread.join(5)


def one_slot_held() -> tuple[ServerGate, object, _Waiting]:
    """A gate of one slot, that slot held by a fan-out read (its ticket), and no one waiting yet."""
    gate = ServerGate("https://tfs:443", GateSettings(ceiling=1, adaptive=False))
    return gate, gate.enter(FAN_OUT), _Waiting(gate)


@pytest.fixture(autouse=True)
def _no_rechecks(monkeypatch):
    monkeypatch.setattr(gate_module, "RECHECK_S", 60.0)  # a waiter wakes only when woken


def test_a_waiting_continuation_of_a_walk_gets_the_next_slot_before_fan_out_reads_that_came_first():
    gate, held, waiting = one_slot_held()
    waiting.start("fan-out 1", FAN_OUT)
    waiting.start("fan-out 2", FAN_OUT)
    waiting.start("chained", CHAINED)
    assert not gate.may_enter(CHAINED)  # a newcomer waits behind the waiting continuation
    waiting.let_one_in(held)
    assert waiting.order == ["chained"]
    waiting.let_one_in(waiting.tickets[-1])
    waiting.let_one_in(waiting.tickets[-1])
    assert waiting.order == ["chained", "fan-out 1", "fan-out 2"]  # then in order of arrival
    waiting.finish()


def test_incremental_work_still_goes_before_a_backfill_walk_continuation():
    gate, held, waiting = one_slot_held()
    waiting.start("chained backfill", CHAINED)
    waiting.start("incremental", Work())
    waiting.let_one_in(held)
    waiting.let_one_in(waiting.tickets[-1])
    assert waiting.order == ["incremental", "chained backfill"]
    waiting.finish()


def test_a_response_wakes_only_the_waiter_the_slot_goes_to(monkeypatch):
    gate, held, waiting = one_slot_held()
    for n in range(5):
        waiting.start(f"fan-out {n}", FAN_OUT)
    waiting.start("chained", CHAINED)
    woken: list[threading.Condition] = []
    notify, notify_all = threading.Condition.notify, threading.Condition.notify_all

    def counting_notify(self, n=1):
        woken.append(self)
        notify(self, n)

    def no_notify_all(self):
        woken.extend([self] * 100)
        notify_all(self)

    monkeypatch.setattr(threading.Condition, "notify", counting_notify)
    monkeypatch.setattr(threading.Condition, "notify_all", no_notify_all)
    chained_waiter = next(w for w in gate._waiters if w.work.chained)
    gate.leave(held, 200, {})
    assert woken == [chained_waiter.wake]  # one wake-up, of the waiter the slot goes to
    wait_until(lambda: waiting.order == ["chained"], 5, "the chained request to enter first")
    assert woken == [chained_waiter.wake] and gate.waiting == 5  # entering, it woke no one: no slot left
    monkeypatch.undo()
    for _ in range(5):
        waiting.let_one_in(waiting.tickets[-1])
    waiting.finish()


def test_a_running_request_takes_a_free_slot_while_an_equally_ranked_waiter_is_still_waking():
    gate, held, waiting = one_slot_held()
    waiting.start("fan-out 1", FAN_OUT)
    waiting.start("fan-out 2", FAN_OUT)
    with gate._cond:  # the woken waiter cannot take the gate's lock until this thread lets it go
        gate.leave(held, 200, {})
        assert gate.may_enter(FAN_OUT)
        barged = gate.enter(FAN_OUT)  # at once: no waiter ranks better
        assert gate.in_flight == 1 and gate.waiting == 2
    assert waiting.order == []  # the woken waiter found no slot and waits again
    waiting.let_one_in(barged)
    waiting.let_one_in(waiting.tickets[-1])
    assert waiting.order == ["fan-out 1", "fan-out 2"]  # the waiters still in order of arrival
    waiting.finish()


def test_a_running_request_does_not_take_a_free_slot_ahead_of_a_better_ranked_waiter():
    gate, held, waiting = one_slot_held()
    waiting.start("chained", CHAINED)
    with gate._cond:  # the slot is free, the woken continuation not yet in
        gate.leave(held, 200, {})
        assert not gate.may_enter(FAN_OUT)  # ranks worse: queues behind the continuation
        assert gate.may_enter(CHAINED) and gate.may_enter(Work())  # an equal or a better rank would take it
        newcomer = threading.Thread(target=lambda: waiting.tickets.append(gate.enter(FAN_OUT)) or waiting.order.append("fan-out"))
        newcomer.start()  # blocks on the gate's lock until this thread lets it go
        waiting.threads.append(newcomer)
    wait_until(lambda: len(waiting.tickets) == 1 and gate.waiting == 1, 5, "the continuation in, the fan-out read waiting")
    assert waiting.order == ["chained"]
    waiting.let_one_in(waiting.tickets[0])
    assert waiting.order == ["chained", "fan-out"]
    waiting.finish()


def test_the_pages_of_a_walk_after_the_first_are_chained_work():
    seen: list[Work] = []

    def fetch(params):
        seen.append(current_work())
        token = {None: "a", "a": "b"}.get(params.get("continuationToken"))
        return Answer([{"id": len(seen)}], {}, {"x-ms-continuationtoken": token} if token else {})

    with doing(FAN_OUT):
        assert len(list(TokenHeader(10).pages(fetch, "test"))) == 3
        assert current_work() == FAN_OUT
    assert seen == [FAN_OUT, CHAINED, CHAINED]
    once = chaining(lambda: current_work())
    assert once() == Work() and once() == Work(chained=True)


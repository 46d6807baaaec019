"""The adaptive concurrency limit and the gate's pause, with a fake clock."""

from __future__ import annotations

import heapq
import random
import threading
from dataclasses import dataclass, field

import pytest

from satellite.politeness import AdaptiveLimit, Answer, GateSettings, ServerGate, Work
from tests.support import FakeClock, wait_until

BASE = 0.020  # the unloaded latency


def primed(limit: AdaptiveLimit) -> AdaptiveLimit:
    """A limit that has seen its route once (a route's first answer only starts its baseline)."""
    limit.observe(Answer(BASE), 1)
    return limit


def rounds(limit: AdaptiveLimit, n: int, rtt: float, *, busy: bool = True) -> list[int]:
    """``n`` rounds of answers at ``rtt``, the limit after each (in flight: the limit when busy, else 1)."""
    seen = []
    for _ in range(n):
        for _ in range(limit.limit):
            limit.observe(Answer(rtt), limit.limit if busy else 1)
        seen.append(limit.limit)
    return seen


def test_it_starts_at_the_floor_and_doubles_while_latency_stays_flat_up_to_the_ceiling():
    limit = primed(AdaptiveLimit(ceiling=16, floor=1))
    assert limit.limit == 1
    assert rounds(limit, 6, BASE) == [2, 4, 8, 16, 16, 16]
    assert limit.baseline == BASE


def test_after_the_first_sign_of_load_it_grows_by_one_per_flat_round():
    limit = primed(AdaptiveLimit(ceiling=32, floor=1))
    rounds(limit, 4, BASE)  # 16
    limit.observe(Answer(BASE, throttled=True), 16)  # 8, slow start over
    assert limit.limit == 8
    assert rounds(limit, 3, BASE) == [9, 10, 11]


def test_above_the_knee_it_goes_straight_to_what_the_server_serves_and_holds_there():
    """Against 12 workers (latency k / 12 beyond 12 in flight): a round at 16 says 4 queued, so 12 are
    served: back to 13 (12 + alpha), where a queue of one holds it."""
    limit = primed(AdaptiveLimit(ceiling=16, floor=2))
    rounds(limit, 4, BASE)
    assert limit.limit == 16
    limit.observe(Answer(BASE, throttled=True), 16)  # slow start over (16 -> 8)
    rounds(limit, 8, BASE)
    assert limit.limit == 16
    shrunk = rounds(limit, 1, BASE * 16 / 12)
    assert shrunk == [13]
    assert rounds(limit, 5, BASE * 13 / 12) == [13] * 5  # a queue of one: holds
    assert rounds(limit, 1, BASE * 12 / 12) == [14]  # no queue: one more


def test_a_429_halves_it_once_per_burst_not_once_per_answer():
    limit = primed(AdaptiveLimit(ceiling=16, floor=1))
    rounds(limit, 4, BASE)
    for _ in range(16):  # every request in flight met the 429
        limit.observe(Answer(BASE, throttled=True), 16)
    assert limit.limit == 8
    for _ in range(9):  # throttling goes on after the answers of the cut's requests: cut again
        limit.observe(Answer(BASE, throttled=True), 8)
    assert limit.limit == 4


def test_a_429_with_retry_after_restarts_from_the_floor_and_slow_starts_to_half_the_limit_it_had():
    limit = primed(AdaptiveLimit(ceiling=16, floor=1))
    rounds(limit, 4, BASE)
    limit.observe(Answer(BASE, remaining_low=True), 16)  # a small cut just before does not stop it
    for _ in range(16):  # the requests waiting out the pause must not all go at once
        limit.observe(Answer(BASE, throttled=True, paused=True), 16)
    assert limit.limit == 1
    assert rounds(limit, 5, BASE) == [2, 4, 7, 8, 9]  # doubling up to half of 14, then one per round


def test_low_remaining_and_delay_headers_shrink_it():
    low = primed(AdaptiveLimit(ceiling=20, floor=1))
    rounds(low, 5, BASE)
    low.observe(Answer(BASE, remaining_low=True), 20)
    assert low.limit == 18
    delayed = primed(AdaptiveLimit(ceiling=20, floor=1))
    rounds(delayed, 5, BASE)
    delayed.observe(Answer(BASE, delayed=True), 20)
    assert delayed.limit == 15


def test_it_never_leaves_its_bounds():
    limit = primed(AdaptiveLimit(ceiling=6, floor=3))
    assert limit.limit == 3
    rounds(limit, 10, BASE)
    assert limit.limit == 6
    for _ in range(200):
        limit.observe(Answer(BASE, throttled=True), 6)
    assert limit.limit == 3
    rounds(limit, 50, 10 * BASE)
    assert limit.limit == 3
    limit.set_bounds(ceiling=2, floor=1)
    assert limit.limit == 2


def test_it_does_not_grow_without_demand():
    limit = primed(AdaptiveLimit(ceiling=16, floor=4))
    assert rounds(limit, 5, BASE, busy=False) == [4] * 5


def test_latency_is_judged_against_each_routes_own_baseline():
    """A slow route (a big page) beside a fast one is no sign of load; both slowing by a queue is."""
    limit = AdaptiveLimit(ceiling=64, floor=1)
    limit.observe(Answer(10 * BASE, "GET /commits"), 1)
    limit.observe(Answer(BASE, "GET /refs"), 1)
    for _ in range(5):
        for i in range(limit.limit):
            route, rtt = ("GET /commits", 10 * BASE) if i % 2 else ("GET /refs", BASE)
            limit.observe(Answer(rtt, route), limit.limit)
    assert limit.limit == 32
    for _ in range(3):
        for i in range(limit.limit):
            route, rtt = ("GET /commits", 15 * BASE) if i % 2 else ("GET /refs", 1.5 * BASE)
            limit.observe(Answer(rtt, route), limit.limit)
    assert limit.limit < 32


def test_a_server_slower_for_good_is_learnt_slowly():
    limit = primed(AdaptiveLimit(ceiling=16, floor=1, window=50))
    rounds(limit, 4, BASE)
    for _ in range(2000):
        limit.observe(Answer(3 * BASE), limit.limit)
    assert limit.baseline > 2 * BASE  # re-learnt (10% per window at most)
    assert rounds(limit, 3, 3 * BASE)[-1] > 1  # and it grows again


@dataclass
class Served:
    """What a server saw from a limit that always had requests waiting (``against_the_load_model``)."""

    held: dict[int, float] = field(default_factory=dict)  # seconds at each count in flight (after the warm-up)
    limits: list[int] = field(default_factory=list)  # the limit after each answer (after the warm-up)

    def share_at_most(self, k: int) -> float:
        return sum(t for n, t in self.held.items() if n <= k) / sum(self.held.values())

    def mean_in_flight(self) -> float:
        return sum(n * t for n, t in self.held.items()) / sum(self.held.values())


def against_the_load_model(limit: AdaptiveLimit, capacity: int, *, service: float = 0.060, seconds: float = 60.0,
                           warmup: float = 10.0, noise: float = 0.0, routes: int = 4, seed: int = 1) -> Served:
    """The simulator's load model on a fake clock: a request sent with k in flight (itself included) is
    answered after ``service x max(1, k / capacity)`` (x ``1 + Exp(noise)``: jitter, only ever slower),
    its route's own latency scaled by 1..2; the client always has more to send."""
    rng = random.Random(seed)
    scale = [1 + i / max(1, routes - 1) for i in range(routes)]
    answers: list[tuple[float, int, float, int, int]] = []  # (at, order, sent, in flight, route)
    served, now, in_flight, order = Served(), 0.0, 0, 0
    while now < seconds:
        while in_flight < limit.limit:
            in_flight += 1
            order += 1
            route = rng.randrange(routes)
            latency = service * scale[route] * max(1.0, in_flight / capacity) * (1 + (rng.expovariate(1 / noise) if noise else 0))
            heapq.heappush(answers, (now + latency, order, now, in_flight, route))
        at, _, sent, sent_with, route = heapq.heappop(answers)
        if at > warmup:
            served.held[in_flight] = served.held.get(in_flight, 0.0) + at - max(now, warmup)
        now, in_flight = at, in_flight - 1
        limit.observe(Answer(at - sent, f"GET /route{route}"), sent_with)
        if now > warmup:
            served.limits.append(limit.limit)
    return served


@pytest.mark.parametrize("capacity", [4, 12, 20, 40])
def test_against_the_load_model_it_settles_just_above_the_capacity(capacity):
    """Issue 18's bar at C = 12: others' p95 <= 1.25x unloaded needs at most C + 2 of ours in flight 95%
    of the time (latency(k + 1) = s x (k + 1) / C), full throughput at least C. Beyond a limit of 20
    the band is relative: C + 10%."""
    limit = AdaptiveLimit(ceiling=128, floor=1)
    served = against_the_load_model(limit, capacity)
    above = capacity + max(2, capacity // 10)
    assert served.share_at_most(above) >= 0.95
    assert capacity < served.mean_in_flight() <= above
    assert sum(n < capacity for n in served.limits) <= 0.1 * len(served.limits)  # the drains, now and then
    assert max(served.limits) <= above + 1
    assert limit.baseline == pytest.approx(0.060, rel=0.02)  # a queue kept for long is not learnt as the server's speed


def test_a_large_noisy_server_is_used_not_left_at_the_floor():
    """C = 100 and every answer up to several times slower than its baseline (jitter of 30% on average):
    the noise must not read as a queue (the limit stays near C), nor hide one (it does not run to the ceiling)."""
    limit = AdaptiveLimit(ceiling=400, floor=1)
    served = against_the_load_model(limit, 100, service=0.050, seconds=30.0, noise=0.3)
    assert 85 <= served.mean_in_flight() <= 115
    assert min(served.limits) >= 50 and max(served.limits) <= 150


def test_a_server_slower_for_good_than_its_baseline_is_learnt_after_drains():
    """Every answer three times slower than the baseline whatever the load (others load the server):
    the limit shrinks, windows without an answer near the baseline drain, and the baselines rise after
    those drains; the limit grows again."""
    limit = primed(AdaptiveLimit(ceiling=16, floor=1, window=50))
    rounds(limit, 4, BASE)
    low = []
    for _ in range(3000):
        limit.observe(Answer(3 * BASE), limit.limit)
        low.append(limit.limit)
    assert min(low) < 16
    assert limit.baseline > 2 * BASE
    assert limit.limit > min(low)


def test_a_retry_after_pauses_every_request_to_the_server():
    clock = FakeClock(100.0)
    gate = ServerGate("https://tfs:443", GateSettings(ceiling=4, adaptive=False), clock=clock)
    ticket = gate.enter(Work())
    assert gate.may_enter(Work()) and gate.may_enter(Work(backfill=True))
    gate.leave(ticket, 429, {"Retry-After": "30"})
    assert gate.paused_for() == 30.0
    assert not gate.may_enter(Work()) and not gate.may_enter(Work(backfill=True))
    clock.now += 29.9
    assert not gate.may_enter(Work())
    clock.now += 0.1
    assert gate.may_enter(Work())
    gate.leave(gate.enter(Work()), 200, {"X-RateLimit-Delay": "2.5"})  # the server delays: pause as long
    assert gate.paused_for() == 2.5
    gate.pause(10_000)  # capped
    assert gate.paused_for() == GateSettings().max_pause


def test_the_gate_shrinks_on_a_503_and_counts_the_signals():
    clock = FakeClock(100.0)
    events: list[tuple[str, str]] = []

    class Recorder:
        def limit(self, server, limit, baseline):
            events.append(("limit", str(limit)))

        def throttled(self, server, signal):
            events.append(("throttled", signal))

        def waited(self, server, reason, seconds):
            events.append(("waited", reason))

    gate = ServerGate("https://tfs:443", GateSettings(ceiling=8, floor=1), clock=clock, observer=Recorder())
    first = gate.enter(Work())
    clock.now += BASE
    gate.leave(first, 200, {})  # the route's first answer starts its baseline
    for _ in range(3):  # 1 -> 2 -> 4 -> 8
        tickets = [gate.enter(Work()) for _ in range(gate.limit)]
        clock.now += BASE
        for ticket in tickets:
            gate.leave(ticket, 200, {})
    assert gate.limit == 8
    gate.leave(gate.enter(Work()), 503, {})
    assert gate.limit == 4
    gate.leave(gate.enter(Work()), 200, {"X-RateLimit-Remaining": "5", "X-RateLimit-Limit": "200"})
    assert ("throttled", "503") in events and ("throttled", "remaining_low") in events
    assert events[-1] == ("limit", str(gate.limit))


def test_a_paused_request_waits_until_the_pause_ends_and_then_goes():
    """Real threads: a request entering during a pause blocks until it is over (no sleep in the test:
    the pause is short and the test waits on the request's own event)."""
    gate = ServerGate("https://tfs:443", GateSettings(ceiling=2, adaptive=False))
    gate.pause(0.2)
    went = threading.Event()

    def request() -> None:
        gate.leave(gate.enter(Work()), 200, {})
        went.set()

    thread = threading.Thread(target=request)
    thread.start()
    assert not went.wait(0.05)
    assert went.wait(5)
    thread.join()


def test_a_request_held_by_a_pause_gives_up_when_the_process_stops():
    """A Retry-After of minutes holds every request to the server; at SIGTERM each waiting one gives up
    (``Stopping``) within ``RECHECK_S``, rather than wait out the pause, and leaves the gate's waiters."""
    from satellite.errors import Stopping
    from satellite.politeness.gate import RECHECK_S

    gate = ServerGate("https://tfs:443", GateSettings(ceiling=2, adaptive=False))
    gate.pause(600)
    stop = threading.Event()
    outcome: list[BaseException | None] = []

    def request() -> None:
        try:
            gate.enter(Work(backfill=True, should_stop=stop.is_set))
            outcome.append(None)
        except Stopping as exc:
            outcome.append(exc)

    thread = threading.Thread(target=request, daemon=True)  # a failure must not hold the run for the pause
    thread.start()
    wait_until(lambda: gate.waiting == 1, 10, "the request to be held by the pause")
    stop.set()
    thread.join(10 * RECHECK_S)
    assert not thread.is_alive() and isinstance(outcome[0], Stopping) and "https://tfs:443" in str(outcome[0])
    assert gate.waiting == 0 and gate.in_flight == 0 and gate.paused_for() > 500  # the pause holds the rest


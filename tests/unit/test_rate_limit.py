"""The token bucket of limits.max_requests_per_second, with a fake clock; and shared by threads."""

from __future__ import annotations

import threading

import pytest

from satellite.politeness import GateSettings, ServerGate, TokenBucket, Work, server_of
from tests.support import FakeClock


def test_a_full_bucket_lets_its_burst_through_then_spaces_requests_by_one_over_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=5.0, burst=3.0, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    # in debt: each further reservation waits one more 1/rate behind the one before it
    assert [round(bucket.reserve(), 6) for _ in range(3)] == [0.2, 0.4, 0.6]


def test_the_bucket_refills_at_its_rate_and_never_beyond_its_burst():
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=2.0, clock=clock)
    bucket.reserve(), bucket.reserve()
    clock.advance(0.5)  # one token back
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.5)
    clock.advance(3600)  # an idle hour refills to the burst, not to 7,200
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)


def test_over_any_span_requests_stay_within_rate_times_span_plus_burst():
    clock = FakeClock()
    bucket = TokenBucket(rate=10.0, burst=1.0, clock=clock)
    sent: list[float] = []
    for _ in range(200):  # callers that go as soon as their wait is over
        wait = bucket.reserve()
        sent.append(clock.now + wait)
        clock.advance(wait * 0.5)  # the next caller asks before this one's token is due
    for i, at in enumerate(sent):
        in_one_second = sum(1 for t in sent[i:] if t < at + 1.0)
        assert in_one_second <= 10 + 1


def test_a_new_rate_applies_to_the_next_reservation():
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, clock=clock)
    bucket.reserve()
    bucket.set_rate(4.0)
    assert bucket.reserve() == pytest.approx(0.25)


def test_bad_rates_are_refused():
    with pytest.raises(ValueError):
        TokenBucket(rate=0)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0.5)


def test_threads_share_one_bucket_and_no_token_is_handed_out_twice():
    clock = FakeClock()
    bucket = TokenBucket(rate=100.0, burst=1.0, clock=clock)  # the clock stands still: all debt
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        mine = [bucket.reserve() for _ in range(50)]
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 400 reservations at one instant: waits 0, 0.01, ..., 3.99, each exactly once
    assert sorted(round(w * 100) for w in waits) == list(range(400))


def test_the_gate_spaces_requests_to_one_server_by_its_rate():
    clock = FakeClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    gate = ServerGate("https://tfs:443", GateSettings(ceiling=8, adaptive=False, rate=4.0), clock=clock, sleep=sleep)
    for _ in range(5):
        gate.leave(gate.enter(Work()), 200, {})
    assert [round(s, 6) for s in slept] == [0.25, 0.25, 0.25, 0.25]
    gate.configure(GateSettings(ceiling=8, adaptive=False, rate=None))  # a reloaded config without a cap
    gate.leave(gate.enter(Work()), 200, {})
    assert len(slept) == 4


def test_one_server_is_scheme_host_and_port():
    assert server_of("https://TFS.corp/tfs/DefaultCollection") == "https://tfs.corp:443"
    assert server_of("http://tfs.corp:8080/tfs/Other") == "http://tfs.corp:8080"
    assert server_of("http://127.0.0.1/C") == "http://127.0.0.1:80"

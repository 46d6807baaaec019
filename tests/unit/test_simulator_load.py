"""The simulator's load model (standins/ado_simulator/wire/load.py): its formulas, and the budget
and the probe under a fake clock."""

from __future__ import annotations

import base64

import pytest

from standins.ado_simulator.wire.load import (
    Budget,
    LoadConfig,
    LoadModel,
    budget_delay,
    identity_of,
    parse_budget,
    queue_latency,
    retry_after,
    throttled_response,
    time_weighted_percentile,
)
from tests.support import FakeClock


# -- the formulas ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("in_flight", "expected"), [(1, 0.02), (4, 0.02), (5, 0.025), (8, 0.04), (12, 0.06)])
def test_queue_latency_is_the_service_time_up_to_capacity_then_grows_as_k_over_n(in_flight, expected):
    assert queue_latency(0.02, 4, in_flight) == pytest.approx(expected)


def test_queue_latency_refuses_a_capacity_below_one():
    with pytest.raises(ValueError):
        queue_latency(0.02, 0, 1)


@pytest.mark.parametrize(("usage", "expected"), [(0, 0.0), (100, 0.0), (150, 5.0), (190, 9.0), (200, 10.0), (250, 10.0)])
def test_budget_delay_is_zero_to_the_threshold_then_rises_linearly_to_max_delay_at_the_limit(usage, expected):
    assert budget_delay(usage, Budget(threshold=100, limit=200, max_delay_s=10)) == pytest.approx(expected)


def test_retry_after_is_the_wait_until_enough_old_charges_leave_the_window():
    budget = Budget(threshold=2, limit=3, window_s=60)
    charges = [(0.0, 1.0), (10.0, 1.0), (20.0, 1.0)]
    assert retry_after(charges, 30.0, budget) == 30  # the charge at 0 leaves at 60
    assert retry_after(charges, 59.5, budget) == 1  # at least a second
    heavy = Budget(threshold=2, limit=3, window_s=60, request_tstu=2)
    assert retry_after(charges, 30.0, heavy) == 40  # two charges must leave: the one at 10 leaves at 70


def test_time_weighted_percentiles_weigh_values_by_how_long_they_held():
    spans = [(0.1, 10.0), (0.25, 10.0)]
    assert time_weighted_percentile(spans, 0.5) == 0.1
    assert time_weighted_percentile(spans, 0.95) == 0.25
    assert time_weighted_percentile([(0.1, 95.0), (9.0, 5.0)], 0.95) == 0.1
    assert time_weighted_percentile([(0.1, 94.0), (9.0, 6.0)], 0.95) == 9.0
    assert time_weighted_percentile([], 0.5) == 0.0


def test_identities_are_digests_of_the_credential_never_the_credential():
    basic = "Basic " + base64.b64encode(b":secret-pat").decode()
    same_pat_other_user = "Basic " + base64.b64encode(b"someone:secret-pat").decode()
    assert identity_of(basic) == identity_of(same_pat_other_user)
    assert identity_of(basic).startswith("pat-") and "secret" not in identity_of(basic)
    assert identity_of(basic) != identity_of("Basic " + base64.b64encode(b":other").decode())
    assert identity_of(None) == identity_of("") == "anonymous"
    assert identity_of("Bearer abc").startswith("bearer-")


def test_budget_text_and_checks():
    assert parse_budget("10:20") == Budget(threshold=10, limit=20)
    assert parse_budget("10:20:60:0.5") == Budget(threshold=10, limit=20, window_s=60, max_delay_s=0.5)
    assert parse_budget("off") is None
    for bad in ("10", "20:10", "a:b", "1:2:3:4:5"):
        with pytest.raises(ValueError):
            parse_budget(bad)
    with pytest.raises(ValueError):
        LoadConfig(capacity=0)
    with pytest.raises(ValueError):
        Budget(warn_share=1.5)


# -- the budget, with a fake clock ----------------------------------------------------------------


def headers_of(admission) -> dict[str, str]:
    return dict(admission.headers)


def test_an_identity_gets_no_headers_then_a_countdown_then_delays_then_429_with_retry_after():
    clock = FakeClock()
    budget = Budget(threshold=4, limit=6, window_s=300, max_delay_s=2, warn_share=0.5)
    model = LoadModel(LoadConfig(capacity=4, service_ms=10, budget=budget), clock)
    start, admissions = clock.now, []
    for _ in range(8):
        admissions.append(model.arrive("pat-a"))
        model.depart(admissions[-1])
        clock.advance(1)
    assert [a.headers for a in admissions[:2]] == [(), ()]  # usage 1, 2: at most half the threshold
    third, fourth = headers_of(admissions[2]), headers_of(admissions[3])
    assert third == {"X-RateLimit-Resource": "ATCPU", "X-RateLimit-Limit": "4", "X-RateLimit-Remaining": "1",
                     "X-RateLimit-Reset": str(int(start + 2 + 300))}
    assert fourth["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Delay" not in fourth
    assert [a.delay for a in admissions[:4]] == [0, 0, 0, 0]
    fifth, sixth = headers_of(admissions[4]), headers_of(admissions[5])
    assert admissions[4].delay == pytest.approx(1.0) and admissions[5].delay == pytest.approx(2.0)
    assert fifth["X-RateLimit-Delay"] == "1.000" and fifth["X-RateLimit-Remaining"] == "0"
    assert sixth["X-RateLimit-Delay"] == "2.000" and sixth["X-RateLimit-Reset"] == str(int(start + 5 + 300))
    seventh = admissions[6]
    assert seventh.blocked and seventh.latency == 0 and seventh.retry_after == 294  # the first charge leaves at start + 300
    assert headers_of(seventh)["Retry-After"] == "294" and headers_of(seventh)["X-RateLimit-Remaining"] == "0"
    response = throttled_response(seventh)
    assert response.status == 429 and b"TF400733" in response.body and ("Retry-After", "294") in response.headers
    assert model.arrive("pat-b").headers == ()  # another identity has its own budget
    clock.now = start + 6 + seventh.retry_after  # the seventh came at start + 6
    again = model.arrive("pat-a")
    assert not again.blocked and headers_of(again)["X-RateLimit-Delay"] == "2.000"
    stats = model.stats()
    assert stats.identities["pat-a"].throttled == 2 and stats.identities["pat-a"].delayed == 3
    assert stats.identities["pat-a"].usage == 6 and stats.identities["pat-a"].remaining == 0
    assert stats.identities["pat-b"].usage == 1 and stats.identities["pat-b"].remaining == 3
    assert (stats.requests, stats.delayed, stats.throttled) == (8, 3, 2)


def test_usage_slides_out_of_the_window():
    clock = FakeClock()
    model = LoadModel(LoadConfig(capacity=1, budget=Budget(threshold=1, limit=2, window_s=60, max_delay_s=0)), clock)
    model.depart(model.arrive("a"))
    model.depart(model.arrive("a"))
    assert model.arrive("a").blocked
    clock.advance(60)
    assert not model.arrive("a").blocked and model.stats().identities["a"].usage == 1


def test_without_a_budget_nothing_is_delayed_or_blocked():
    model = LoadModel(LoadConfig(capacity=1, budget=None), FakeClock())
    admissions = [model.arrive("a") for _ in range(1000)]
    assert not any(a.blocked or a.delay or a.headers for a in admissions)


# -- latency and the probe, with a fake clock -------------------------------------------------------


def test_latency_grows_with_requests_in_flight_beyond_capacity_and_falls_when_they_leave():
    model = LoadModel(LoadConfig(capacity=2, service_ms=100, budget=None), FakeClock())
    held = [model.arrive("a") for _ in range(4)]
    assert [a.latency for a in held] == pytest.approx([0.1, 0.1, 0.15, 0.2])
    assert model.in_flight == 4 and model.probe_latency() == pytest.approx(0.25)
    for admission in held:
        model.depart(admission)
    assert model.in_flight == 0 and model.arrive("a").latency == pytest.approx(0.1)


def test_the_probe_reports_time_weighted_latency_against_the_unloaded_one():
    clock = FakeClock()
    model = LoadModel(LoadConfig(capacity=2, service_ms=100, budget=None, probe_window_s=60), clock)
    idle = model.stats().probe
    assert idle.unloaded_ms == idle.p50_ms == idle.p95_ms == idle.now_ms == 100.0 and idle.max_in_flight == 0
    held = [model.arrive("a") for _ in range(4)]  # 4 in flight for 10 s: a probe would see k + 1 = 5
    clock.advance(10)
    busy = model.stats().probe
    assert busy.now_ms == busy.p50_ms == busy.p95_ms == 250.0 and busy.max_in_flight == 4
    for admission in held:
        model.depart(admission)
    clock.advance(10)  # then 10 s idle
    probe = model.stats().probe
    assert (probe.p50_ms, probe.p95_ms, probe.max_ms, probe.now_ms) == (100.0, 250.0, 250.0, 100.0)
    clock.advance(60)  # the busy spell has left the window
    quiet = model.stats().probe
    assert quiet.p95_ms == 100.0 and quiet.max_in_flight == 0


def test_stats_are_json_and_reset_forgets_usage():
    clock = FakeClock()
    model = LoadModel(LoadConfig(capacity=2, service_ms=5, budget=Budget(threshold=1, limit=2)), clock)
    model.depart(model.arrive("a"))
    body = model.stats().to_json()
    assert body["capacity"] == 2 and body["budget"]["threshold"] == 1 and body["identities"]["a"]["requests"] == 1
    assert set(body["probe"]) >= {"unloaded_ms", "p50_ms", "p95_ms", "now_ms", "max_in_flight", "identity"}
    model.reset()
    assert model.stats().identities == {} and model.stats().requests == 0


def test_the_probe_survives_a_clock_that_steps_back_and_long_idle_spells():
    clock = FakeClock()
    model = LoadModel(LoadConfig(capacity=1, service_ms=10, budget=None, probe_window_s=60), clock)
    first = model.arrive("a")
    clock.advance(-5)  # an NTP step
    second = model.arrive("a")
    clock.advance(3600)
    model.depart(first)
    model.depart(second)
    probe = model.stats().probe
    assert probe.p95_ms == 30.0 and probe.max_in_flight == 2  # 2 in flight for the whole window
    clock.advance(61)
    assert model.stats().probe.p95_ms == 10.0 and model.stats().probe.max_in_flight == 0

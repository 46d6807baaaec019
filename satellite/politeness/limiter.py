"""The adaptive concurrency limit of one server: how many requests may be in flight at once.

    limit = AdaptiveLimit(ceiling=16, floor=1)
    limit.observe(Answer(rtt=0.021, route="GET /_apis/projects"), in_flight=3)   # after every answer
    limit.limit                                                                   # 1..16

Latency is judged per route: each answer's latency over its route's baseline, the lowest latency of
that route's recent answers (a page of 1,000 commits and a list of refs differ tenfold unloaded;
a mix of them must not look like load); the first answer of a route only starts its baseline. A round is as many answers as the limit; its median ratio
decides. The limit starts at the floor and doubles per round while that median stays within
``tolerance`` (slow start, as TCP). After the first sign of load it grows by one per good round and
shrinks by ``backoff`` per round whose median exceeds ``congested`` (AIMD); in between it holds. A
429 or 503 with ``Retry-After`` (the gate pauses the server for it) sends it back to the floor, to
slow-start again up to half of what it was; without, it halves it; an ``X-RateLimit-Delay`` cuts it by a quarter and a low
``X-RateLimit-Remaining`` by ``backoff``, at most once per limit's worth of answers: one burst of
throttled answers is one signal, not many. It never grows on a round whose peak in-flight stayed
below half the limit (no demand proves nothing), and stays within [floor, ceiling].

Against a server of N workers whose latency grows as k / N beyond N requests in flight, the limit
settles between ``tolerance`` x N and ``congested`` x N. Baselines are the minimum of the last window
of answers, allowed to rise by 10% per window, so that a server that became slower for good
(others' load) is learnt, slowly. Not thread-safe: the gate calls it under its lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["AdaptiveLimit", "Answer"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What one answer says about the server's load."""

    rtt: float  # seconds from sending the request to reading the whole answer
    route: str = ""  # what was asked (ids left out): latency is compared with that route's own baseline
    throttled: bool = False  # 429 or 503
    delayed: bool = False  # X-RateLimit-Delay present
    remaining_low: bool = False  # X-RateLimit-Remaining below a tenth of X-RateLimit-Limit
    paused: bool = False  # a throttled answer with Retry-After: the server paused for it


class AdaptiveLimit:
    """Slow start, then additive increase and multiplicative decrease on latency and throttling."""

    def __init__(self, ceiling: int, floor: int = 1, *, tolerance: float = 1.25, congested: float = 1.5,
                 backoff: float = 0.9, window: int = 250) -> None:
        if not 1 <= floor <= ceiling:
            raise ValueError(f"need 1 <= floor <= ceiling, not floor={floor} ceiling={ceiling}")
        self._ceiling = ceiling
        self._floor = floor
        self._tolerance = tolerance
        self._congested = congested
        self._backoff = backoff
        self._window = window
        self._limit = float(floor)
        self._slow_start = True
        self._threshold = ceiling  # slow start ends here (after a restart: half the limit it had)
        self._baseline = math.inf
        self._window_min = math.inf
        self._window_count = 0
        self._route_base: dict[str, float] = {}  # per route: the lowest latency of earlier windows
        self._route_min: dict[str, float] = {}  # per route: the lowest latency of this window
        self._round: list[float] = []
        self._round_peak = 0
        self._since_cut = 0
        self._cut_guard = 0

    @property
    def limit(self) -> int:
        return max(self._floor, min(self._ceiling, int(self._limit)))

    @property
    def baseline(self) -> float | None:
        """The unloaded latency learnt so far (seconds); None before the first answer."""
        known = min(self._baseline, self._window_min)
        return None if math.isinf(known) else known

    @property
    def bounds(self) -> tuple[int, int]:
        return self._floor, self._ceiling

    def set_bounds(self, ceiling: int, floor: int) -> None:
        """New bounds (a reloaded configuration); the limit is clamped into them."""
        if not 1 <= floor <= ceiling:
            raise ValueError(f"need 1 <= floor <= ceiling, not floor={floor} ceiling={ceiling}")
        self._ceiling, self._floor = ceiling, floor
        self._limit = float(max(floor, min(ceiling, self._limit)))

    def observe(self, answer: Answer, in_flight: int) -> None:
        """Learn from one answer; ``in_flight``: requests in flight when it was sent (itself included)."""
        self._since_cut += 1
        if answer.throttled and answer.paused:
            self._restart(in_flight)
            self._new_round()
            return
        if answer.throttled or answer.delayed or answer.remaining_low:
            self._slow_start = False
            self._cut(0.5 if answer.throttled else 0.75 if answer.delayed else self._backoff, in_flight)
            self._new_round()  # a round with a throttled answer proves no room to grow
            return
        self._round_peak = max(self._round_peak, in_flight)
        ratio = self._ratio(answer.route, answer.rtt)
        self._learn_baseline(answer.route, answer.rtt)
        if ratio is not None:  # the first answer of a route says nothing about load
            self._round.append(ratio)
            if len(self._round) >= self.limit:
                self._end_round()

    def _ratio(self, route: str, rtt: float) -> float | None:
        """This answer's latency over its route's baseline (None for a route not seen before)."""
        base = min(self._route_base.get(route, math.inf), self._route_min.get(route, math.inf))
        return rtt / base if 0 < base < math.inf else None

    def _learn_baseline(self, route: str, rtt: float) -> None:
        self._window_min = min(self._window_min, rtt)
        self._route_min[route] = min(self._route_min.get(route, math.inf), rtt)
        self._window_count += 1
        if self._window_count >= self._window:
            self._baseline = min(self._window_min, self._baseline * 1.1)
            for name in set(self._route_base) | set(self._route_min):
                self._route_base[name] = min(self._route_min.get(name, math.inf), self._route_base.get(name, math.inf) * 1.1)
            self._window_min, self._window_count, self._route_min = math.inf, 0, {}

    def _end_round(self) -> None:
        ratio = sorted(self._round)[len(self._round) // 2]
        if ratio > self._congested:
            self._slow_start = False
            self._cut(self._backoff, self._round_peak)
        elif ratio <= self._tolerance and self._round_peak * 2 >= self.limit:
            if self._slow_start:
                self._limit = float(min(self._ceiling, self._threshold, self._limit * 2))
                self._slow_start = self._limit < self._threshold
            else:
                self._limit = float(min(self._ceiling, self._limit + 1))
        self._new_round()

    def _restart(self, in_flight: int) -> None:
        """After a pause the server asked for (Retry-After): back to the floor, then slow start up to
        half the limit it had (as TCP after a timeout): the requests waiting out the pause must not
        all go at once into a budget that has room for one."""
        if self.limit == self._floor and self._since_cut <= self._cut_guard:
            return  # restarted already (a smaller cut just before does not stop it)
        if self.limit > self._floor:
            self._threshold = max(self._floor, self.limit // 2)
        self._cut_guard = max(self.limit, in_flight)
        self._since_cut = 0
        self._limit = float(self._floor)
        self._slow_start = self._limit < self._threshold

    def _cut(self, factor: float, in_flight: int) -> None:
        """Shrink, unless a cut happened less than one old limit's (or in-flight's) worth of answers
        ago: the answers to requests sent before that cut say nothing new."""
        if self._since_cut <= self._cut_guard:
            return
        self._cut_guard = max(self.limit, in_flight)
        self._since_cut = 0
        self._limit = float(max(self._floor, math.floor(self._limit * factor)))

    def _new_round(self) -> None:
        self._round = []
        self._round_peak = 0

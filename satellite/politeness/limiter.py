"""The adaptive concurrency limit of one server: how many requests may be in flight at once.

    limit = AdaptiveLimit(ceiling=16, floor=1)
    limit.observe(Answer(rtt=0.021), in_flight=3)     # after every answer
    limit.limit                                       # 1..16

It starts at the floor and doubles every round (a round: as many answers as the limit) while the
round's median latency stays within ``tolerance`` times the baseline, the lowest latency of recent
answers (slow start, as TCP). After the first sign of load it grows by one per good round and shrinks
by ``backoff`` per round whose median exceeds ``congested`` times the baseline (AIMD). A 429 or 503
halves it, an ``X-RateLimit-Delay`` cuts it by a quarter and a low ``X-RateLimit-Remaining`` by
``backoff``, at most once per round: one burst of throttled answers is one signal, not many. It never
grows on a round whose peak in-flight stayed below half the limit (no demand proves nothing), and
stays within [floor, ceiling].

The baseline is the minimum latency of the last window of answers, allowed to rise by 10% per window,
so that a server that became slower for good (others' load) is learnt, slowly. Not thread-safe: the
gate calls it under its lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["AdaptiveLimit", "Answer"]


@dataclass(frozen=True, slots=True)
class Answer:
    """What one answer says about the server's load."""

    rtt: float  # seconds from sending the request to reading the whole answer
    throttled: bool = False  # 429 or 503
    delayed: bool = False  # X-RateLimit-Delay present
    remaining_low: bool = False  # X-RateLimit-Remaining below a tenth of X-RateLimit-Limit


class AdaptiveLimit:
    """Slow start, then additive increase and multiplicative decrease on latency and throttling."""

    def __init__(self, ceiling: int, floor: int = 1, *, tolerance: float = 1.5, congested: float = 2.0,
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
        self._baseline = math.inf
        self._window_min = math.inf
        self._window_count = 0
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
        if answer.throttled or answer.delayed or answer.remaining_low:
            self._slow_start = False
            self._cut(0.5 if answer.throttled else 0.75 if answer.delayed else self._backoff)
            self._new_round()  # a round with a throttled answer proves no room to grow
            return
        self._round_peak = max(self._round_peak, in_flight)
        self._learn_baseline(answer.rtt)
        self._round.append(answer.rtt)
        if len(self._round) >= self.limit:
            self._end_round()

    def _learn_baseline(self, rtt: float) -> None:
        self._window_min = min(self._window_min, rtt)
        self._window_count += 1
        if self._window_count >= self._window:
            self._baseline = min(self._window_min, self._baseline * 1.1)
            self._window_min, self._window_count = math.inf, 0

    def _end_round(self) -> None:
        median = sorted(self._round)[len(self._round) // 2]
        baseline = self.baseline or median
        ratio = median / baseline if baseline > 0 else 1.0
        if ratio > self._congested:
            self._slow_start = False
            self._cut(self._backoff)
        elif ratio <= self._tolerance and self._round_peak * 2 >= self.limit:
            grown = self._limit * 2 if self._slow_start else self._limit + 1
            self._limit = float(min(self._ceiling, grown))
        self._new_round()

    def _cut(self, factor: float) -> None:
        """Shrink, unless a cut happened less than one old limit's worth of answers ago: the answers to
        requests sent before that cut say nothing new."""
        if self._since_cut <= self._cut_guard:
            return
        self._cut_guard = self.limit
        self._since_cut = 0
        self._limit = float(max(self._floor, math.floor(self._limit * factor)))

    def _new_round(self) -> None:
        self._round = []
        self._round_peak = 0

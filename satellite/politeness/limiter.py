"""The adaptive concurrency limit of one server: how many requests may be in flight at once.

    limit = AdaptiveLimit(ceiling=16, floor=1)
    limit.observe(Answer(rtt=0.021, route="GET /_apis/projects"), in_flight=3)   # after every answer
    limit.limit                                                                   # 1..16

It estimates how many of its requests wait in the server's queue (as TCP Vegas does) and keeps that
queue at about one. Each answer is compared with its route's baseline, the lowest latency of that
route (a page of 1,000 commits and a list of refs differ tenfold unloaded; a mix of them must not
look like load; a route's first answer only starts its baseline). An answer sent with ``n``
requests in flight whose latency is ``r`` times its baseline says that ``n / r`` of them were being
served and ``n x (1 - 1 / r)`` waited: against a server of C workers whose latency grows as k / C
beyond C requests in flight, exactly k - C. A round is as many answers as the limit; its queue is a
low order statistic of what its answers sent nearest its peak in flight say: the ``quantile``
(0.25), at most the ``rank``-th lowest (3: the 4th), as the client's own delays (the GIL, parsing)
and the server's jitter only ever make answers slower; with a fixed rank the jitter a large round
keeps is as small as a small round's. Answers to requests sent before a cut (more in flight than
the limit now) are left out.

With ``alpha = max(alpha, share x limit)`` and ``beta = max(beta, 2 x share x limit)`` (half a
request and one and a half up to a limit of 10 and 15, 5% and 10% of the limit beyond: a large
server's noise must not read as a queue), the limit starts at the floor and doubles per round while
the queue stays within beta (slow start, as TCP); after that it grows by one per round whose queue
is below alpha, holds between alpha and beta, and above beta goes straight to what the server
serves plus alpha (``in flight - queue + alpha``; at most halving it). It grows only on a round
that used the whole limit (an answer sent with the limit in flight): spare slots prove nothing, and
a limit grown on them would let the next burst queue. It settles at C + 1 (C + 5% for a large C).

A 429 or 503 with ``Retry-After`` (the gate pauses the server for it) sends it back to the floor,
to slow-start again up to half of what it was; without, it halves it; an ``X-RateLimit-Delay`` cuts
it by a quarter and a low ``X-RateLimit-Remaining`` by ``backoff``. Every cut, these and the
latency's, happens at most once per limit's worth of answers: the answers to requests sent before
a cut say nothing new. It stays within [floor, ceiling].

Baselines never rise on a queue the limit keeps: a window of ``window`` answers in which a route's
fastest answer stayed more than ``confirm`` (5%) above its baseline is followed by a drain (as BBR's
ProbeRTT): for one round the limit goes below the knee (the limit less beta, and below what the
server was seen to serve), then back. Only a route still slow in the window of the drain has its
baseline raised, to its fastest answer there, by at most ``rise`` (5%) per drain: a server that
became slower for good (others' load) is learnt, slowly. Not thread-safe: the gate calls it under
its lock.
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
    """Slow start, then a queue estimate kept between alpha and beta; cuts on throttling."""

    def __init__(self, ceiling: int, floor: int = 1, *, alpha: float = 0.5, beta: float = 1.5, share: float = 0.05,
                 quantile: float = 0.25, rank: int = 3, backoff: float = 0.9, window: int = 500, rise: float = 0.05,
                 confirm: float = 0.05) -> None:
        if not 1 <= floor <= ceiling:
            raise ValueError(f"need 1 <= floor <= ceiling, not floor={floor} ceiling={ceiling}")
        if not 0 < alpha <= beta or share < 0 or not 0 <= quantile <= 1:
            raise ValueError("need 0 < alpha <= beta, share >= 0 and 0 <= quantile <= 1")
        self._ceiling = ceiling
        self._floor = floor
        self._alpha = alpha
        self._beta = beta
        self._share = share
        self._quantile = quantile
        self._rank = rank
        self._backoff = backoff
        self._window = window
        self._rise = rise
        self._confirm = confirm
        self._limit = float(floor)
        self._slow_start = True
        self._threshold = ceiling  # slow start ends here (after a restart: half the limit it had)
        self._window_count = 0
        self._route_base: dict[str, float] = {}  # per route: its baseline
        self._route_min: dict[str, float] = {}  # per route: the lowest latency of this window
        self._drained = False  # this window held a drain
        self._drain_left = 0  # answers still to come at the drained limit
        self._drain_restore = 0.0  # the limit to go back to after the drain
        self._served = math.inf  # the requests the server serves at once, as the last round tells
        self._round: list[tuple[int, float]] = []  # (in flight, queue) of each answer of this round
        self._since_cut = 0
        self._cut_guard = 0

    @property
    def limit(self) -> int:
        return max(self._floor, min(self._ceiling, int(self._limit)))

    @property
    def baseline(self) -> float | None:
        """The unloaded latency learnt so far (seconds): the lowest route baseline; None before the first answer."""
        known = min([*self._route_base.values(), *self._route_min.values()], default=math.inf)
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
        self._threshold = min(self._threshold, ceiling)

    def observe(self, answer: Answer, in_flight: int) -> None:
        """Learn from one answer; ``in_flight``: requests in flight when it was sent (itself included)."""
        self._since_cut += 1
        if answer.throttled and answer.paused:
            self._restart(in_flight)
            self._new_round()
            return
        if answer.throttled or answer.delayed or answer.remaining_low:
            self._slow_start = False
            factor = 0.5 if answer.throttled else 0.75 if answer.delayed else self._backoff
            self._cut(math.floor(self._limit * factor), in_flight)
            self._new_round()  # a round with a throttled answer proves no room to grow
            return
        base = self._route_baseline(answer.route)
        self._learn_baseline(answer.route, answer.rtt)
        if base is not None and in_flight <= self.limit:  # a route's first answer, or one sent before a cut: no news
            ratio = answer.rtt / base
            self._round.append((in_flight, max(1, in_flight) * (1 - 1 / ratio) if ratio > 1 else 0.0))
            if len(self._round) >= self.limit:
                self._end_round(judge=self._drain_left == 0)
        if self._drain_left > 0:
            self._drain_left -= 1
            if self._drain_left == 0:
                self._limit = max(self._limit, self._drain_restore)
                self._new_round()

    def _route_baseline(self, route: str) -> float | None:
        base = min(self._route_base.get(route, math.inf), self._route_min.get(route, math.inf))
        return base if 0 < base < math.inf else None

    def _learn_baseline(self, route: str, rtt: float) -> None:
        self._route_min[route] = min(self._route_min.get(route, math.inf), rtt)
        self._window_count += 1
        if self._window_count >= self._window:
            unconfirmed = False
            for name, low in self._route_min.items():  # a route not seen in the window keeps its baseline
                base = self._route_base.get(name, math.inf)
                if low <= base * (1 + self._confirm):  # confirmed (or lower)
                    self._route_base[name] = min(low, base)
                elif self._drained:  # slow even below the knee: the server is slower
                    self._route_base[name] = min(low, base * (1 + self._rise))
                else:
                    unconfirmed = True
            self._drained = False
            if unconfirmed:
                self._drain()
            self._window_count, self._route_min = 0, {}

    def _drain(self) -> None:
        """No answer of a whole window came near its baseline: our own queue, or a slower server?
        Two rounds below the knee tell (as BBR's ProbeRTT): the baselines rise after them only if
        the answers sent then are slow too."""
        limit = self.limit
        drained = limit - math.ceil(max(self._beta, 2 * self._share * limit))  # below the knee, or below
        if self._served < limit:  # what the server serves, if rounds told (a wrong baseline: even lower)
            drained = min(drained, math.floor(self._served * (1 - self._share)))
        drained = max(self._floor, drained)
        if drained >= limit:
            self._drained = True
            return
        self._drain_restore = self._limit
        self._limit = float(drained)
        self._drain_left = limit + drained  # the answers of requests sent before it, then a round
        self._drained = True
        self._new_round()

    def _end_round(self, judge: bool = True) -> None:
        peak = max(n for n, _ in self._round)  # the answers sent nearest the round's peak judge it
        queues = sorted(q for n, q in self._round if n >= peak - max(1, int(0.1 * peak)))
        queue = queues[min(len(queues) - 1, int(self._quantile * len(queues)), self._rank)]
        self._served = peak - queue  # what the server serves at once, as far as this round tells
        limit = self.limit
        if not judge:  # a drain: its rounds only teach the baselines
            self._new_round()
            return
        alpha = max(self._alpha, self._share * limit)
        beta = max(self._beta, 2 * self._share * limit)
        if queue > beta:
            self._slow_start = False
            self._cut(max(math.floor(limit / 2), math.ceil(min(limit, peak) - queue + alpha)), peak)
        elif queue >= alpha and not self._slow_start:
            pass  # the knee: hold
        elif peak >= limit:  # room, and the round used the whole limit
            if self._slow_start:
                self._limit = float(min(self._ceiling, self._threshold, limit * 2))
                self._slow_start = self._limit < self._threshold
            else:
                self._limit = float(min(self._ceiling, limit + 1))
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
        self._drain_left = 0
        self._slow_start = self._limit < self._threshold

    def _cut(self, target: int, in_flight: int) -> None:
        """Shrink to ``target``, unless a cut happened less than one old limit's (or in-flight's)
        worth of answers ago: the answers to requests sent before that cut say nothing new."""
        if self._since_cut <= self._cut_guard or target >= self._limit:
            return
        self._cut_guard = max(self.limit, in_flight)
        self._since_cut = 0
        self._limit = float(max(self._floor, target))
        self._drain_left = 0

    def _new_round(self) -> None:
        self._round = []

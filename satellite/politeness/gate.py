"""One gate per server (scheme://host:port) that every request to it passes, whatever collection,
stream or thread it comes from.

    gate = gate_for(url, GateSettings.from_limits(config.limits))
    ticket = gate.enter(current_work())   # blocks: a pause, then a free slot, then a token
    try:
        response = send()
    finally:
        gate.leave(ticket, response.status_code, response.headers)   # (None, None) on a network error

- A pause (``Retry-After``, ``X-RateLimit-Delay``) holds every request to the server, not only the
  one that met it.
- Slots: at most ``limit`` requests in flight; the limit adapts (``limiter``) between
  ``limits.min_concurrency`` and ``limits.concurrency``, or is the ceiling when not adaptive. While
  the last answer carried ``X-RateLimit-Remaining``, no more than that many (at least one): the
  requests waiting out a pause do not all go at once into a budget with room for a few.
- Rank: incremental work before backfill work, within each the continuation of a paged walk
  (``chained``) before fan-out reads. A request arriving at a free slot takes it at once unless a
  waiting request that may take it ranks better: within a rank the running thread goes first
  (barging), rather than leave the slot idle while a woken waiter's thread is scheduled and gets
  the GIL (0.1 to a few ms). A response still wakes one waiting request (one thread, not all): the
  first of those that may take the slot by rank, then in order of arrival; if a newcomer took the
  slot meanwhile, it waits again. Backfill work holds at most ``share`` of the limit (at least one
  slot) outside its window (``work``).
- Tokens: ``limits.max_requests_per_second`` (``bucket``), shared by everything sent to the server.
- Stopping: a waiting request whose work says the process is stopping (``Work.should_stop``, looked
  at least every ``RECHECK_S``) gives up with ``Stopping``: a pause of minutes must not hold a SIGTERM.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from satellite.errors import Stopping
from satellite.politeness.bucket import TokenBucket
from satellite.politeness.limiter import AdaptiveLimit, Answer
from satellite.politeness.observer import MetricsObserver
from satellite.politeness.work import Work
from satellite.retrying import parse_retry_after

__all__ = ["GateObserver", "GateSettings", "ServerGate", "Ticket", "forget_gates", "gate_for", "gate_of", "server_of"]

RECHECK_S = 1.0  # a waiting request looks again this often: a backfill's window may have opened, the process may be stopping
LOW_REMAINING = 0.1  # X-RateLimit-Remaining below this share of X-RateLimit-Limit is a throttle signal


def server_of(url: str) -> str:
    """``scheme://host:port`` of a URL, the port explicit (``https://tfs.corp/tfs/C`` -> ``https://tfs.corp:443``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower() or "https"
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True, slots=True)
class GateSettings:
    """From the ``limits`` section: the ceiling, the floor, adaptive or fixed, the rate cap."""

    ceiling: int = 4
    floor: int = 1
    adaptive: bool = True
    rate: float | None = None
    max_pause: float = 600.0  # a Retry-After longer than this is cut to it

    @classmethod
    def from_limits(cls, limits: Any) -> GateSettings:
        return cls(ceiling=limits.concurrency, floor=min(limits.min_concurrency, limits.concurrency),
                   adaptive=limits.adaptive, rate=limits.max_requests_per_second)


class GateObserver(Protocol):
    """Where the gate reports (the Prometheus metrics; a recorder in tests)."""

    def limit(self, server: str, limit: int, baseline: float | None) -> None: ...
    def throttled(self, server: str, signal: str) -> None: ...
    def waited(self, server: str, reason: str, seconds: float) -> None: ...


class _Silent:
    def limit(self, server: str, limit: int, baseline: float | None) -> None:
        pass

    def throttled(self, server: str, signal: str) -> None:
        pass

    def waited(self, server: str, reason: str, seconds: float) -> None:
        pass


@dataclass(frozen=True, slots=True)
class Ticket:
    """A request let through: what ``leave`` needs."""

    backfill: bool
    sent_at: float
    in_flight: int
    route: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class _Waiter:
    """A request waiting at the gate; ``order``: lowest goes first; ``wake``: only it is woken."""

    work: Work
    order: tuple[bool, bool, int]
    wake: threading.Condition


def _rank(work: Work) -> tuple[bool, bool]:
    """Incremental before backfill; within each, a walk's continuation before a fan-out read."""
    return work.backfill, not work.chained


class ServerGate:
    """The pause, the slots and the token bucket of one server; thread-safe."""

    def __init__(self, server: str, settings: GateSettings, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] = time.sleep, observer: GateObserver | None = None) -> None:
        self.server = server
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._observer = observer or _Silent()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._waiters: list[_Waiter] = []
        self._arrivals = itertools.count()
        self._settings = settings
        self._limiter = AdaptiveLimit(settings.ceiling, settings.floor)
        self._bucket = TokenBucket(settings.rate, clock=clock) if settings.rate else None
        self._paused_until = 0.0
        self._in_flight = 0
        self._backfill_in_flight = 0
        self._budget_left: float | None = None  # X-RateLimit-Remaining of the last answer that had one
        self._report_limit()

    # settings ------------------------------------------------------------------------------

    @property
    def settings(self) -> GateSettings:
        return self._settings

    def configure(self, settings: GateSettings) -> None:
        """Take new settings (a reloaded configuration); the learnt limit and baseline stay."""
        with self._cond:
            if settings == self._settings:
                return
            self._settings = settings
            self._limiter.set_bounds(settings.ceiling, settings.floor)
            if settings.rate is None:
                self._bucket = None
            elif self._bucket is None:
                self._bucket = TokenBucket(settings.rate, clock=self._clock)
            else:
                self._bucket.set_rate(settings.rate)
            for waiter in self._waiters:  # the limit may have grown: every waiter looks again
                waiter.wake.notify()
        self._report_limit()

    # state (for tests and the status page) -------------------------------------------------

    @property
    def limit(self) -> int:
        """Requests allowed in flight now."""
        with self._cond:
            return self._limit()

    @property
    def baseline(self) -> float | None:
        with self._cond:
            return self._limiter.baseline

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def waiting(self) -> int:
        """Requests waiting for the pause to end or a slot."""
        with self._cond:
            return len(self._waiters)

    def paused_for(self) -> float:
        """Seconds until the server's pause ends (0.0: not paused)."""
        with self._cond:
            return max(0.0, self._paused_until - self._clock())

    # the gate ------------------------------------------------------------------------------

    def pause(self, seconds: float) -> None:
        """Hold every request to the server for ``seconds`` (capped at ``max_pause``), from now."""
        seconds = min(max(0.0, seconds), self._settings.max_pause)
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def may_enter(self, work: Work) -> bool:
        """Whether ``work`` would get a slot now (not paused, a slot free, no waiter ranking better)."""
        with self._cond:
            return self._may_barge(work)

    def enter(self, work: Work, route: str = "") -> Ticket:
        """Wait for the pause to end, a slot and a token; the caller must ``leave`` the ticket.
        ``route``: what is asked, ids left out (the limiter compares each route's latency with its own)."""
        with self._cond:
            if not self._may_barge(work):
                me = _Waiter(work, (*_rank(work), next(self._arrivals)), threading.Condition(self._lock))
                self._waiters.append(me)
                try:
                    self._wait_for_slot(me)
                finally:
                    self._waiters.remove(me)
            self._in_flight += 1
            if work.backfill:
                self._backfill_in_flight += 1
            in_flight = self._in_flight
            bucket = self._bucket
            self._wake_next()  # a slot may still be free (the limit grew, a pause ended)
        delay = bucket.reserve() if bucket is not None else 0.0
        if delay > 0:
            self._sleep(delay)
            self._observer.waited(self.server, "rate", delay)
        return Ticket(work.backfill, self._clock(), in_flight, route)

    def leave(self, ticket: Ticket, status: int | None, headers: Mapping[str, str] | None) -> None:
        """The answer to a ticket's request (``status`` None: no answer, a network error)."""
        rtt = self._clock() - ticket.sent_at
        answer, pause, signals = _read_answer(rtt, ticket.route, status, headers or {})
        for signal in signals:
            self._observer.throttled(self.server, signal)
        with self._cond:
            self._in_flight -= 1
            if ticket.backfill:
                self._backfill_in_flight -= 1
            if pause:
                self._paused_until = max(self._paused_until, self._clock() + min(pause, self._settings.max_pause))
            if answer is not None and self._settings.adaptive:
                self._limiter.observe(answer, ticket.in_flight)
                self._budget_left = _remaining(status, headers or {})
            self._wake_next()
        if answer is not None:
            self._report_limit()

    def _limit(self) -> int:
        if not self._settings.adaptive:
            return self._settings.ceiling
        if self._budget_left is not None:  # no more in flight than the budget the last answer said is left
            return max(1, min(self._limiter.limit, int(self._budget_left)))
        return self._limiter.limit

    def _has_slot(self, work: Work, limit: int | None = None) -> bool:
        limit = self._limit() if limit is None else limit
        if self._in_flight >= limit:
            return False
        if not work.backfill:
            return True
        share = work.share_at(self._wall())
        return share >= 1.0 or self._backfill_in_flight < max(1, math.floor(limit * share))

    def _may_barge(self, work: Work) -> bool:
        """Whether a running request of ``work`` takes a slot without queueing: not paused, a slot
        free for it, and no waiter that may take one ranks better (an equal rank does not stop it)."""
        if self._clock() < self._paused_until or not self._has_slot(work):
            return False
        first = self._next()
        return first is None or first.order[:2] >= _rank(work)

    def _next(self) -> _Waiter | None:
        """The waiter a free slot goes to now (None: paused, or no waiter may take one)."""
        if not self._waiters or self._clock() < self._paused_until:
            return None
        limit = self._limit()
        if self._in_flight >= limit:  # no slot for anyone (the common case in a backfill: no scan of the waiters)
            return None
        best: _Waiter | None = None
        for waiter in self._waiters:
            if (best is None or waiter.order < best.order) and self._has_slot(waiter.work, limit):
                best = waiter
        return best

    def _wake_next(self) -> None:
        first = self._next()
        if first is not None:
            first.wake.notify()

    def _wait_for_slot(self, me: _Waiter) -> None:
        waited: dict[str, float] = {}
        should_stop = me.work.should_stop
        try:
            while True:
                if should_stop is not None and should_stop():
                    raise Stopping(f"stopping: a request waiting at {self.server}'s gate gave up")
                now = self._clock()
                if now < self._paused_until:
                    reason, timeout = "pause", min(self._paused_until - now, RECHECK_S)
                else:
                    first = self._next()
                    if first is me:
                        return
                    if first is not None:  # woken, but another goes first: pass the wake-up on
                        first.wake.notify()
                    reason, timeout = "slot", RECHECK_S
                started = self._clock()
                me.wake.wait(timeout)
                waited[reason] = waited.get(reason, 0.0) + self._clock() - started
        finally:
            for reason, seconds in waited.items():
                self._observer.waited(self.server, reason, seconds)

    def _report_limit(self) -> None:
        with self._cond:
            limit, baseline = self._limit(), self._limiter.baseline
        self._observer.limit(self.server, limit, baseline)


def _remaining(status: int | None, headers: Mapping[str, str]) -> float | None:
    """``X-RateLimit-Remaining`` of an answer (None: no answer, or the server did not say)."""
    return None if status is None else _number(headers.get("X-RateLimit-Remaining"))


def _read_answer(rtt: float, route: str, status: int | None, headers: Mapping[str, str]) -> tuple[Answer | None, float, list[str]]:
    """(what the limiter learns, seconds to pause the server, the throttle signals met)."""
    if status is None:
        return None, 0.0, []
    signals = [str(status)] if status in (429, 503) else []
    pause = parse_retry_after(headers.get("Retry-After")) or 0.0
    delay = _number(headers.get("X-RateLimit-Delay"))
    if delay is not None and delay > 0:
        signals.append("delay")
        pause = max(pause, delay)
    remaining, allowed = _number(headers.get("X-RateLimit-Remaining")), _number(headers.get("X-RateLimit-Limit"))
    low = remaining is not None and allowed is not None and allowed > 0 and remaining < LOW_REMAINING * allowed
    if low:
        signals.append("remaining_low")
    throttled = status in (429, 503)
    answer = Answer(rtt, route, throttled=throttled, delayed=bool(delay and delay > 0), remaining_low=low,
                    paused=throttled and "Retry-After" in headers)
    return answer, pause, signals


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


_GATES: dict[str, ServerGate] = {}
_GATES_LOCK = threading.Lock()


def forget_gates() -> None:
    """Drop every gate (tests: a port a later test's server reuses must not inherit a learnt limit or
    a pause); the next ``gate_for`` makes a new one."""
    with _GATES_LOCK:
        _GATES.clear()


def gate_of(url: str) -> ServerGate | None:
    """The process's gate of ``url``'s server if one was made (its state, for status and tests)."""
    with _GATES_LOCK:
        return _GATES.get(server_of(url))


def gate_for(url: str, settings: GateSettings, *, observer: GateObserver | None = None) -> ServerGate:
    """The process's gate of ``url``'s server, made on first use; later calls update its settings."""
    server = server_of(url)
    with _GATES_LOCK:
        gate = _GATES.get(server)
        if gate is None:
            gate = _GATES[server] = ServerGate(server, settings, observer=observer or MetricsObserver())
            return gate
    gate.configure(settings)
    return gate

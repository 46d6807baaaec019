"""Load model (``--capacity N``): queueing latency, a per-identity budget in resource units, a probe.

    model = LoadModel(LoadConfig(capacity=4, service_ms=20, budget=Budget(threshold=200, limit=400)))
    app = create_app(world, load=model)          # or create_app(world, load=LoadConfig(...))
    model.stats().probe.p95_ms                   # what another client would wait now (GET /_sim/load)

Three pure formulas, each a function of this module, and one stateful ``LoadModel`` that applies them
with an injected clock (``clock()``: seconds since the epoch; tests pass a fake one).

**Queueing latency** (processor sharing over ``N`` workers). A request arriving while ``k`` requests
are in flight, itself included, is answered after::

    latency(k) = s * max(1, k / N)

``s`` is the unloaded service time (``service_ms``). Up to ``N`` requests run at full speed; beyond,
the ``N`` workers are shared, so each request runs ``k / N`` times slower. The latency is fixed at
arrival. "In flight" runs from arrival to the answer, budget delays included (a held request holds
a worker thread on a real server too); blocked (429) requests are never in flight.

**Budget** (Azure DevOps resource units, TSTUs, over a sliding window). Each request of an identity
costs ``request_tstu``; ``usage`` is what the identity spent in the last ``window_s`` seconds, this
request included. With the threshold ``T`` and the limit ``L``:

- ``usage <= warn_share * T``: nothing happens;
- beyond, the answer carries ``X-RateLimit-Resource``, ``X-RateLimit-Limit`` (``T``),
  ``X-RateLimit-Remaining`` (``max(0, T - usage)``, counting down to 0) and ``X-RateLimit-Reset``
  (epoch seconds at which the usage is back to 0 if the identity stops);
- ``T < usage <= L``: besides, the answer is held ``delay(usage) = max_delay_s * (usage - T) / (L - T)``
  and says so in ``X-RateLimit-Delay`` (seconds, 3 decimals);
- ``usage > L``: 429 with ``Retry-After`` (whole seconds until this request would fit under ``L``),
  the same headers and TF400733 ``RequestBlockedException``. A blocked request costs nothing.

Microsoft documents these headers for Azure DevOps Services only (docs/simulator.md); a server
that sends them is the worst case a polite client must handle. An identity is the credential: a
PAT is ``pat-`` and 8 hex digits of its SHA-256 (never the PAT), no credential ``anonymous``.

**Probe**. The model does not send probe requests: at every moment it knows what one more request
from an idle identity (``probe``) would wait, ``latency(k + 1)``. ``stats()`` gives the
time-weighted p50/p95 of that over the last ``probe_window_s`` seconds (to the second), its value
at the peak of requests in flight, and the unloaded ``s``: what the simulator's other clients saw
while a client under test ran. Recording is O(1) per request with bounded memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from standins.ado_simulator.wire.faults import THROTTLED_MESSAGE
from standins.ado_simulator.wire.wire import ApiError, Response

__all__ = [
    "PROBE",
    "Admission",
    "Budget",
    "Clock",
    "IdentityStats",
    "LoadConfig",
    "LoadModel",
    "LoadStats",
    "ProbeStats",
    "budget_delay",
    "identity_of",
    "parse_budget",
    "queue_latency",
    "retry_after",
    "serve_loaded",
    "throttled_response",
    "time_weighted_percentile",
]

Clock = Callable[[], float]
PROBE = "probe"
_FRAMEWORK = "Microsoft.TeamFoundation.Framework.Server"


@dataclass(frozen=True, slots=True)
class Budget:
    """A per-identity budget in TSTUs over a sliding window (see the module docstring)."""

    threshold: float = 15_000.0  # T: TSTUs per window before answers are delayed (X-RateLimit-Limit)
    limit: float = 30_000.0  # L: TSTUs per window beyond which requests are blocked (429)
    window_s: float = 300.0  # the sliding window (Azure DevOps: five minutes)
    request_tstu: float = 1.0  # what one request costs
    max_delay_s: float = 30.0  # the delay at usage = L (Azure DevOps: "up to 30 seconds")
    resource: str = "ATCPU"  # X-RateLimit-Resource, and the resource the 429 names
    warn_share: float = 0.8  # the X-RateLimit headers start beyond this share of the threshold

    def __post_init__(self) -> None:
        if not 0 < self.threshold < self.limit:
            raise ValueError(f"a budget needs 0 < threshold < limit, not {self.threshold:g} and {self.limit:g}")
        if self.window_s <= 0 or self.request_tstu <= 0 or self.max_delay_s < 0 or not 0 <= self.warn_share <= 1:
            raise ValueError("a budget's window and request cost must be positive, its delay not negative,"
                             " its warn_share between 0 and 1")


@dataclass(frozen=True, slots=True)
class LoadConfig:
    """``capacity``: N, requests served at full speed at once; ``service_ms``: s, the unloaded
    latency; ``budget``: None for none; ``probe_window_s``: the span of the probe's statistics."""

    capacity: int
    service_ms: float = 20.0
    budget: Budget | None = field(default_factory=Budget)
    probe_window_s: float = 60.0

    def __post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {self.capacity}")
        if self.service_ms < 0 or self.probe_window_s <= 0:
            raise ValueError("service_ms must not be negative and probe_window_s must be positive")


def parse_budget(text: str) -> Budget | None:
    """``THRESHOLD:LIMIT[:WINDOW_S[:MAX_DELAY_S]]`` (the CLI's ``--rate-budget``), or ``off``."""
    if text.strip().lower() == "off":
        return None
    parts = text.split(":")
    if not 2 <= len(parts) <= 4:
        raise ValueError(f"bad budget {text!r}: THRESHOLD:LIMIT[:WINDOW_S[:MAX_DELAY_S]] or off")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"bad budget {text!r}: the fields are numbers") from None
    names = ("threshold", "limit", "window_s", "max_delay_s")
    return Budget(**dict(zip(names, numbers, strict=False)))


# -- the formulas -------------------------------------------------------------------------------


def queue_latency(service_s: float, capacity: int, in_flight: int) -> float:
    """``s * max(1, k / N)``: the latency of a request arriving with ``in_flight`` (k, itself
    included) requests in flight on ``capacity`` (N) workers."""
    if capacity < 1:
        raise ValueError("capacity must be at least 1")
    return service_s * max(1.0, in_flight / capacity)


def budget_delay(usage: float, budget: Budget) -> float:
    """Seconds to hold an answer at ``usage`` TSTUs: 0 up to the threshold, rising linearly to
    ``max_delay_s`` at the limit (blocked beyond, see ``retry_after``)."""
    if usage <= budget.threshold:
        return 0.0
    share = (usage - budget.threshold) / (budget.limit - budget.threshold)
    return budget.max_delay_s * min(1.0, share)


def retry_after(charges: Iterable[tuple[float, float]], now: float, budget: Budget, usage: float | None = None) -> int:
    """Whole seconds (at least 1) until a request costing ``request_tstu`` fits under the limit,
    as the ``(time, tstu)`` charges (oldest first) leave the window; ``usage``: their sum within
    the window, when the caller keeps it (the walk then stops at the first charges that suffice)."""
    if usage is None:
        charges = list(charges)
        usage = sum(cost for t, cost in charges if t > now - budget.window_s)
    wait = 0.0
    for t, cost in charges:
        if usage + budget.request_tstu <= budget.limit:
            break
        if t <= now - budget.window_s:
            continue
        usage -= cost
        wait = t + budget.window_s - now
    return max(1, math.ceil(wait - 1e-9))


def time_weighted_percentile(spans: list[tuple[float, float]], q: float) -> float:
    """The smallest value whose spans, with the spans of smaller values, cover a share ``q`` of
    the total duration; ``spans`` are ``(value, duration)``. 0 for no duration."""
    total = sum(duration for _, duration in spans)
    if total <= 0:
        return 0.0
    covered = 0.0
    for value, duration in sorted(spans):
        covered += duration
        if covered >= q * total - 1e-12:
            return value
    return max(value for value, _ in spans)


def identity_of(authorization: str | None) -> str:
    """Who a request is, for the budget: ``pat-`` + 8 hex digits of the PAT's SHA-256 for Basic,
    the scheme and a digest for other schemes, ``anonymous`` without credentials."""
    if not authorization:
        return "anonymous"
    scheme, _, blob = authorization.strip().partition(" ")
    secret = blob.strip()
    if scheme.lower() == "basic":
        try:
            secret = base64.b64decode(secret, validate=True).decode("utf-8").partition(":")[2]
            scheme = "pat"
        except (binascii.Error, UnicodeDecodeError):
            pass
    return f"{scheme.lower()}-{hashlib.sha256(secret.encode('utf-8', 'replace')).hexdigest()[:8]}"


# -- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Admission:
    """The model's decision about one request: how long to hold it and what to add to its answer."""

    identity: str
    latency: float  # seconds of queueing latency (0 when blocked)
    delay: float  # seconds of budget delay
    blocked: bool  # answer 429 instead of the route
    retry_after: int | None  # seconds, when blocked
    headers: tuple[tuple[str, str], ...]  # X-RateLimit-* (and Retry-After when blocked)

    @property
    def wait(self) -> float:
        return self.latency + self.delay


@dataclass(frozen=True, slots=True)
class ProbeStats:
    """What one more request from an idle identity would wait, over the last ``window_s`` seconds."""

    unloaded_ms: float
    now_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    max_in_flight: int  # the most requests in flight at once within the window
    window_s: float
    identity: str = PROBE


@dataclass(frozen=True, slots=True)
class IdentityStats:
    usage: float  # TSTUs in the budget's window now
    remaining: float  # TSTUs before delays
    requests: int  # answered (delayed ones included)
    delayed: int  # answered with a budget delay
    throttled: int  # answered 429


@dataclass(frozen=True, slots=True)
class LoadStats:
    """``GET /_sim/load``: the model's configuration and what it did."""

    capacity: int
    service_ms: float
    in_flight: int
    requests: int
    delayed: int
    throttled: int
    probe: ProbeStats
    budget: Budget | None
    identities: dict[str, IdentityStats]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Identity:
    charges: deque[tuple[float, float]] = field(default_factory=deque)  # (time, tstu) within the window, oldest first
    usage: float = 0.0  # their sum
    requests: int = 0
    delayed: int = 0
    throttled: int = 0


class LoadModel:
    """Applies the formulas request by request (on the server's event loop, so no locking):
    ``arrive`` when a request comes, ``depart`` once it is answered."""

    def __init__(self, config: LoadConfig, clock: Clock = time.time) -> None:
        self.config = config
        self._clock = clock
        self._identities: dict[str, _Identity] = {}
        self._in_flight = 0
        self._since = clock()  # when the in-flight count last changed (or was accounted)
        self._slots: deque[_Slot] = deque()  # the probe's time-weighted record, one slot per second

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def arrive(self, identity: str) -> Admission:
        """Charge ``identity`` for a request and decide its latency, delay, headers, or a 429."""
        now = self._clock()
        state = self._identities.setdefault(identity, _Identity())
        budget = self.config.budget
        delay = 0.0
        headers: tuple[tuple[str, str], ...] = ()
        if budget is not None:
            _expire(state, now - budget.window_s)
            if state.usage + budget.request_tstu > budget.limit:
                state.throttled += 1
                wait = retry_after(state.charges, now, budget, state.usage)
                headers = (("Retry-After", str(wait)), *_rate_headers(budget, state, 0.0))
                return Admission(identity, 0.0, 0.0, True, wait, headers)
            state.charges.append((now, budget.request_tstu))
            state.usage += budget.request_tstu
            delay = budget_delay(state.usage, budget)
            if state.usage > budget.warn_share * budget.threshold:
                headers = _rate_headers(budget, state, delay)
        state.requests += 1
        state.delayed += int(delay > 0)
        self._set_in_flight(self._in_flight + 1, now)
        latency = queue_latency(self.config.service_ms / 1000.0, self.config.capacity, self._in_flight)
        return Admission(identity, latency, delay, False, None, headers)

    def depart(self, admission: Admission) -> None:
        """The request of ``admission`` has been answered."""
        if not admission.blocked:
            self._set_in_flight(self._in_flight - 1, self._clock())

    def probe_latency(self) -> float:
        """Seconds one more request from an idle identity would wait now."""
        return queue_latency(self.config.service_ms / 1000.0, self.config.capacity, self._in_flight + 1)

    def stats(self) -> LoadStats:
        now = self._clock()
        config, budget = self.config, self.config.budget
        self._account(now)
        service_s = config.service_ms / 1000.0
        held: dict[int, float] = {}  # in flight -> seconds at that count within the window
        peak = self._in_flight
        for slot in self._slots:
            peak = max(peak, slot.peak)
            for count, seconds in slot.held.items():
                held[count] = held.get(count, 0.0) + seconds
        spans = [(queue_latency(service_s, config.capacity, count + 1), seconds) for count, seconds in held.items()]
        now_s = self.probe_latency()
        if not _covers(spans):
            spans = [(now_s, 1.0)]
        probe = ProbeStats(
            unloaded_ms=_ms(queue_latency(service_s, config.capacity, 1)),
            now_ms=_ms(now_s),
            p50_ms=_ms(time_weighted_percentile(spans, 0.50)),
            p95_ms=_ms(time_weighted_percentile(spans, 0.95)),
            max_ms=_ms(max(queue_latency(service_s, config.capacity, peak + 1), now_s)),
            max_in_flight=peak,
            window_s=config.probe_window_s,
        )
        identities = {}
        for name, state in sorted(self._identities.items()):
            if budget is not None:
                _expire(state, now - budget.window_s)
            remaining = max(0.0, budget.threshold - state.usage) if budget is not None else 0.0
            identities[name] = IdentityStats(state.usage, remaining, state.requests, state.delayed, state.throttled)
        return LoadStats(
            capacity=config.capacity,
            service_ms=config.service_ms,
            in_flight=self._in_flight,
            requests=sum(s.requests for s in self._identities.values()),
            delayed=sum(s.delayed for s in self._identities.values()),
            throttled=sum(s.throttled for s in self._identities.values()),
            probe=probe,
            budget=budget,
            identities=identities,
        )

    def reset(self) -> None:
        """Forget usage and statistics (requests in flight stay counted)."""
        self._identities.clear()
        self._slots.clear()
        self._since = self._clock()

    def _set_in_flight(self, count: int, now: float) -> None:
        self._account(now)
        self._in_flight = count
        slot = self._slot(now)
        slot.peak = max(slot.peak, count)

    def _account(self, now: float) -> None:
        """Credit the time since the last change to the count in force, second by second, and
        drop the seconds that left the probe's window (O(1) per request, bounded memory)."""
        window = self.config.probe_window_s
        moment, count = max(self._since, now - window), self._in_flight
        while moment < now:
            slot = self._slot(moment)
            until = min(now, slot.start + _SLOT_S)
            if until <= moment:  # the clock went back: credit the newest second
                until = now
            slot.held[count] = slot.held.get(count, 0.0) + (until - moment)
            slot.peak = max(slot.peak, count)
            moment = until
        self._since = max(self._since, now)
        while self._slots and self._slots[0].start + _SLOT_S <= now - window:
            self._slots.popleft()

    def _slot(self, moment: float) -> _Slot:
        start = math.floor(moment / _SLOT_S) * _SLOT_S
        if self._slots and self._slots[-1].start >= start:
            return self._slots[-1]
        slot = _Slot(start)
        self._slots.append(slot)
        return slot


_SLOT_S = 1.0  # the probe's resolution: its window starts on a whole second


@dataclass(slots=True)
class _Slot:
    start: float
    held: dict[int, float] = field(default_factory=dict)  # in flight -> seconds at that count in this slot
    peak: int = 0


def _expire(state: _Identity, before: float) -> None:
    """Drop the charges made at or before ``before`` from the identity's window."""
    charges = state.charges
    while charges and charges[0][0] <= before:
        state.usage -= charges.popleft()[1]
    if not charges:
        state.usage = 0.0  # no float drift survives an empty window


def _rate_headers(budget: Budget, state: _Identity, delay: float) -> tuple[tuple[str, str], ...]:
    usage, charges = state.usage, state.charges
    reset = math.ceil(charges[-1][0] + budget.window_s) if charges else 0
    headers = [("X-RateLimit-Resource", budget.resource)]
    if delay > 0:
        headers.append(("X-RateLimit-Delay", f"{delay:.3f}"))
    headers += [
        ("X-RateLimit-Limit", f"{budget.threshold:.0f}"),
        ("X-RateLimit-Remaining", f"{max(0.0, budget.threshold - usage):.0f}"),
        ("X-RateLimit-Reset", str(reset)),
    ]
    return tuple(headers)


def _covers(spans: list[tuple[float, float]]) -> bool:
    return sum(duration for _, duration in spans) > 0


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


# -- in the request path (ASGI) -----------------------------------------------------------------


def throttled_response(admission: Admission, resource: str = "ATCPU") -> Response:
    """The 429 of a blocked request: TF400733 ``RequestBlockedException`` with its headers."""
    message = THROTTLED_MESSAGE.replace("'ATCPU'", f"'{resource}'")
    return ApiError(429, message, "RequestBlockedException", f"{_FRAMEWORK}.RequestBlockedException, {_FRAMEWORK}",
                    admission.headers).response()


Send = Callable[[dict], Awaitable[None]]


async def serve_loaded(model: LoadModel, scope: dict, send: Send, serve: Callable[[Send], Awaitable[None]],
                       answer_blocked: Callable[[Response], Awaitable[None]]) -> None:
    """Serve one request under the model: hold it for its latency and delay, then either answer
    429 through ``answer_blocked`` or run ``serve`` with a ``send`` that adds the rate-limit headers."""
    authorization = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"authorization"), None)
    admission = model.arrive(identity_of(authorization))
    try:
        if admission.blocked:
            budget = model.config.budget
            await answer_blocked(throttled_response(admission, budget.resource if budget is not None else "ATCPU"))
            return
        if admission.wait > 0:
            await asyncio.sleep(admission.wait)
        if not admission.headers:
            await serve(send)
            return
        await serve(_SendWithHeaders(send, admission.headers))
    finally:
        model.depart(admission)


class _SendWithHeaders:
    """An ASGI ``send`` adding headers to the response start; keeps ``__self__`` (the server's
    request cycle), which the connection faults reach the transport through (``faults.py``)."""

    def __init__(self, send: Send, headers: tuple[tuple[str, str], ...]) -> None:
        self._send = send
        self._extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self.__self__ = getattr(send, "__self__", None)

    async def __call__(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *self._extra]}
        await self._send(message)

"""Fault injection: latency, throttling, server errors and broken connections, seeded and per route.

    plan = FaultPlan(latency_ms=20, jitter_ms=5, seed=3,
                     rules=(FaultRule("429", rate=0.05, path="/_apis/git/"), FaultRule("reset", limit=1)))
    app = create_app(world, faults=plan)

A rule applies to requests whose path matches its ``path`` regex (``re.search``; empty: all) and,
when set, whose route pattern equals ``route``. Each applicable rule draws from its own
``random.Random`` seeded with (plan seed, rule index, route pattern or path), so the n-th request to
a route meets the same fault in every run; ``limit`` caps how often a rule fires. Latency rules add
up with the plan's base latency; of the other rules the first that fires decides the answer.
Latency is time to answer: it runs from the request's arrival to the answer's first byte, the
simulator's own work inside it (a request whose work takes longer than its latency is answered
when the work is done):

| kind | what the client sees |
|---|---|
| ``latency`` | the normal answer, ``latency_ms`` ± ``jitter_ms`` after the request arrived |
| ``429`` | 429 + ``Retry-After`` + TF400733 RequestBlockedException JSON |
| ``503`` | 503 + ``Retry-After`` + the HTTP.sys "Service Unavailable" HTML page |
| ``500`` | 500 + TF400898 internal error JSON |
| ``reset`` | the connection is reset (RST) before any byte of a response |
| ``truncate`` | the full ``Content-Length``, half of the body, then the connection closes |
| ``slow`` | the normal answer in ``chunk_bytes`` pieces, ``chunk_delay_ms`` apart |
| ``html200`` / ``html500`` | 200 / 500 with an IIS/ASP.NET error page as ``text/html`` |
| ``gone`` | 404 + TF200016 "project does not exist" JSON (a project deleted under the client) |

Faults never touch the control routes (``/_sim/...``).
"""

from __future__ import annotations

import asyncio
import random
import re
import socket
import struct
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from standins.ado_simulator.wire.wire import ApiError, Response, html_response

__all__ = ["KINDS", "FaultRule", "FaultPlan", "FaultInjector", "Decision", "parse_fault", "replaces_response",
           "fault_response", "reset_connection", "send_truncated", "send_slowly"]

KINDS = ("latency", "429", "503", "500", "reset", "truncate", "slow", "html200", "html500", "gone")


@dataclass(frozen=True, slots=True)
class FaultRule:
    kind: str
    rate: float = 1.0  # probability per applicable request
    path: str = ""  # regex searched in the request path; empty matches every path
    route: str = ""  # exact route pattern, e.g. "_apis/projects"; empty matches every route
    limit: int | None = None  # fire at most this many times
    latency_ms: float = 0.0  # latency rules
    jitter_ms: float = 0.0
    retry_after: int = 1  # seconds, 429 and 503
    chunk_bytes: int = 512  # slow bodies
    chunk_delay_ms: float = 50.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; choose from {', '.join(KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, not {self.rate}")
        if self.chunk_bytes < 1 or self.latency_ms < 0 or self.jitter_ms < 0 or self.chunk_delay_ms < 0:
            raise ValueError("fault sizes and delays must be positive")
        re.compile(self.path)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FaultRule":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule fields: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    rules: tuple[FaultRule, ...] = ()
    latency_ms: float = 0.0  # every request
    jitter_ms: float = 0.0
    seed: int = 0

    @property
    def empty(self) -> bool:
        return not self.rules and self.latency_ms == 0 and self.jitter_ms == 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"rules": [asdict(r) for r in self.rules]}

    @classmethod
    def from_json(cls, data: Any) -> "FaultPlan":
        if not isinstance(data, dict):
            raise ValueError("a fault plan is a JSON object")
        unknown = set(data) - {"rules", "latency_ms", "jitter_ms", "seed"}
        if unknown:
            raise ValueError(f"unknown fault plan fields: {', '.join(sorted(unknown))}")
        rules = data.get("rules", [])
        if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
            raise ValueError("rules must be a list of objects")
        return cls(
            tuple(FaultRule.from_json(r) for r in rules),
            float(data.get("latency_ms", 0)),
            float(data.get("jitter_ms", 0)),
            int(data.get("seed", 0)),
        )


def parse_fault(text: str) -> FaultRule:
    """``KIND:RATE[:PATH_REGEX]`` (the CLI's ``--fault``), e.g. ``429:0.05:/_apis/git/``; rules with
    their own latency or sizes come as JSON (``PUT /_sim/faults``)."""
    kind, _, rest = text.partition(":")
    rate, _, path = rest.partition(":")
    if kind == "latency":
        raise ValueError(f"bad fault {text!r}: latency takes --latency-ms/--latency-jitter-ms or a JSON plan")
    try:
        return FaultRule(kind, float(rate) if rate else 1.0, path)
    except (ValueError, re.error) as exc:
        raise ValueError(f"bad fault {text!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Decision:
    delay: float  # seconds from the request's arrival to its answer (the server's work included)
    fault: FaultRule | None  # None: answer normally


@dataclass(slots=True)
class _RuleState:
    rule: FaultRule
    pattern: re.Pattern[str]
    fired: int = 0
    rngs: dict[str, random.Random] = field(default_factory=dict)


class FaultInjector:
    """Decides, request by request, which fault of a plan applies (runs on the server's event loop)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._states = [_RuleState(rule, re.compile(rule.path)) for rule in plan.rules]
        self._base = random.Random(f"{plan.seed}:latency")

    @property
    def needs_route(self) -> bool:
        return bool(self._states)

    def decide(self, path: str, route: str | None) -> Decision:
        """What to do with a request to ``path`` served by the route pattern ``route`` (None: no route)."""
        plan = self.plan
        delay = _jittered(self._base, plan.latency_ms, plan.jitter_ms)
        chosen: FaultRule | None = None
        for index, state in enumerate(self._states):
            rule = state.rule
            if (rule.route and rule.route != route) or not state.pattern.search(path):
                continue
            if rule.limit is not None and state.fired >= rule.limit:
                continue
            key = route if route is not None else path
            rng = state.rngs.get(key)
            if rng is None:
                rng = state.rngs[key] = random.Random(f"{plan.seed}:{index}:{key}")
            if rng.random() >= rule.rate:
                continue
            if rule.kind == "latency":
                state.fired += 1
                delay += _jittered(rng, rule.latency_ms, rule.jitter_ms)
            elif chosen is None:
                state.fired += 1
                chosen = rule
        return Decision(delay, chosen)

    def counts(self) -> list[int]:
        """How often each rule has fired."""
        return [state.fired for state in self._states]


def _jittered(rng: random.Random, millis: float, jitter: float) -> float:
    if millis == 0 and jitter == 0:
        return 0.0
    return max(0.0, millis + rng.uniform(-jitter, jitter)) / 1000.0


_FRAMEWORK = "Microsoft.TeamFoundation.Framework.Server"
THROTTLED_MESSAGE = (
    "TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource 'ATCPU' in"
    " namespace 'User'."
)
INTERNAL_ERROR_MESSAGE = "TF400898: An Internal Error Occurred. Activity Id: {activity}."
SERVICE_UNAVAILABLE_HTML = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">
<HTML><HEAD><TITLE>Service Unavailable</TITLE>
<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>
<BODY><h2>Service Unavailable</h2>
<hr><p>HTTP Error 503. The service is unavailable.</p>
</BODY></HTML>
"""
IIS_ERROR_HTML = """<!DOCTYPE html>
<html>
<head><title>Runtime Error</title>
<meta name="viewport" content="width=device-width" /></head>
<body bgcolor="white">
<span><H1>Server Error in '/tfs' Application.<hr width=100% size=1 color=silver></H1>
<h2> <i>Runtime Error</i> </h2></span>
<font face="Arial, Helvetica, Geneva, SunSans-Regular, sans-serif ">
<b> Description: </b>An application error occurred on the server. The current custom error settings for this
application prevent the details of the application error from being viewed remotely (for security reasons).
<br><br>
</font>
</body>
</html>
"""


# -- delivering a fault (ASGI) --------------------------------------------------------------------
_REPLACING = {"429", "503", "500", "html200", "html500", "gone"}


def replaces_response(rule: FaultRule) -> bool:
    """True when the fault answers instead of the route (no handler runs)."""
    return rule.kind in _REPLACING


_CORE = "Microsoft.TeamFoundation.Core.WebApi"
PROJECT_GONE_MESSAGE = (
    "TF200016: The following project does not exist: (deleted). Verify that the name of the project is correct"
    " and that the project exists on the specified Azure DevOps Server."
)


def fault_response(rule: FaultRule, activity: str) -> Response:
    """The answer of a fault that replaces the route's response."""
    retry = (("Retry-After", str(rule.retry_after)),)
    if rule.kind == "429":
        error = ApiError(429, THROTTLED_MESSAGE, "RequestBlockedException", f"{_FRAMEWORK}.RequestBlockedException, {_FRAMEWORK}",
                         retry + (("X-RateLimit-Resource", "ATCPU"), ("X-RateLimit-Delay", f"{rule.retry_after}.0")))
        return error.response()
    if rule.kind == "503":
        return html_response(503, SERVICE_UNAVAILABLE_HTML, retry)
    if rule.kind == "500":
        return ApiError(500, INTERNAL_ERROR_MESSAGE.format(activity=activity), "InternalServerErrorException",
                        f"{_FRAMEWORK}.InternalServerErrorException, {_FRAMEWORK}").response()
    if rule.kind == "gone":
        return ApiError(404, PROJECT_GONE_MESSAGE, "ProjectDoesNotExistWithNameException",
                        f"{_CORE}.ProjectDoesNotExistWithNameException, {_CORE}").response()
    return html_response(200 if rule.kind == "html200" else 500, IIS_ERROR_HTML)


def _transport(send: Any) -> asyncio.Transport | None:
    """The connection under an ASGI ``send`` (uvicorn's request cycle keeps it), or None."""
    return getattr(getattr(send, "__self__", None), "transport", None)


async def _after_close() -> None:
    for _ in range(3):  # let the server notice the lost connection before the app returns
        await asyncio.sleep(0)


async def reset_connection(send: Any) -> None:
    """Abort the connection with a TCP RST, before any byte of a response."""
    transport = _transport(send)
    if transport is None:
        raise ConnectionAbortedError("simulated reset: the server exposes no transport")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await _after_close()


async def send_truncated(send: Any, start: dict, body: bytes) -> None:
    """Headers with the full Content-Length, the first half of the body, then close."""
    await send(start)
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    transport = _transport(send)
    if transport is None:
        raise ConnectionAbortedError("simulated truncation: the server exposes no transport")
    transport.close()
    await _after_close()


async def send_slowly(send: Any, start: dict, body: bytes, rule: FaultRule) -> None:
    """The whole body in ``chunk_bytes`` pieces, ``chunk_delay_ms`` apart."""
    await send(start)
    size = rule.chunk_bytes
    for offset in range(0, max(len(body), 1), size):
        if offset:
            await asyncio.sleep(rule.chunk_delay_ms / 1000.0)
        last = offset + size >= len(body)
        await send({"type": "http.response.body", "body": body[offset : offset + size], "more_body": not last})

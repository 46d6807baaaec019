"""Politeness towards the Azure DevOps Server: one gate per server that every request passes.

    gate = gate_for("https://tfs.corp:443/tfs/DefaultCollection", GateSettings.from_limits(limits))
    with doing(Work(backfill=True, window=window, share=0.25)):
        ticket = gate.enter(current_work())     # waits: a Retry-After pause, a free slot, a token
        ...send...
        gate.leave(ticket, response.status_code, response.headers)

- ``bucket``: the token bucket of ``limits.max_requests_per_second``;
- ``limiter``: the adaptive concurrency limit (slow start, then a queue estimate kept at about one; cuts on throttling);
- ``window``: ``schedule.backfill_window`` in its time zone;
- ``work``: whether the running unit is a backfill (first run, reconciliation) or incremental;
- ``gate``: the three together per server (scheme://host:port), with incremental work first.
"""

from satellite.politeness.bucket import TokenBucket
from satellite.politeness.gate import (
    GateSettings,
    ServerGate,
    Ticket,
    gate_for,
    gate_of,
    server_of,
)
from satellite.politeness.limiter import AdaptiveLimit, Answer
from satellite.politeness.window import BackfillWindow, parse_window
from satellite.politeness.work import INCREMENTAL, Work, carrying, current_work, doing

__all__ = [
    "INCREMENTAL",
    "AdaptiveLimit",
    "Answer",
    "BackfillWindow",
    "GateSettings",
    "ServerGate",
    "Ticket",
    "TokenBucket",
    "Work",
    "carrying",
    "current_work",
    "doing",
    "gate_for",
    "gate_of",
    "parse_window",
    "server_of",
]

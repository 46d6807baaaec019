"""The agent's side of events: the receiver, the event job of each integration, the stale check.

    receiver ── event recorded ── wake(integration) ── scheduler runs the event job now
    event job ── take the due partitions ── Collector(focus=...) ── clear what it ran
    sweep (every schedule.sweep_interval) ── after_sweep: changes in covered streams, no event? stale

The event job of an integration never runs twice at once: a wake while it runs makes it run again
right after. A wake runs it ``GATHER_S`` later (once, however many events come meanwhile): a burst of
events (a push, its PR update, the build it triggers) becomes one run, one listing of the projects. A due unit another job was running (a sweep, a backfill) stays due and is tried again
``ELSEWHERE_RETRY_S`` later.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import structlog

from satellite.events.focus import Focus
from satellite.events.health import LISTENING, STALE, covered_streams, stale_finding
from satellite.events.receiver import EventReceiver
from satellite.store.events import EventJournal

__all__ = ["ELSEWHERE_RETRY_S", "GATHER_S", "POLL_S", "EventDriver"]

log = structlog.get_logger(__name__)

ELSEWHERE_RETRY_S = 30.0
GATHER_S = 1.0
POLL_S = 5.0  # the event job also looks every few seconds (an event recorded while it ran)


class EventDriver:
    def __init__(self, integrations, store, *, now: Callable[[], float] = time.time) -> None:
        self._integrations = {i.id: i for i in integrations if i.events.enabled}
        self._store = store
        self._now = now
        self.journal = EventJournal(store)
        self.receiver = EventReceiver(integrations, self.journal, wake=self.wake)
        self._lock = threading.Lock()
        self._running: set[str] = set()
        self._again: set[str] = set()
        self._scheduled: set[str] = set()  # a run is due within GATHER_S
        self._reconciled_at: dict[str, float] = {}
        self.run_soon: Callable[[str, float], None] = lambda integration_id, delay: None  # set by the agent
        self._listening_since = now()
        for key in store.get_states(LISTENING):  # integrations no longer listening: not in status
            if key[len(LISTENING):] not in self._integrations:
                store.set_state(key, None)
        for integration_id in self._integrations:
            store.set_state(LISTENING + integration_id, str(self._listening_since))

    def enabled(self, integration) -> bool:
        return integration.id in self._integrations

    @property
    def listening(self) -> bool:
        """Some integration has events on."""
        return bool(self._integrations)

    def wake(self, integration_id: str) -> None:
        """A new event marked partitions due: run the integration's event job now (or right after the running one)."""
        with self._lock:
            if integration_id in self._running:
                self._again.add(integration_id)
                return
            if integration_id in self._scheduled:
                return
            self._scheduled.add(integration_id)
        self.run_soon(integration_id, GATHER_S)

    def run_due(self, integration, collect: Callable[[Focus], list[tuple[str, str, str]]]) -> int:
        """Collect the integration's due partitions: ``collect(focus)`` runs a focused collector and
        returns the units it left to another job; returns how many due partitions were taken."""
        with self._lock:
            if integration.id in self._running:
                return 0
            self._running.add(integration.id)
            self._scheduled.discard(integration.id)
        delay: float | None = None
        taken: list = []
        try:
            upto, taken = self.journal.due(integration.id)
            if not taken:
                return 0
            focus = Focus(tuple(taken))
            elsewhere = collect(focus)
            keep = [d for d in taken if any(d.stream == stream and d.parent_id == parent and d.collection_id in ("", cid)
                                            for cid, stream, parent in elsewhere)]
            self.journal.collected(integration.id, upto, keep)
            if keep:
                delay = ELSEWHERE_RETRY_S
            return len(taken)
        finally:
            with self._lock:
                self._running.discard(integration.id)
                again = integration.id in self._again
                self._again.discard(integration.id)
            if again:
                delay = GATHER_S
            if delay is not None:
                self.run_soon(integration.id, delay)

    def reconciled(self, integration_id: str) -> None:
        """A reconciliation began: its re-reads are not changes the events missed."""
        self._reconciled_at[integration_id] = self._now()

    def after_sweep(self, integration, records_by_stream: dict[str, int], started: float) -> bool:
        """A sweep (a scheduled, not event-driven run) finished; returns True when it finds the
        subscription stale (and records that)."""
        if integration.id not in self._integrations:
            return False
        reconciled = self._reconciled_at.get(integration.id)
        if reconciled is not None and started - reconciled < integration.schedule.sweep_interval.total_seconds() / 2:
            return False
        covered = covered_streams(tuple(integration.services))
        changes = sum(n for stream, n in records_by_stream.items() if stream in covered)
        last = self.journal.last_received_at(integration.id)
        now = self._now()
        if not stale_finding(changes, last, self._listening_since, integration.events.stale_after.total_seconds(), now):
            return False
        self._store.set_state(STALE + integration.id, json.dumps({"detected_at": now, "changes": changes}))
        log.warning("events_subscription_stale", integration=integration.id, changes=changes,
                    last_event_at=last, hint="the sweep found changes no event announced: run satellite check")
        return True

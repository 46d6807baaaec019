"""Is a subscription still delivering? With events on, the sweep is the safety net: when it finds
changes in the streams events cover while no event came for ``events.stale_after``, the
subscriptions have probably stopped (deleted, disabled, on probation, a firewall): it is said in
``satellite status``, ``/metrics`` (``satellite_events_subscription_stale``) and ``satellite check``.

State (agent_state, no names): ``events_listening:<id>`` when the agent began to listen,
``events_stale:<id>`` the finding (JSON); a finding older than the latest event no longer counts.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily

from satellite.events.catalog import types_for_services
from satellite.store.events import EventJournal

__all__ = [
    "LISTENING",
    "STALE",
    "EventStatus",
    "covered_streams",
    "event_gauges",
    "read_event_status",
    "render_event_status",
    "stale_finding",
]

LISTENING = "events_listening:"
STALE = "events_stale:"


def covered_streams(services: tuple[str, ...]) -> frozenset[str]:
    """The streams some subscribed event type marks due."""
    return frozenset(s for t in types_for_services(services) for s in (*t.streams, *t.project_streams))


def stale_finding(changes: int, last_event_at: float | None, listening_since: float, stale_after_s: float,
                  now: float) -> bool:
    """A sweep found ``changes`` records in covered streams; no event for ``stale_after_s`` (counted
    from when the agent began to listen if none ever came): the subscription looks stale."""
    quiet_since = max(last_event_at or 0.0, listening_since)
    return changes > 0 and now - quiet_since >= stale_after_s


@dataclass(frozen=True, slots=True)
class EventStatus:
    integration_id: str
    listening_since: float
    last_event_at: float | None
    waiting: int  # events received, not yet collected
    stale_since: float | None  # when a sweep found changes no event announced (None: fine)
    stale_changes: int = 0

    def warning(self) -> str | None:
        if self.stale_since is None:
            return None
        last = "never" if self.last_event_at is None else time.strftime("%Y-%m-%d %H:%MZ", time.gmtime(self.last_event_at))
        return (f"events for {self.integration_id}: the sweep found {self.stale_changes} change(s) but no event came"
                f" (last event: {last}); the subscriptions may be deleted, disabled or unable to reach the satellite:"
                " run satellite check, or satellite events subscribe")


def read_event_status(store) -> tuple[EventStatus, ...]:
    """Per integration the agent listened for (latest run), its events' health."""
    journal = EventJournal(store)
    stale = store.get_states(STALE)
    views = []
    for key, since in sorted(store.get_states(LISTENING).items()):
        integration_id = key[len(LISTENING):]
        last = journal.last_received_at(integration_id)
        finding = json.loads(stale[STALE + integration_id]) if STALE + integration_id in stale else None
        current = finding is not None and (last is None or last < finding["detected_at"])
        views.append(EventStatus(integration_id, float(since), last, journal.waiting(integration_id),
                                 finding["detected_at"] if current else None, finding["changes"] if current else 0))
    return tuple(views)


def render_event_status(views: tuple[EventStatus, ...]) -> list[str]:
    lines = []
    for view in views:
        last = "none yet" if view.last_event_at is None else f"{time.time() - view.last_event_at:.0f}s ago"
        lines.append(f"events {view.integration_id}: last {last}, {view.waiting} waiting")
        if view.warning():
            lines.append(f"WARNING: {view.warning()}")
    return lines


def event_gauges(store):
    """The events' gauges for ``/metrics`` (read from the store at scrape time)."""
    stale = GaugeMetricFamily("satellite_events_subscription_stale", "1 when the sweep found changes no event announced"
                              " for events.stale_after (the subscriptions may have stopped)", labels=["integration"])
    waiting = GaugeMetricFamily("satellite_events_waiting", "Events received and not yet collected", labels=["integration"])
    last = GaugeMetricFamily("satellite_events_last_received_timestamp_seconds", "When the latest event arrived",
                             labels=["integration"])
    for view in read_event_status(store):
        stale.add_metric([view.integration_id], int(view.stale_since is not None))
        waiting.add_metric([view.integration_id], view.waiting)
        if view.last_event_at is not None:
            last.add_metric([view.integration_id], view.last_event_at)
    yield stale
    yield waiting
    yield last

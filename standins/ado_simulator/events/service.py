"""The service hooks side of the app: the subscription store, the sender and the world advance that
publishes events.

    hooks = HookService(world.seed, DeliveryConfig(), EventFaultPlan())
    site = Site(world, profile, hooks=hooks)
    hooks.attach(router, site)   # the routes whose answers become the payloads' resources
    hooks.advance(world, 3)   # == world.advance(3), and the matching notifications are queued
"""

from __future__ import annotations

from dataclasses import replace

from standins.ado_simulator.events.changes import Changes, latest_change, take_snapshot
from standins.ado_simulator.events.delivery import DeliveryConfig, Sender
from standins.ado_simulator.events.faults import EventFaultPlan
from standins.ado_simulator.events.filters import matches
from standins.ado_simulator.events.payloads import Event, build_events, event_id
from standins.ado_simulator.events.reader import Reader
from standins.ado_simulator.events.subscriptions import (
    HookStore,
    Notification,
    Subscription,
)
from standins.ado_simulator.wire.context import Site
from standins.ado_simulator.wire.routing import Router
from standins.ado_simulator.world.world import World

__all__ = ["HookService", "match_events"]


def match_events(events: list[Event], subscriptions: list[Subscription]) -> list[tuple[Subscription, Event]]:
    """(subscription, event) for every active subscription whose event type and filters an event matches,
    in event order, subscriptions in creation order."""
    return [(s, e) for e in events for s in subscriptions
            if s.active and s.event_type.lower() == e.event_type and matches(e, s.publisher_inputs)]


class HookService:
    def __init__(self, seed: int, config: DeliveryConfig | None = None, faults: EventFaultPlan | None = None) -> None:
        self.reader: Reader | None = None
        self.store = HookStore(seed)
        self.sender = Sender(self.store, config, faults)
        self._tests = 0

    def attach(self, router: Router, site: Site) -> None:
        self.reader = Reader(router, site)

    def advance(self, world: World, steps: int) -> dict[str, int]:
        """``world.advance(steps)``, one step at a time when some subscription is active, each step's events
        queued for delivery. Without active subscriptions exactly ``world.advance(steps)``."""
        if steps <= 0 or not self.store.any_active():
            return world.advance(steps)
        totals: dict[str, int] = {}
        for _ in range(steps):
            with world.lock:
                before = take_snapshot(world)
                counts = world.advance(1)
                changes = Changes.between(before, take_snapshot(world), world)
                found = self._matches(changes)
            self.sender.enqueue(found)
            for name, value in counts.items():
                totals[name] = totals.get(name, 0) + value
        return totals

    def _matches(self, changes: Changes) -> list[tuple[Subscription, Event]]:
        active = [s for s in self.store.all() if s.active]
        if changes.empty or not active or self.reader is None:
            return []
        found: list[tuple[Subscription, Event]] = []
        for origin in dict.fromkeys(s.origin for s in active):
            mine = [s for s in active if s.origin == origin]
            types = {s.event_type.lower() for s in mine}
            events = build_events(changes, self.reader, origin, types.__contains__)
            found += match_events(events, mine)
        return found

    def test_notification(self, world: World, subscription: Subscription) -> Notification | None:
        """Send ``subscription`` an event of its type about the newest such thing in the world (no filters,
        no faults, a fresh event id); None when the world has nothing of that type."""
        if self.reader is None:
            return None
        with world.lock:
            events = build_events(latest_change(world, subscription.event_type.lower()), self.reader, subscription.origin)
        if not events:
            return None
        self._tests += 1
        event = replace(events[0], id=event_id(world.seed, world.scale, "test", f"{subscription.id}:{self._tests}"))
        return self.sender.enqueue([(subscription, event)], with_faults=False)[0]

    def close(self) -> None:
        self.sender.close()

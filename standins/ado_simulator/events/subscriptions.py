"""Subscriptions and their notification history, kept by the app (not the world: a fresh app has none).
Thread-safe: the routes and the sender thread share it."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace

__all__ = ["MASK", "HookStore", "Notification", "Subscription", "subscription_id"]

MASK = "********"  # what answers show for a confidential input


def subscription_id(seed: int, number: int) -> str:
    """The id of the ``number``-th subscription created on an app of a world of ``seed`` (from 1)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ado-simulator-subscription:{seed}:{number}"))


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    publisher_id: str
    event_type: str
    resource_version: str
    publisher_inputs: dict[str, str]
    consumer_inputs: dict[str, str]
    status: str  # enabled | onProbation | disabledByUser | disabledBySystem
    created_by: int  # person index
    created: float
    modified: float
    origin: str  # scheme://host:port the subscription was created through (the URLs in its payloads)
    probation_retries: int = 0

    @property
    def active(self) -> bool:
        return self.status in ("enabled", "onProbation")


@dataclass(frozen=True, slots=True)
class Notification:
    id: int
    subscription_id: str
    event_id: str
    event_type: str
    created: float
    modified: float
    status: str = "queued"  # queued | requestInProgress | completed
    result: str = "pending"  # pending | succeeded | failed
    attempts: int = 0
    request: str = ""
    response: str = ""
    error: str = ""
    duration_ms: float = 0.0
    event: dict = field(default_factory=dict)
    completed: float = 0.0


class HookStore:
    """Subscriptions by id (creation order) and each one's notifications."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}
        self._notifications: dict[str, list[Notification]] = {}
        self._created = 0
        self._next_notification = 0

    def new_id(self) -> str:
        with self._lock:
            self._created += 1
            return subscription_id(self._seed, self._created)

    # -- subscriptions -------------------------------------------------------------------------

    def put(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions[subscription.id] = subscription
            self._notifications.setdefault(subscription.id, [])

    def get(self, subscription_id: str) -> Subscription | None:
        with self._lock:
            return self._subscriptions.get(subscription_id.lower())

    def delete(self, subscription_id: str) -> bool:
        with self._lock:
            self._notifications.pop(subscription_id.lower(), None)
            return self._subscriptions.pop(subscription_id.lower(), None) is not None

    def all(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    def any_active(self) -> bool:
        with self._lock:
            return any(s.active for s in self._subscriptions.values())

    def set_status(self, subscription_id: str, status: str, probation_retries: int) -> None:
        with self._lock:
            found = self._subscriptions.get(subscription_id)
            if found is not None and found.status in ("enabled", "onProbation"):
                self._subscriptions[subscription_id] = replace(found, status=status, probation_retries=probation_retries)

    # -- notifications ---------------------------------------------------------------------------

    def add_notification(self, subscription_id: str, event_id: str, event_type: str, now: float) -> Notification | None:
        with self._lock:
            if subscription_id not in self._subscriptions:
                return None
            self._next_notification += 1
            notification = Notification(self._next_notification, subscription_id, event_id, event_type, now, now)
            self._notifications[subscription_id].append(notification)
            return notification

    def update_notification(self, notification: Notification) -> None:
        with self._lock:
            found = self._notifications.get(notification.subscription_id)
            if found is None:
                return
            for index in range(len(found) - 1, -1, -1):
                if found[index].id == notification.id:
                    found[index] = notification
                    return

    def notifications(self, subscription_id: str) -> list[Notification] | None:
        """Newest first; None for an unknown subscription."""
        with self._lock:
            found = self._notifications.get(subscription_id.lower())
            return None if found is None else list(reversed(found))

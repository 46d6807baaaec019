"""``POST /events/ado/<integration>``: one service hook notification, answered fast.

In order: the integration must have events enabled (else 404, as any unknown path); the HTTP
Basic credentials must match its configured ones (``auth.py``; else 401); the body must have a
length within ``MAX_BODY_BYTES`` (else 411/413); the flood bound: at most ``MAX_IN_FLIGHT``
notifications handled at once and at most ``events.queue_limit`` events waiting for collection
(else 429 with Retry-After: the server retries); the body must be an event the satellite can place
(``payload.py``; else 400). Then the event id and its due partitions are recorded in one store
transaction (a duplicate id marks nothing) and the event job is woken. Every outcome is counted
(``satellite_events``); refusals are logged with the integration and reason only, never a header
or the body, at most once a minute per integration and outcome (a flood does not fill the log: the
next line says how many were not logged).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from satellite.errors import StoreError
from satellite.events.auth import basic_credentials_match
from satellite.events.payload import MAX_BODY_BYTES, InvalidEvent, parse_event
from satellite.metrics import EVENTS
from satellite.store.events import EventJournal

__all__ = ["MAX_IN_FLIGHT", "PATH_PREFIX", "RETRY_AFTER_S", "Answer", "EventReceiver"]

log = structlog.get_logger(__name__)

PATH_PREFIX = "/events/ado/"
MAX_IN_FLIGHT = 16  # notifications handled at once (each one store transaction); more: 429
RETRY_AFTER_S = 10
LOG_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str  # JSON text
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False  # the body was not read: the connection must close


def _answer(status: int, outcome: str, *, headers: tuple[tuple[str, str], ...] = (), close: bool = False) -> Answer:
    return Answer(status, f'{{"status": "{outcome}"}}', headers, close)


class EventReceiver:
    """The event endpoint's logic, apart from the HTTP server (tested on its own)."""

    def __init__(self, integrations, journal: EventJournal, wake: Callable[[str], None] = lambda integration: None,
                 *, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        """``integrations``: the config's; those with ``events.enabled`` are served. ``wake``: called
        with the integration id after a new event marked partitions due."""
        self._integrations: Mapping[str, object] = {i.id: i for i in integrations if i.events.enabled}
        self._journal = journal
        self._wake = wake
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._log_lock = threading.Lock()
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}  # (integration, outcome) -> (last logged, not logged since)

    @property
    def integration_ids(self) -> tuple[str, ...]:
        return tuple(self._integrations)

    def handle(self, integration_id: str, authorization: str | None, content_length: str | None,
               read_body: Callable[[int], bytes]) -> Answer:
        """Answer one POST; ``read_body(n)`` reads the request's n body bytes."""
        integration = self._integrations.get(integration_id)
        if integration is None:
            return self._refused("", "unknown", 404, close=True)
        events = integration.events
        if not basic_credentials_match(authorization, events.username, events.password.reveal()):
            return self._refused(integration_id, "unauthorized", 401, close=True,
                                 headers=(("WWW-Authenticate", 'Basic realm="sei-satellite events"'),))
        try:
            length = int(content_length) if content_length is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            return self._refused(integration_id, "invalid", 411, close=True)
        if length > MAX_BODY_BYTES:
            return self._refused(integration_id, "too_large", 413, close=True)
        if not self._slots.acquire(blocking=False):
            return self._refused(integration_id, "busy", 429, close=True, headers=(("Retry-After", str(RETRY_AFTER_S)),))
        try:
            if self._journal.waiting(integration_id) >= events.queue_limit:
                return self._refused(integration_id, "queue_full", 429, close=True,
                                     headers=(("Retry-After", str(RETRY_AFTER_S)),))
            body = read_body(length)
            try:
                event = parse_event(body)
            except InvalidEvent as exc:
                return self._refused(integration_id, "invalid", 400, reason=str(exc))
            due = event.due(tuple(integration.services))
            if not due:
                EVENTS.labels(integration_id, "ignored").inc()
                return _answer(200, "ignored")
            try:
                recorded = self._journal.record(integration_id, event.event_id, event.event_type, due)
            except StoreError as exc:
                log.error("event_not_recorded", integration=integration_id, error=str(exc))
                return _answer(503, "unavailable", headers=(("Retry-After", str(RETRY_AFTER_S)),))
        finally:
            self._slots.release()
        if not recorded.new:
            EVENTS.labels(integration_id, "duplicate").inc()
            return _answer(200, "duplicate")
        EVENTS.labels(integration_id, "accepted").inc()
        log.debug("event_received", integration=integration_id, event_type=event.event_type, partitions=len(due),
                  waiting=recorded.waiting)
        self._wake(integration_id)
        return _answer(200, "accepted")

    def _refused(self, integration_id: str, outcome: str, status: int, *, close: bool = False, reason: str = "",
                 headers: tuple[tuple[str, str], ...] = ()) -> Answer:
        EVENTS.labels(integration_id, outcome).inc()
        now = time.monotonic()
        with self._log_lock:
            last, quiet = self._logged.get((integration_id, outcome), (None, 0))
            due = last is None or now - last >= LOG_EVERY_S
            self._logged[(integration_id, outcome)] = (now, 0) if due else (last, quiet + 1)
        if due:
            log.warning("event_refused", integration=integration_id or None, outcome=outcome, status=status,
                        **({"reason": reason} if reason else {}), **({"not_logged_before": quiet} if quiet else {}))
        return _answer(status, outcome, headers=headers, close=close)

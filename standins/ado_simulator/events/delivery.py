"""The sender: a thread in the simulator's process that POSTs notifications to the subscribed URLs in order,
retries failures with backoff, records every attempt (``/_sim/events``) and the notification history.

    sender = Sender(store, DeliveryConfig(attempts=4, backoff_s=1.0))
    sender.enqueue([(subscription, event), ...])   # one step's matches, oldest event first
    sender.pending()                               # 0 once everything is answered or given up
"""

from __future__ import annotations

import base64
import heapq
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, replace

import httpx

from standins.ado_simulator.events.faults import EventFaultPlan
from standins.ado_simulator.events.payloads import Event
from standins.ado_simulator.events.subscriptions import (
    MASK,
    HookStore,
    Notification,
    Subscription,
)

__all__ = ["Attempt", "DeliveryConfig", "Sender", "request_headers"]

_LOG_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    attempts: int = 4  # tries per notification before it fails
    backoff_s: float = 1.0  # wait before the 2nd try, doubled for each later one
    timeout_s: float = 5.0  # per POST

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.backoff_s < 0 or self.timeout_s <= 0:
            raise ValueError("delivery needs attempts >= 1, backoff_s >= 0, timeout_s > 0")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST (or a dropped notification), as ``GET /_sim/events`` lists it."""

    seq: int
    subscription_id: str
    notification_id: int
    event_id: str
    event_type: str
    url: str
    attempt: int
    status: int  # the HTTP status, 0 = no answer
    error: str
    fault: str  # "", drop, duplicate, delay, reorder
    sent_at: float

    def to_json(self) -> dict:
        return {"seq": self.seq, "subscriptionId": self.subscription_id, "notificationId": self.notification_id,
                "eventId": self.event_id, "eventType": self.event_type, "url": self.url, "attempt": self.attempt,
                "status": self.status, "error": self.error, "fault": self.fault, "sentAt": self.sent_at}


@dataclass(frozen=True, slots=True)
class _Job:
    subscription: Subscription
    event: Event
    notification: Notification
    attempt: int = 1
    fault: str = ""


def request_headers(subscription: Subscription) -> dict[str, str]:
    """Content type, the Basic credentials and the ``httpHeaders`` lines of the subscription."""
    inputs = subscription.consumer_inputs
    headers = {"Content-Type": "application/json; charset=utf-8"}
    user, password = inputs.get("basicAuthUsername", ""), inputs.get("basicAuthPassword", "")
    if user or password:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    for line in inputs.get("httpHeaders", "").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers[name.strip()] = value.strip()
    return headers


class Sender:
    """One thread, started at the first notification; ``close`` stops it."""

    def __init__(self, store: HookStore, config: DeliveryConfig | None = None, faults: EventFaultPlan | None = None) -> None:
        self.store = store
        self.config = config or DeliveryConfig()
        self.faults = faults or EventFaultPlan()
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Job]] = []
        self._seq = 0
        self._in_flight = 0
        self._attempts = 0
        self.sent: deque[Attempt] = deque(maxlen=_LOG_LIMIT)
        self.dropped: deque[Attempt] = deque(maxlen=_LOG_LIMIT)
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- the queue ---------------------------------------------------------------------------------

    def enqueue(self, matches: list[tuple[Subscription, Event]], with_faults: bool = True) -> list[Notification]:
        """Queue one step's notifications (in event order), with the fault plan applied (unless not
        ``with_faults``: a test notification); the notifications created."""
        now = time.time()
        jobs: list[tuple[_Job, frozenset[str]]] = []
        for subscription, event in matches:
            faults = self.faults.decide(subscription.id, event.id) if with_faults else frozenset()
            if "drop" in faults:
                self._record(Attempt(0, subscription.id, 0, event.id, event.event_type,
                                     subscription.consumer_inputs.get("url", ""), 0, 0, "dropped by fault", "drop", now),
                             dropped=True)
                continue
            copies = 2 if "duplicate" in faults else 1
            for copy in range(copies):
                notification = self.store.add_notification(subscription.id, event.id, event.event_type, now)
                if notification is None:
                    break
                fault = "duplicate" if copy else ",".join(sorted(faults - {"duplicate"}))
                jobs.append((_Job(subscription, event, notification, fault=fault), faults if copy == 0 else frozenset()))
        ordered = _reordered(jobs)
        with self._cond:
            for job, faults in ordered:
                due = now + (self.faults.delay_s if "delay" in faults else 0.0)
                self._push(due, job)
            self._cond.notify_all()
            if self._thread is None and ordered:
                self._thread = threading.Thread(target=self._run, name="ado-simulator-events", daemon=True)
                self._thread.start()
        return [job.notification for job, _ in ordered]

    def _push(self, due: float, job: _Job) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, job))

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._in_flight

    def set_faults(self, plan: EventFaultPlan) -> None:
        self.faults = plan

    def clear_log(self) -> int:
        with self._cond:
            cleared = len(self.sent) + len(self.dropped)
            self.sent.clear()
            self.dropped.clear()
            return cleared

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        with httpx.Client(timeout=self.config.timeout_s, follow_redirects=False, trust_env=False) as client:
            while True:
                with self._cond:
                    while not self._closed and (not self._heap or self._heap[0][0] > time.time()):
                        wait = self._heap[0][0] - time.time() if self._heap else None
                        self._cond.wait(timeout=wait)
                    if self._closed:
                        return
                    _, _, job = heapq.heappop(self._heap)
                    self._in_flight += 1
                try:
                    self._deliver(client, job)
                finally:
                    with self._cond:
                        self._in_flight -= 1

    def _deliver(self, client: httpx.Client, job: _Job) -> None:
        subscription = self.store.get(job.subscription.id)  # a PUT since: its new inputs
        if subscription is None:
            return  # deleted since: nothing more is sent to it
        inputs = subscription.consumer_inputs
        body = job.event.to_json(subscription.id, job.notification.id, inputs.get("resourceDetailsToSend", "all") or "all",
                                 inputs.get("messagesToSend", "all") or "all", inputs.get("detailedMessagesToSend", "all") or "all")
        url = inputs.get("url", "")
        headers = request_headers(subscription)
        payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
        started = time.time()
        in_progress = replace(job.notification, status="requestInProgress", attempts=job.attempt, modified=started,
                              event=body, request=_request_text(url, headers, payload))
        self.store.update_notification(in_progress)
        status, error, answer = 0, "", ""
        try:
            response = client.post(url, content=payload, headers=headers)
            status, answer = response.status_code, f"{response.status_code} {response.reason_phrase}\n{response.text[:2000]}"
            if not 200 <= status < 300:
                error = f"The remote server returned an error: ({status}) {response.reason_phrase}."
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        finished = time.time()
        self._record(Attempt(0, subscription.id, job.notification.id, job.event.id, job.event.event_type, url, job.attempt,
                             status, error, job.fault, finished))
        done = not error or job.attempt >= self.config.attempts
        updated = replace(in_progress, status="completed" if done else "queued",
                          result=("succeeded" if not error else "failed") if done else "pending",
                          response=answer, error=error, duration_ms=round((finished - started) * 1000, 1), modified=finished,
                          completed=finished if done else 0.0)
        self.store.update_notification(updated)
        if not error:
            self.store.set_status(subscription.id, "enabled", 0)
        elif done:
            self.store.set_status(subscription.id, "onProbation", subscription.probation_retries + 1)
        else:
            with self._cond:
                backoff = self.config.backoff_s * 2 ** (job.attempt - 1)
                self._push(time.time() + backoff, replace(job, notification=updated, attempt=job.attempt + 1))
                self._cond.notify_all()

    def _record(self, attempt: Attempt, dropped: bool = False) -> None:
        with self._cond:
            self._attempts += 1
            (self.dropped if dropped else self.sent).append(replace(attempt, seq=self._attempts))


def _request_text(url: str, headers: dict[str, str], payload: bytes) -> str:
    shown = {k: (f"Basic {MASK}" if k == "Authorization" else v) for k, v in headers.items()}
    return f"POST {url} HTTP/1.1\n" + "".join(f"{k}: {v}\n" for k, v in shown.items()) + "\n" + payload[:4000].decode("utf-8", "replace")


def _reordered(jobs: list[tuple[_Job, frozenset[str]]]) -> list[tuple[_Job, frozenset[str]]]:
    """A job marked ``reorder`` goes after the next job of the same subscription (when there is one)."""
    out = list(jobs)
    index = 0
    while index < len(out):
        job, faults = out[index]
        if "reorder" in faults:
            later = next((j for j in range(index + 1, len(out)) if out[j][0].subscription.id == job.subscription.id), None)
            if later is not None:
                out.insert(later, out.pop(index))
                out[later] = (job, faults - {"reorder"})
                continue  # the job now at ``index`` is the one that was after it
        index += 1
    return out

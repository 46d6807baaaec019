"""Uploader: POST each outbox batch to the SEI ingest endpoint; forget it only once acknowledged.

Protocol and the meaning of each answer: ``satellite.sei`` (one rule, ``classify``). Here:

| ``Answer`` | what happens |
|---|---|
| STORED, DUPLICATE | the batch is deleted locally, counted as delivered and written in the delivery ledger |
| RETRY | retried forever, full-jitter backoff, never shorter than Retry-After |
| DEAD_LETTER | moved to the dead letters (listed by ``satellite outbox list``) |
| CREDENTIALS | a loud error, then retried every ``auth_retry_interval`` with the API key read anew |

Uploads run in ``concurrency`` lanes; a stream always uses the same lane, so its batches leave in
``seq`` order. Every attempt counts in ``satellite_uploads`` and ``satellite_upload_seconds`` by outcome.
"""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import dataclass, field, replace

import httpx
import structlog

from satellite.delivery.ledger import ledger_entry
from satellite.errors import ApiKeyError, DeliveryError, SatelliteError, StoreError
from satellite.metrics import UPLOAD_SECONDS, UPLOADS
from satellite.retrying import RetryPolicy, parse_retry_after
from satellite.secret import Secret
from satellite.sei import BATCH_CONTENT_TYPE, BATCHES_PATH, IDEMPOTENCY_KEY, Answer, ApiKeySource, SeiEndpoint, authorization, classify
from satellite.store import OutboxEntry, Store

__all__ = ["Uploader", "DrainReport"]

log = structlog.get_logger(__name__)

_WINDOW = 200  # oldest outbox batches each lane looks at; its own may all lie beyond them


class _Transient(SatelliteError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Stopped(SatelliteError):
    """The uploader was asked to stop while waiting."""


@dataclass
class DrainReport:
    delivered: int = 0
    duplicates: int = 0
    dead_lettered: list[str] = field(default_factory=list)
    error: str | None = None  # why delivery stopped early (credentials refused)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def ok(self) -> bool:
        return not self.dead_lettered and self.error is None

    def count(self, answer: Answer) -> None:
        with self._lock:
            self.delivered += answer is Answer.STORED
            self.duplicates += answer is Answer.DUPLICATE


def _lane(batch: OutboxEntry, lanes: int) -> int:
    return zlib.crc32(f"{batch.integration_id}/{batch.stream}".encode()) % lanes


class Uploader:
    """Delivers the outbox; thread-safe; one instance per process."""

    def __init__(
        self,
        store: Store,
        endpoint: SeiEndpoint,
        api_key: ApiKeySource | Secret,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy = RetryPolicy(max_attempts=None, initial_wait=1.0, max_wait=300.0),
        auth_retry_interval: float | None = None,
        concurrency: int = 2,
        transport: httpx.BaseTransport | None = None,
        stop: threading.Event | None = None,
        ledger_retention: float | None = None,
    ) -> None:
        """``api_key``: a source reads the key anew (from its file) now and then and after a 401/403;
        ``auth_retry_interval`` None makes a credential refusal final; ``ledger_retention``: seconds
        the delivery ledger keeps a row (pruned at each acknowledgement; None: kept)."""
        self._store = store
        self._ledger_retention = ledger_retention
        self._keys = api_key if isinstance(api_key, ApiKeySource) else ApiKeySource.fixed(api_key)
        self._auth_retry_interval = auth_retry_interval
        self._concurrency = concurrency
        self._stop = stop or threading.Event()
        self.last_progress = time.monotonic()  # when SEI last gave a final answer (stored, duplicate, dead letter)
        self._retry = RetryPolicy(retry.max_attempts, retry.initial_wait, retry.max_wait, retry.max_retry_after, self._sleep)
        self._http = endpoint.client_lanes(timeout=timeout, lanes=concurrency, transport=transport,
                                           headers={"Content-Type": BATCH_CONTENT_TYPE})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Uploader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped("stopping")

    # delivery loop -------------------------------------------------------------------------

    def drain(self) -> DrainReport:
        """Deliver until the outbox is empty (dead letters aside)."""
        done = threading.Event()
        done.set()
        return self.deliver(done)

    def deliver(self, producers_done: threading.Event) -> DrainReport:
        """Deliver in lanes until ``producers_done`` is set and the outbox is empty, or until stopped.

        Raises:
            DeliveryError: credentials were refused and no ``auth_retry_interval`` is set.
        """
        report = DrainReport()
        failed = threading.Event()
        lanes = [
            threading.Thread(target=self._lane, args=(i, producers_done, report, failed), name=f"upload-{i}", daemon=True)
            for i in range(self._concurrency)
        ]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join()
        if report.error:
            raise DeliveryError(report.error)
        return report

    def _lane(self, index: int, producers_done: threading.Event, report: DrainReport, failed: threading.Event) -> None:
        while not self._stop.is_set() and not failed.is_set():
            finished = producers_done.is_set()  # read before looking, so a last batch is never missed
            pending = self._store.pending_batches(limit=_WINDOW, bodies=False)  # each body read when sent
            mine = [b for b in pending if _lane(b, self._concurrency) == index]
            if not mine:
                if finished and len(pending) < _WINDOW:  # the whole outbox was seen: nothing left for this lane
                    return
                self._store.wait_for_batches(timeout=0.5)
                continue
            for heading in mine:
                if self._stop.is_set() or failed.is_set():
                    return
                try:
                    body = self._store.outbox_body(heading.batch_id)
                    if body is None:  # gone meanwhile (satellite outbox: dead-lettered, dropped)
                        continue
                    batch = replace(heading, body=body)
                    self._deliver_one(batch, report)
                except _Stopped:
                    return
                except DeliveryError as exc:
                    report.error = str(exc)
                    failed.set()
                    return
                except StoreError as exc:  # e.g. disk full: the answer cannot be recorded; the next run re-sends (200)
                    log.error("store_failed", batch_id=batch.batch_id, error=str(exc),
                              hint="free space in data_dir (or fix its permissions); the next run resumes")
                    report.error = str(exc)
                    failed.set()
                    return

    def _deliver_one(self, batch: OutboxEntry, report: DrainReport) -> None:
        while True:
            answer, status, detail = self._send(batch)
            if answer is not Answer.CREDENTIALS:
                self.last_progress = time.monotonic()
            if answer.accepted:
                now = time.time()
                prune = now - self._ledger_retention if self._ledger_retention is not None else None
                self._store.acknowledge(batch, ledger_entry(batch, answer.value, now), prune_before=prune)
                report.count(answer)
                return
            if answer is Answer.DEAD_LETTER:
                log.error("batch_dead_lettered", batch_id=batch.batch_id, stream=batch.stream, seq=batch.seq,
                          status=status, detail=detail, hint="see: satellite outbox list; re-send with: satellite outbox retry")
                self._store.dead_letter(batch.batch_id, status, detail or f"HTTP {status}")
                report.dead_lettered.append(batch.batch_id)
                return
            message = _credentials_message(status, detail)
            if self._auth_retry_interval is None:
                raise DeliveryError(message)
            log.error("delivery_credentials_refused", status=status, retry_in_s=self._auth_retry_interval, detail=message)
            self._sleep(self._auth_retry_interval)
            self._keys.refresh()

    def _send(self, batch: OutboxEntry) -> tuple[Answer, int | None, str]:
        """POST with retries of transient failures; returns a final (answer, status, detail)."""

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, _Transient)

        for attempt in self._retry.retrying(retryable, what=f"upload {batch.stream}#{batch.seq}"):
            with attempt:
                try:
                    headers = {IDEMPOTENCY_KEY: batch.batch_id, **authorization(self._keys.get())}
                except ApiKeyError as exc:
                    return Answer.CREDENTIALS, None, str(exc)
                started = time.perf_counter()
                try:
                    response = self._http.post(BATCHES_PATH, content=batch.body, headers=headers)
                except httpx.TransportError as exc:
                    _observe(Answer.RETRY, started)
                    raise _Transient(f"cannot reach the SEI endpoint: {exc.__class__.__name__} {exc}") from None
                status, answer = response.status_code, classify(response.status_code)
                _observe(answer, started)
                if answer is Answer.RETRY:
                    raise _Transient(f"SEI endpoint answered HTTP {status}", parse_retry_after(response.headers.get("retry-after")))
                return answer, status, "" if answer.accepted else response.text[:300]
        raise AssertionError("unreachable")  # pragma: no cover


def _observe(answer: Answer, started: float) -> None:
    """One upload attempt in the metrics: its outcome and how long it took."""
    UPLOADS.labels(answer.value).inc()
    UPLOAD_SECONDS.labels(answer.value).observe(time.perf_counter() - started)


def _credentials_message(status: int | None, detail: str) -> str:
    if status is None:  # the key cannot even be sent
        return detail
    if status == 407:
        return "the proxy refused the satellite's credentials (HTTP 407): check satellite.proxy (user and password)"
    return (f"SEI endpoint refused the credentials (HTTP {status}): check satellite.api_key and that this"
            " satellite's signing key is registered with SEI")

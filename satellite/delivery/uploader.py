"""Uploader: POST each outbox batch to the SEI ingest endpoint; forget it only once acknowledged.

Protocol (contract 4.3): ``POST {endpoint}/v1/satellite/batches`` with ``Authorization: Bearer``,
``Idempotency-Key: <batch_id>`` and the sealed bytes.

| answer | what happens |
|---|---|
| 201 stored, 200 duplicate | the batch is deleted locally and counted as delivered |
| network error, 408/409/425/429/5xx | retried forever, full-jitter backoff, never shorter than Retry-After |
| 400/413/422 | permanent: moved to the dead letters (listed by ``satellite outbox list``) |
| 401/403 | credentials: a loud error, then retried every ``auth_retry_interval`` with the API key read anew |

Uploads run in ``concurrency`` lanes; a stream always uses the same lane, so its batches leave in
``seq`` order.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass, field
from typing import Callable

import httpx
import structlog

from satellite import __version__
from satellite.ado.client import TlsOptions
from satellite.errors import DeliveryError, SatelliteError, StoreError
from satellite.metrics import UPLOADS
from satellite.retrying import RetryPolicy, parse_retry_after
from satellite.secret import Secret
from satellite.store import OutboxEntry, Store

__all__ = ["Uploader", "DrainReport", "BATCH_CONTENT_TYPE"]

log = structlog.get_logger(__name__)

BATCH_CONTENT_TYPE = "application/vnd.sei.sealed-batch"
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})
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

    def count(self, status: int) -> None:
        with self._lock:
            self.delivered += status == 201
            self.duplicates += status == 200


def _lane(batch: OutboxEntry, lanes: int) -> int:
    return zlib.crc32(f"{batch.integration_id}/{batch.stream}".encode()) % lanes


class Uploader:
    """Delivers the outbox; thread-safe; one instance per process."""

    def __init__(
        self,
        store: Store,
        endpoint: str,
        api_key: Callable[[], Secret] | Secret,
        *,
        tls: TlsOptions = TlsOptions(),
        proxy: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy = RetryPolicy(max_attempts=None, initial_wait=1.0, max_wait=300.0),
        auth_retry_interval: float | None = None,
        concurrency: int = 2,
        transport: httpx.BaseTransport | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """``api_key`` may be a callable that reads the key anew (from its file) before each retry
        after a 401/403; ``auth_retry_interval`` None makes a credential refusal final."""
        self._store = store
        self._key_source = api_key if callable(api_key) else (lambda: api_key)
        self._api_key = self._key_source()
        self._auth_retry_interval = auth_retry_interval
        self._concurrency = concurrency
        self._stop = stop or threading.Event()
        self._retry = RetryPolicy(retry.max_attempts, retry.initial_wait, retry.max_wait, retry.max_retry_after, self._sleep)
        self._http = httpx.Client(
            base_url=endpoint.rstrip("/"),
            headers={"Content-Type": BATCH_CONTENT_TYPE, "User-Agent": f"sei-satellite/{__version__}"},
            verify=tls.httpx_verify(),
            proxy=proxy,
            trust_env=proxy is None,
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            transport=transport,
        )

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
            pending = self._store.pending_batches(limit=_WINDOW)
            mine = [b for b in pending if _lane(b, self._concurrency) == index]
            if not mine:
                if finished and len(pending) < _WINDOW:  # the whole outbox was seen: nothing left for this lane
                    return
                self._store.wait_for_batches(timeout=0.5)
                continue
            for batch in mine:
                if self._stop.is_set() or failed.is_set():
                    return
                try:
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
            status, detail = self._send(batch)
            if status in (200, 201):
                self._store.acknowledge(batch)
                report.count(status)
                UPLOADS.labels("stored" if status == 201 else "duplicate").inc()
                return
            if status not in (401, 403):  # 400/413/422 and anything else unexpected: permanent
                log.error("batch_dead_lettered", batch_id=batch.batch_id, stream=batch.stream, seq=batch.seq,
                          status=status, detail=detail, hint="see: satellite outbox list; re-send with: satellite outbox retry")
                self._store.dead_letter(batch.batch_id, status, detail or f"HTTP {status}")
                UPLOADS.labels("dead_letter").inc()
                report.dead_lettered.append(batch.batch_id)
                return
            UPLOADS.labels("refused").inc()
            message = (f"SEI endpoint refused the credentials (HTTP {status}): check satellite.api_key and that this"
                       " satellite's signing key is registered with SEI")
            if self._auth_retry_interval is None:
                raise DeliveryError(message)
            log.error("delivery_credentials_refused", status=status, retry_in_s=self._auth_retry_interval, detail=message)
            self._sleep(self._auth_retry_interval)
            try:
                self._api_key = self._key_source()
            except (OSError, SatelliteError) as exc:
                log.error("api_key_reload_failed", error=str(exc))

    def _send(self, batch: OutboxEntry) -> tuple[int, str]:
        """POST with retries of transient failures; returns a final (status, detail)."""

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, _Transient)

        for attempt in self._retry.retrying(retryable, what=f"upload {batch.stream}#{batch.seq}"):
            with attempt:
                try:
                    response = self._http.post(
                        "/v1/satellite/batches",
                        content=batch.body,
                        headers={"Idempotency-Key": batch.batch_id, "Authorization": f"Bearer {self._api_key.reveal()}"},
                    )
                except httpx.TransportError as exc:
                    UPLOADS.labels("retry").inc()
                    raise _Transient(f"cannot reach the SEI endpoint: {exc.__class__.__name__} {exc}") from None
                status = response.status_code
                if status in TRANSIENT_STATUSES or status >= 500:
                    UPLOADS.labels("retry").inc()
                    raise _Transient(f"SEI endpoint answered HTTP {status}", parse_retry_after(response.headers.get("retry-after")))
                return status, response.text[:300] if status not in (200, 201) else ""
        raise AssertionError("unreachable")  # pragma: no cover

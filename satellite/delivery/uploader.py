"""Uploader: POST each outbox batch to the SEI ingest endpoint; forget it only once acknowledged.

Protocol (contract 4.3): ``POST {endpoint}/v1/satellite/batches`` with ``Authorization: Bearer``,
``Idempotency-Key: <batch_id>`` and the sealed bytes. 201 stored, 200 duplicate: both delete the
batch locally. 408/409/429/5xx and network errors are retried (Retry-After honoured); 400/413/422
are permanent and leave the batch in the outbox, reported; 401/403 stop the upload loudly.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog

from satellite import __version__
from satellite.ado.client import TlsOptions
from satellite.errors import DeliveryError, SatelliteError
from satellite.retrying import RetryPolicy, parse_retry_after
from satellite.secret import Secret
from satellite.store import OutboxEntry, Store

__all__ = ["Uploader", "DrainReport", "BATCH_CONTENT_TYPE"]

log = structlog.get_logger(__name__)

BATCH_CONTENT_TYPE = "application/vnd.sei.sealed-batch"
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class _TransientUpload(SatelliteError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class DrainReport:
    delivered: int
    duplicates: int
    rejected: tuple[str, ...]  # batch ids refused for good (still in the outbox)

    @property
    def ok(self) -> bool:
        return not self.rejected


class Uploader:
    def __init__(
        self,
        store: Store,
        endpoint: str,
        api_key: Secret,
        *,
        tls: TlsOptions = TlsOptions(),
        proxy: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._store = store
        self._retry = retry
        self._http = httpx.Client(
            base_url=endpoint.rstrip("/"),
            headers={
                "Authorization": f"Bearer {api_key.reveal()}",
                "Content-Type": BATCH_CONTENT_TYPE,
                "User-Agent": f"sei-satellite/{__version__}",
            },
            verify=tls.httpx_verify(),
            proxy=proxy,
            trust_env=proxy is None,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Uploader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drain(self) -> DrainReport:
        """Send everything in the outbox, oldest first, until it is empty or only rejects remain."""
        delivered = duplicates = 0
        rejected: list[str] = []
        while True:
            batches = [b for b in self._store.pending_batches(limit=100 + len(rejected)) if b.batch_id not in rejected]
            if not batches:
                return DrainReport(delivered, duplicates, tuple(rejected))
            for batch in batches:
                status = self._send(batch)
                if status in (200, 201):
                    self._store.delete_batch(batch.batch_id)
                    delivered += status == 201
                    duplicates += status == 200
                else:
                    rejected.append(batch.batch_id)

    def _send(self, batch: OutboxEntry) -> int:
        """POST one batch with retries; returns 200/201, or the permanent rejection status."""

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, _TransientUpload)

        for attempt in self._retry.retrying(retryable, what=f"upload {batch.stream}#{batch.seq}"):
            with attempt:
                try:
                    response = self._http.post("/v1/satellite/batches", content=batch.body, headers={"Idempotency-Key": batch.batch_id})
                except httpx.TransportError as exc:
                    raise _TransientUpload(f"cannot reach the SEI endpoint: {exc.__class__.__name__} {exc}") from None
                status = response.status_code
                if status in (200, 201):
                    return status
                if status in TRANSIENT_STATUSES or status >= 500:
                    raise _TransientUpload(
                        f"SEI endpoint answered HTTP {status}", parse_retry_after(response.headers.get("retry-after"))
                    )
                if status in (401, 403):
                    raise DeliveryError(
                        f"SEI endpoint refused the credentials (HTTP {status}): check satellite.api_key and that this"
                        " satellite's signing key is registered with SEI"
                    )
                log.error("batch_rejected", batch_id=batch.batch_id, stream=batch.stream, seq=batch.seq, status=status,
                          detail=response.text[:300])
                return status
        raise AssertionError("unreachable")  # pragma: no cover

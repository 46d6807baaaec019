"""The SEI ingest protocol as the satellite speaks it (product brief, contract 4.3), in one place:
routes and headers, what each answer means, the HTTP client for the endpoint and the API key.

Routes, relative to ``satellite.endpoint``, each with ``Authorization: Bearer <api key>``:

    POST /v1/satellite/batches    a sealed batch; Content-Type application/vnd.sei.sealed-batch,
                                  Idempotency-Key = the batch id (the uploader)
    POST /v1/satellite/heartbeat  JSON: who the satellite is and how its streams are doing; v1.1: also
                                  the outcomes of SEI's commands, whose signed envelopes the answer
                                  may carry (satellite.remote, docs/remote-commands.md)
    POST /v1/satellite/probe      a sealed batch of 0 records in stream ``satellite.probe``: are the
                                  API key and the keys accepted? Stores nothing (``satellite check``)

What an answer means, one rule for every route (``classify``):

| answer | ``Answer`` | the uploader |
|---|---|---|
| 201 | STORED | forgets the batch: delivered |
| 200 | DUPLICATE | forgets the batch: SEI already had it |
| 408, 409, 425, 429, 5xx, no answer (network, TLS, timeout) | RETRY | retries, backing off, never sooner than Retry-After |
| 401, 403, 407 | CREDENTIALS | reports loudly, retries slowly with the API key read anew |
| 400, 413, 422 and any other status | DEAD_LETTER | keeps the batch as a dead letter (``satellite outbox list``/``retry``) |

Decided beyond the contract: 425 Too Early is transient (RFC 8470: the same request may succeed
later). 407 means the proxy wants credentials: the batch is fine, the set-up is not. Any other
status (another 4xx such as 404 for a wrong endpoint, a 3xx since redirects are not followed, a
2xx other than 200/201) is no acknowledgement and no reason to expect a different answer soon: the
batch is kept as a dead letter, listed and re-sendable, never silently dropped. The heartbeat and
the probe count STORED and DUPLICATE (``Answer.accepted``) as accepted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable

import httpx
import structlog

from satellite.config import reload_config
from satellite.errors import ApiKeyError, SatelliteError
from satellite.http_clients import TlsOptions, build_client_lanes, build_http_client
from satellite.http_lanes import ClientLanes
from satellite.secret import Secret

__all__ = [
    "BATCHES_PATH",
    "HEARTBEAT_PATH",
    "PROBE_PATH",
    "PROBE_STREAM",
    "BATCH_CONTENT_TYPE",
    "IDEMPOTENCY_KEY",
    "Answer",
    "classify",
    "SeiEndpoint",
    "ApiKeySource",
    "authorization",
]

log = structlog.get_logger(__name__)

BATCHES_PATH = "/v1/satellite/batches"
HEARTBEAT_PATH = "/v1/satellite/heartbeat"
PROBE_PATH = "/v1/satellite/probe"
PROBE_STREAM = "satellite.probe"
BATCH_CONTENT_TYPE = "application/vnd.sei.sealed-batch"
IDEMPOTENCY_KEY = "Idempotency-Key"

KEY_MAX_AGE_S = 10.0  # how old the API key in hand may be before ``ApiKeySource.get`` reads it anew

_RETRY = frozenset({408, 409, 425, 429})
_CREDENTIALS = frozenset({401, 403, 407})


class Answer(Enum):
    """What an answer of the SEI endpoint means; the value is the ``satellite_uploads`` outcome label."""

    STORED = "stored"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    CREDENTIALS = "refused"

    @property
    def accepted(self) -> bool:
        """SEI has the request's content (stored now or before)."""
        return self in (Answer.STORED, Answer.DUPLICATE)


def classify(status: int | None) -> Answer:
    """The meaning of an HTTP status; ``None`` is no answer at all (network, TLS, timeout)."""
    if status is None or status in _RETRY or 500 <= status <= 599:
        return Answer.RETRY
    if status == 201:
        return Answer.STORED
    if status == 200:
        return Answer.DUPLICATE
    if status in _CREDENTIALS:
        return Answer.CREDENTIALS
    return Answer.DEAD_LETTER


@dataclass(frozen=True, slots=True)
class SeiEndpoint:
    """Where the SEI ingest endpoint is and how to reach it (TLS, proxy)."""

    url: str
    tls: TlsOptions = TlsOptions()
    proxy: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> "SeiEndpoint":
        """From the config's ``satellite:`` section (``endpoint``, ``tls``, ``proxy``)."""
        return cls(settings.endpoint, TlsOptions.from_settings(settings.tls), settings.proxy)

    def url_of(self, path: str) -> str:
        return self.url.rstrip("/") + path

    def client(
        self,
        *,
        timeout: float | httpx.Timeout,
        max_connections: int | None = None,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> httpx.Client:
        """A client whose relative URLs (``BATCHES_PATH``...) go to the endpoint."""
        return build_http_client(self.tls, proxy=self.proxy, timeout=timeout, base_url=self.url, headers=headers,
                                 max_connections=max_connections, transport=transport)

    def client_lanes(
        self,
        *,
        timeout: float | httpx.Timeout,
        lanes: int,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> ClientLanes:
        """As ``client``, for ``lanes`` threads at once (``satellite.http_lanes``)."""
        return build_client_lanes(self.tls, proxy=self.proxy, timeout=timeout, lanes=lanes, base_url=self.url,
                                  headers=headers, transport=transport)


def authorization(api_key: Secret) -> dict[str, str]:
    """The ``Authorization`` header for ``api_key``.

    Raises:
        ApiKeyError: the key holds a character no HTTP header can carry (non-ASCII or a control
            character), so no request can be made with it. The message never shows the key.
    """
    value = api_key.reveal()
    bad = next((i for i, c in enumerate(value) if not " " <= c <= "~"), None)
    if bad is not None:
        raise ApiKeyError(
            f"satellite.api_key cannot be sent: character {bad + 1} of {len(value)} is "
            f"{'not ASCII' if not value[bad].isascii() else 'a control character'} (an API key is printable ASCII"
            " text: check the variable or file it comes from)"
        )
    return {"Authorization": f"Bearer {value}"}


class ApiKeySource:
    """The SEI API key, read anew on use; one source serves the uploader and the heartbeat alike.

    ``get()`` reads the key again once the key in hand is ``max_age`` seconds old (reading re-loads
    the configuration file, so it costs milliseconds: not once per batch); ``refresh()`` reads it
    now (after a 401/403). A read that fails keeps the key in hand and logs why (once per cause).
    """

    def __init__(
        self,
        read: Callable[[], Secret],
        *,
        initial: Secret | None = None,
        max_age: float = KEY_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._failure: str | None = None
        self._key = initial if initial is not None else read()
        self._read_at = clock()

    @classmethod
    def fixed(cls, key: Secret) -> "ApiKeySource":
        """A key that never changes (tests, a config not loaded from a file)."""
        return cls(lambda: key, initial=key, max_age=float("inf"))

    @classmethod
    def from_config(cls, config: Any, *, max_age: float = KEY_MAX_AGE_S) -> "ApiKeySource":
        """The ``satellite.api_key`` of ``config``, re-read from its file (the variable or key file
        it names may have been rotated)."""
        source = Path(config.source)
        if not source.is_file():
            return cls.fixed(config.satellite.api_key)
        return cls(lambda: reload_config(config).satellite.api_key, initial=config.satellite.api_key, max_age=max_age)

    def get(self) -> Secret:
        """The key, read anew first if it is ``max_age`` old."""
        if self._clock() - self._read_at < self._max_age:
            return self._key
        return self.refresh()

    def refresh(self) -> Secret:
        """Read the key now; on failure keep the one in hand."""
        with self._lock:
            try:
                self._key = self._read()
                self._failure = None
            except (OSError, SatelliteError) as exc:
                if str(exc) != self._failure:
                    log.error("api_key_reload_failed", error=str(exc), hint="the key read before is used meanwhile")
                self._failure = str(exc)
            self._read_at = self._clock()
            return self._key

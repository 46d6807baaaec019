"""Heartbeat: ``POST {endpoint}/v1/satellite/heartbeat`` with who we are and how every stream is doing.

Ingest protocol v1.1 (docs/remote-commands.md): with a command channel the body also carries
``protocol``, ``remote_commands`` and the ``command_outcomes`` not yet reported, and the commands
of the answer are run; a v1.0 answer (no ``commands``, or no JSON at all) runs nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
import structlog

from satellite import __version__
from satellite.errors import SatelliteError
from satellite.remote.channel import CommandChannel
from satellite.sei import HEARTBEAT_PATH, Answer, ApiKeySource, SeiEndpoint, authorization, classify
from satellite.store import INTEGRATION_VERSION, OUTBOX_PAUSED_SINCE, Store
from satellite.version_skew import batch_formats, note_answer

__all__ = ["Heartbeat", "heartbeat_body"]

log = structlog.get_logger(__name__)

TIMEOUT_S = 10.0


def heartbeat_body(settings: Any, store: Store, started_at: float) -> dict:
    """The heartbeat document (no secrets, no record data)."""
    outbox = store.outbox_stats()
    now = time.time()
    paused = store.get_state(OUTBOX_PAUSED_SINCE)
    return {
        "satellite_id": settings.id,
        "tenant": settings.tenant,
        "version": __version__,
        "batch_formats": batch_formats(settings),  # v1.1: the sealed-batch format version written and those readable
        "sent_at": now,
        "uptime_s": round(now - started_at, 3),
        "streams": [asdict(s) for s in store.stream_statuses()],
        # the api-version each integration's collector detected: the receiver can tell "not on this server version"
        "integrations": [{"id": key[len(INTEGRATION_VERSION):], **json.loads(value)}
                         for key, value in sorted(store.get_states(INTEGRATION_VERSION).items())],
        "outbox": {
            "batches": outbox.batches,
            "bytes": outbox.bytes,
            "records": outbox.records,
            "oldest_age_s": round(now - outbox.oldest_created_at, 3) if outbox.oldest_created_at else None,
            "dead_letters": outbox.dead_letters,
            "paused_since": float(paused) if paused else None,
        },
    }


@dataclass(frozen=True)
class Heartbeat:
    """Sends the heartbeat of one process (``started_at``: when it started, time.time())."""

    settings: Any  # the config's ``satellite:`` section
    endpoint: SeiEndpoint
    api_key: ApiKeySource
    store: Store
    started_at: float
    transport: httpx.BaseTransport | None = None
    commands: CommandChannel | None = None  # None: a v1.0 heartbeat (no outcomes, commands ignored)

    def send(self) -> bool:
        """Best effort: a failed heartbeat is logged, never raised; True if SEI accepted it. The
        commands of an accepted answer run before it returns; their outcomes go with the next one."""
        carried: list[int] = []
        try:
            headers = authorization(self.api_key.get())
            body = heartbeat_body(self.settings, self.store, self.started_at)
            if self.commands is not None:
                fields, carried = self.commands.heartbeat_fields()
                body.update(fields)
            with self.endpoint.client(timeout=TIMEOUT_S, transport=self.transport) as http:
                response = http.post(HEARTBEAT_PATH, json=body, headers=headers)
        except (httpx.HTTPError, OSError, SatelliteError) as exc:  # OSError: e.g. an unreadable CA bundle
            log.warning("heartbeat_failed", error=f"{exc.__class__.__name__}: {exc}")
            return False
        answer = classify(response.status_code)
        if not answer.accepted:
            hint = "check satellite.api_key" if answer is Answer.CREDENTIALS else None
            log.warning("heartbeat_refused", status=response.status_code, answer=answer.name, hint=hint)
            return False
        note_answer(self.store, response)  # v1.1: min_supported_version / latest_version (satellite.version_skew)
        if self.commands is not None:
            self._take_answer(response, carried)
        return True

    def _take_answer(self, response: httpx.Response, carried: list[int]) -> None:
        """v1.1: the outcomes carried are reported; the answer's commands run (satellite.remote)."""
        try:
            self.commands.reported(carried)  # type: ignore[union-attr]
            try:
                answer = response.json()
            except ValueError:
                answer = None  # a receiver of v1.0 may answer anything: no commands
            self.commands.handle_answer(answer)  # type: ignore[union-attr]
        except SatelliteError as exc:  # the store: the outcomes stay unreported, the commands unclaimed
            log.error("remote_commands_failed", error=str(exc))

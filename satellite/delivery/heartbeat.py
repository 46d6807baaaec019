"""Heartbeat: ``POST {endpoint}/v1/satellite/heartbeat`` with who we are and how every stream is doing."""

from __future__ import annotations

import time
from dataclasses import asdict

import httpx
import structlog

from satellite import __version__
from satellite.store import Store

__all__ = ["heartbeat_body", "send_heartbeat"]

log = structlog.get_logger(__name__)


def heartbeat_body(settings, store: Store, started_at: float) -> dict:
    """The heartbeat document (no secrets, no record data)."""
    outbox = store.outbox_stats()
    now = time.time()
    paused = store.get_state("outbox_paused_since")
    return {
        "satellite_id": settings.id,
        "tenant": settings.tenant,
        "version": __version__,
        "sent_at": now,
        "uptime_s": round(now - started_at, 3),
        "streams": [asdict(s) for s in store.stream_statuses()],
        "outbox": {
            "batches": outbox.batches,
            "bytes": outbox.bytes,
            "records": outbox.records,
            "oldest_age_s": round(now - outbox.oldest_created_at, 3) if outbox.oldest_created_at else None,
            "dead_letters": outbox.dead_letters,
            "paused_since": float(paused) if paused else None,
        },
    }


def send_heartbeat(http: httpx.Client, api_key, settings, store: Store, started_at: float) -> bool:
    """Best effort: a failed heartbeat is logged, never fatal."""
    try:
        response = http.post(
            "/v1/satellite/heartbeat",
            json=heartbeat_body(settings, store, started_at),
            headers={"Authorization": f"Bearer {api_key.reveal()}"},
        )
    except httpx.HTTPError as exc:
        log.warning("heartbeat_failed", error=f"{exc.__class__.__name__}: {exc}")
        return False
    if response.status_code >= 300:
        log.warning("heartbeat_refused", status=response.status_code)
        return False
    return True

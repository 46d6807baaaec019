"""The delivery ledger's row of an acknowledged batch: its ids and counts, the SHA-256 of its
plaintext and of its sealed bytes, and the policy fingerprint and sealing time of its header."""

from __future__ import annotations

import hashlib
from datetime import datetime

import structlog

from satellite.errors import SealingError
from satellite.sealing.batch_format import read_header
from satellite.store import LedgerEntry, OutboxEntry

__all__ = ["ledger_entry"]

log = structlog.get_logger(__name__)


def ledger_entry(batch: OutboxEntry, answer: str, acknowledged_at: float) -> LedgerEntry:
    """The row of ``batch``, acknowledged at ``acknowledged_at`` with ``answer`` ("stored",
    "duplicate"). The header is read unauthenticated: the batch is this satellite's own."""
    policy, sealed_at = None, acknowledged_at
    try:
        header = read_header(batch.body)
        policy = getattr(header, "policy", None) or None
        sealed_at = datetime.fromisoformat(header.created_at).timestamp()
    except (SealingError, ValueError) as exc:  # not expected of a batch this satellite sealed
        log.warning("ledger_header_unreadable", batch_id=batch.batch_id, error=str(exc))
    return LedgerEntry(
        batch_id=batch.batch_id,
        integration_id=batch.integration_id,
        stream=batch.stream,
        seq=batch.seq,
        record_count=batch.record_count,
        plaintext_sha256=batch.plaintext_sha256,
        sealed_sha256=hashlib.sha256(batch.body).hexdigest(),
        policy=policy,
        sealed_at=sealed_at,
        acknowledged_at=acknowledged_at,
        answer=answer,
    )

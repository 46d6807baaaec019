"""The delivery ledger's row: what SEI acknowledged, as ids, counts and digests (no content, no names)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LedgerEntry", "Forgotten"]


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One acknowledged batch.

    ``plaintext_sha256``: SHA-256 (hex) of the batch's NDJSON lines before gzip (None for a batch
    sealed before store version 4); ``sealed_sha256``: of the bytes sent; ``policy``: the privacy
    policy fingerprint of the batch header (None: no policy); ``sealed_at``, ``acknowledged_at``:
    seconds since the epoch; ``answer``: "stored" or "duplicate" (SEI had it already)."""

    batch_id: str
    integration_id: str
    stream: str
    seq: int
    record_count: int
    plaintext_sha256: str | None
    sealed_sha256: str
    policy: str | None
    sealed_at: float
    acknowledged_at: float
    answer: str


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What ``Store.forget`` removed of one stream of one integration (``satellite resync``)."""

    integration_id: str
    stream: str
    cursors: int = 0
    delivered_keys: int = 0

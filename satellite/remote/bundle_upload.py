"""SEI's ``upload_support_bundle``: the support bundle (``satellite.support``) sealed to SEI's key and
sent like a batch: one record in stream ``satellite.support_bundle`` of integration ``satellite``,
committed to the outbox, delivered (and acknowledged, ledgered) by the uploader as any batch.

The record (what SEI decrypts):

    {"type": "satellite.support_bundle", "key": <command id>, "op": "upsert", "observed_at": ...,
     "data": {"command_id", "file_name", "size", "sha256", "archive_base64"}}

The bundle holds no secret (``satellite.support`` scrubs every member); the batch is encrypted to
SEI's recipient key and signed with the satellite's key like every batch.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

from satellite.clock import utc_now
from satellite.remote.commands import UploadSupportBundle
from satellite.remote.executor import SupportBundleHook
from satellite.sealing.batch_format import ndjson_line
from satellite.sealing.sealer import Sealer
from satellite.store import OutboxEntry, Store

__all__ = ["BUNDLE_INTEGRATION", "BUNDLE_STREAM", "BUNDLE_TYPE", "bundle_uploader"]

BUNDLE_INTEGRATION = "satellite"
BUNDLE_STREAM = "satellite.support_bundle"
BUNDLE_TYPE = "satellite.support_bundle"


def bundle_uploader(config: Any, store: Store) -> SupportBundleHook:
    """The ``upload_support_bundle`` hook of a process with this config and (open) store."""

    def upload(action: UploadSupportBundle, command_id: str) -> str:
        from satellite.support.bundle import (
            DEFAULT_LOG_LINES,
            build_bundle,
            default_bundle_name,
        )

        now = time.time()
        lines = DEFAULT_LOG_LINES if action.log_lines is None else action.log_lines
        archive = build_bundle(config, store=store, log_lines=lines, now=now)
        digest = hashlib.sha256(archive).hexdigest()
        record = {"type": BUNDLE_TYPE, "key": command_id, "op": "upsert", "observed_at": utc_now(),
                  "data": {"command_id": command_id, "file_name": default_bundle_name(config, now), "size": len(archive),
                           "sha256": digest, "archive_base64": base64.b64encode(archive).decode()}}
        line = ndjson_line(record)
        seq = store.next_seq(BUNDLE_INTEGRATION, BUNDLE_STREAM)
        batch_id = str(uuid.uuid4())
        body = Sealer.from_settings(config.satellite).seal_lines(
            batch_id=batch_id, integration_id=BUNDLE_INTEGRATION, service="satellite", stream=BUNDLE_STREAM, seq=seq,
            lines=[line], cursor_from=None, cursor_to=None)
        store.commit_batch(OutboxEntry(batch_id, BUNDLE_INTEGRATION, BUNDLE_STREAM, seq, 1, body,
                                       hashlib.sha256(line).hexdigest()), None)
        return (f"support bundle of {len(archive)} bytes (sha256 {digest[:16]}...) sealed into batch {batch_id}: sent with"
                " the outbox")

    return upload

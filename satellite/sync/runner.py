"""``sync --once``: collect every integration into the outbox, then upload the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from satellite.ado.client import TlsOptions
from satellite.delivery import DrainReport, Uploader
from satellite.errors import SatelliteError
from satellite.retrying import RetryPolicy
from satellite.sealing.sealer import Sealer
from satellite.store import OutboxStats, Store
from satellite.sync.collector import CollectionReport, Collector
from satellite.sync.sharding import ShardAssignment

__all__ = ["SyncResult", "sync_once"]

log = structlog.get_logger(__name__)


@dataclass
class SyncResult:
    collection: CollectionReport
    drain: DrainReport | None
    upload_error: str | None
    outbox: OutboxStats
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything collected without error and everything delivered."""
        return not self.errors and self.outbox.batches == 0


def sync_once(
    config,
    *,
    ado_retry: RetryPolicy = RetryPolicy(),
    upload_retry: RetryPolicy = RetryPolicy(max_attempts=8),
    ado_transport_factory=None,
    upload_transport=None,
    on_record=None,
) -> SyncResult:
    """One full pass over every integration, then deliver the outbox (``on_record`` sees every record)."""
    store = Store(config.satellite.data_dir)
    try:
        sealer = Sealer.from_settings(config.satellite)
        shard = ShardAssignment.from_settings(config.satellite.shard)
        report = CollectionReport()
        for integration in config.integrations:
            Collector(integration, config.limits, store, sealer, retry=ado_retry, transport_factory=ado_transport_factory,
                      on_record=on_record, shard=shard).run(report)
        errors = [f"{o.integration_id} {o.collection} {o.stream} {o.partition}: {o.error}".replace("  ", " ") for o in report.errors]
        drain: DrainReport | None = None
        upload_error: str | None = None
        settings = config.satellite
        uploader = Uploader(
            store,
            settings.endpoint,
            settings.api_key,
            tls=TlsOptions(settings.tls.verify, settings.tls.ca_bundle),
            proxy=settings.proxy,
            retry=upload_retry,
            transport=upload_transport,
        )
        with uploader:
            try:
                drain = uploader.drain()
            except SatelliteError as exc:
                upload_error = str(exc)
                errors.append(f"upload: {exc}")
        if drain is not None and drain.rejected:
            errors.append(f"upload: {len(drain.rejected)} batch(es) rejected by the SEI endpoint and kept in the outbox")
        outbox = store.outbox_stats()
        log.info(
            "sync_finished",
            records=sum(o.records for o in report.outcomes),
            batches=sum(o.batches for o in report.outcomes),
            requests=report.requests,
            delivered=drain.delivered if drain else 0,
            outbox_batches=outbox.batches,
            errors=len(errors),
        )
        return SyncResult(report, drain, upload_error, outbox, errors)
    finally:
        store.close()

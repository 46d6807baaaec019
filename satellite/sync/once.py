"""``sync --once``: collect every integration into the outbox while the uploader drains it.

Collection and delivery run at the same time: the uploader starts first, and when the outbox
reaches ``limits.outbox_max_bytes`` collection pauses until uploads make room (backpressure).
The run ends when collection is over and the outbox is delivered (dead letters aside).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import structlog

from satellite.delivery import DrainReport, build_delivery
from satellite.errors import DeliveryError, StoreError
from satellite.retrying import RetryPolicy
from satellite.sealing.sealer import Sealer
from satellite.store import DataDirLock, OutboxStats, Store
from satellite.sync.backpressure import Backpressure
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
        return not self.errors and self.outbox.batches == 0 and self.outbox.dead_letters == 0


def sync_once(
    config,
    *,
    ado_retry: RetryPolicy = RetryPolicy(),
    upload_retry: RetryPolicy | None = None,
    ado_transport_factory=None,
    upload_transport=None,
    on_record=None,
) -> SyncResult:
    """One full pass over every integration with delivery alongside (``on_record`` sees every record)."""
    started = time.time()
    lock = DataDirLock(config.satellite.data_dir).acquire()  # DataDirInUse: another sync or run has it
    try:
        store = Store(config.satellite.data_dir)
    except BaseException:
        lock.release()
        raise
    errors: list[str] = []
    report = CollectionReport()
    outcome: dict[str, object] = {}
    try:
        sealer = Sealer.from_settings(config.satellite)
        shard = ShardAssignment.from_settings(config.satellite.shard)
        producers_done, upload_failed = threading.Event(), threading.Event()
        with build_delivery(config, store, started_at=started, retry=upload_retry, transport=upload_transport) as delivery:
            def deliver() -> None:
                try:
                    outcome["drain"] = delivery.uploader.deliver(producers_done)
                except DeliveryError as exc:
                    outcome["error"] = str(exc)
                    upload_failed.set()

            delivering = threading.Thread(target=deliver, name="deliver", daemon=True)
            delivering.start()
            backpressure = Backpressure(store, config.limits.outbox_max_bytes, should_stop=upload_failed.is_set)
            try:
                for integration in config.integrations:
                    Collector(integration, config.limits, store, sealer, retry=ado_retry, transport_factory=ado_transport_factory,
                              on_record=on_record, shard=shard, admit=backpressure.admit).run(report)
            except StoreError as exc:
                log.error("store_failed", error=str(exc), hint="free space in data_dir (or fix its permissions); the next run resumes")
                errors.append(f"store: {exc}")
            finally:
                producers_done.set()
                delivering.join()
            errors[:0] = [f"{o.integration_id} {o.collection} {o.stream} {o.partition}: {o.error}".replace("  ", " ")
                          for o in report.errors]
            if "error" in outcome:
                errors.append(f"upload: {outcome['error']}")
            drain = outcome.get("drain")
            if isinstance(drain, DrainReport) and drain.dead_lettered:
                errors.append(f"upload: {len(drain.dead_lettered)} batch(es) rejected by the SEI endpoint and kept as dead letters")
            delivery.heartbeat.send()
        outbox = store.outbox_stats()
        log.info(
            "sync_finished",
            records=sum(o.records for o in report.outcomes),
            batches=sum(o.batches for o in report.outcomes),
            requests=report.requests,
            delivered=drain.delivered if isinstance(drain, DrainReport) else 0,
            outbox_batches=outbox.batches,
            dead_letters=outbox.dead_letters,
            errors=len(errors),
        )
        return SyncResult(report, drain if isinstance(drain, DrainReport) else None, outcome.get("error"), outbox, errors)
    finally:
        store.close()
        lock.release()


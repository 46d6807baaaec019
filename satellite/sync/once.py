"""``sync --once``: collect every integration into the outbox while the uploader drains it.

Collection and delivery run at the same time: the uploader starts first, and when the outbox
reaches ``limits.outbox_max_bytes`` collection pauses until uploads make room (backpressure).
The run ends when collection is over and the outbox is delivered (dead letters aside), or early:
when ``stop`` is set (a signal: collection stops at a record boundary, what is collected stays in
the outbox) or when SEI has accepted nothing for ``delivery.once_deadline`` while batches wait
(the endpoint is down: the sealed batches stay in the outbox for the next run).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import structlog

from satellite.delivery import DrainReport, build_delivery
from satellite.errors import DeliveryError, Stopping, StoreError
from satellite.remote.executor import collection_paused
from satellite.retrying import RetryPolicy
from satellite.sealing.sealer import Sealer
from satellite.store import DataDirLock, OutboxStats, Store
from satellite.sync.backpressure import Backpressure
from satellite.sync.collector import CollectionReport, Collector
from satellite.sync.sharding import ShardAssignment
from satellite.privacy.policy import PrivacyPolicy

__all__ = ["SyncResult", "sync_once", "DeliveryWatchdog"]

log = structlog.get_logger(__name__)


@dataclass
class SyncResult:
    collection: CollectionReport
    drain: DrainReport | None
    upload_error: str | None
    outbox: OutboxStats
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the run ended early: "interrupted" (stop was set) or "deadline"

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
    stop: threading.Event | None = None,
    delivery_deadline: float | None = None,
) -> SyncResult:
    """One full pass over every integration with delivery alongside (``on_record`` sees every record).

    ``stop``: set it to end the run at the next record boundary; ``delivery_deadline``: seconds
    without an answer from SEI while batches wait before giving up (default ``delivery.once_deadline``).
    """
    started = time.time()
    stop = stop or threading.Event()
    deadline = config.delivery.once_deadline.total_seconds() if delivery_deadline is None else delivery_deadline
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
        with build_delivery(config, store, started_at=started, retry=upload_retry, transport=upload_transport, stop=stop) as delivery:
            def deliver() -> None:
                try:
                    outcome["drain"] = delivery.uploader.deliver(producers_done)
                except DeliveryError as exc:
                    outcome["error"] = str(exc)
                    upload_failed.set()

            delivering = threading.Thread(target=deliver, name="deliver", daemon=True)
            delivering.start()
            watchdog = DeliveryWatchdog(store, delivery.uploader, deadline, stop)
            watchdog.start()
            backpressure = Backpressure(store, config.limits.outbox_max_bytes,
                                        should_stop=lambda: upload_failed.is_set() or stop.is_set())
            try:
                paused = collection_paused(store)  # SEI's pause command (satellite.remote): deliver only
                if paused is not None:
                    log.warning("collection_paused_by_sei", command=paused.get("command_id"), hint="delivery only")
                for integration in config.integrations if paused is None else ():
                    if stop.is_set():
                        break
                    Collector(integration, config.limits, store, sealer, retry=ado_retry.until(stop), transport_factory=ado_transport_factory,
                              on_record=on_record, shard=shard, admit=backpressure.admit, should_stop=stop.is_set,
                              policy=PrivacyPolicy.from_config(config, integration)).run(report)
            except Stopping:
                pass  # the stop ended a wait (a back-off, the server's pause): as at a record boundary
            except StoreError as exc:
                log.error("store_failed", error=str(exc), hint="free space in data_dir (or fix its permissions); the next run resumes")
                errors.append(f"store: {exc}")
            finally:
                producers_done.set()
                delivering.join()
                watchdog.finish()
            errors[:0] = [f"{o.integration_id} {o.collection} {o.stream} {o.partition}: {o.error}".replace("  ", " ")
                          for o in report.errors]
            if "error" in outcome:
                errors.append(f"upload: {outcome['error']}")
            drain = outcome.get("drain")
            if isinstance(drain, DrainReport) and drain.dead_lettered:
                errors.append(f"upload: {len(drain.dead_lettered)} batch(es) rejected by the SEI endpoint and kept as dead letters")
            stopped = "deadline" if watchdog.expired else "interrupted" if stop.is_set() else None
            if stopped == "deadline":
                errors.append(f"upload: the SEI endpoint accepted nothing for {deadline:g}s (delivery.once_deadline);"
                              " the sealed batches stay in the outbox for the next run")
            else:
                delivery.heartbeat.send()  # not when SEI is unreachable or the run is asked to stop now
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
            stopped=stopped,
        )
        return SyncResult(report, drain if isinstance(drain, DrainReport) else None, outcome.get("error"), outbox, errors,
                          stopped)
    finally:
        store.close()
        lock.release()



class DeliveryWatchdog:
    """Sets ``stop`` (and ``expired``) when the uploader has had no final answer from SEI for
    ``deadline`` seconds while batches wait in the outbox; an empty outbox is not waiting."""

    def __init__(self, store: Store, uploader, deadline: float, stop: threading.Event) -> None:
        self._store, self._uploader, self._deadline, self._stop = store, uploader, deadline, stop
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="delivery-deadline", daemon=True)
        self.expired = False

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        self._finished.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._finished.wait(min(1.0, max(0.05, self._deadline / 4))):
            now = time.monotonic()
            if self._store.outbox_stats().batches == 0:
                self._uploader.last_progress = now  # nothing waits: idle, not stuck
            elif now - self._uploader.last_progress > self._deadline:
                log.error("delivery_deadline", seconds=self._deadline,
                          hint="the SEI endpoint accepted nothing this long: check it and the network; the next run delivers the outbox")
                self.expired = True
                self._stop.set()
                return

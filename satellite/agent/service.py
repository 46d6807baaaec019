"""``satellite run``: the long-running agent.

    scheduler ─┬─ per integration: one job per service group ("core", "repos", ...), every
               │  schedule.interval + jitter (coalesced); while a run is still busy (a long
               │  backfill), the next one runs beside it incrementally only, and no third;
               │  with events on: every schedule.sweep_interval instead (the safety net);
               │  the jobs of a sweep share the projects and teams lists (sync/listings.py)
               ├─ per integration with events on: the event job, at once when an event marks
               │  partitions due (satellite/events/driver.py)
               ├─ per integration: a full reconciliation every schedule.reconcile_every
               ├─ heartbeat every delivery.heartbeat_interval
    uploader ──── delivers the outbox continuously (lanes, retries, dead letters)
    endpoint ──── /healthz /readyz /metrics / (status page)

SIGTERM or SIGINT sets one stop event: no new job starts, running collectors store the records in
hand with their checkpoint and return at the next record boundary, a request waiting out a retry's
back-off or the server's pause gives up (``Stopping``), uploads finish the request in flight; the
process exits 0 (SIGTERM: a normal stop of a service) or 130 (SIGINT) if all of that happened within
``satellite.shutdown_grace``, 1 otherwise.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from satellite.agent.http_endpoint import HttpEndpoint
from satellite.delivery import build_delivery
from satellite.errors import DeliveryError, SatelliteError, Stopping
from satellite.events.driver import POLL_S, EventDriver
from satellite.events.focus import Focus
from satellite.remote.executor import collection_paused
from satellite.retrying import RetryPolicy
from satellite.sealing.sealer import Sealer
from satellite.signals import EXIT_INTERRUPTED, stop_on_signals
from satellite.store import DataDirLock, Store
from satellite.sync.backpressure import Backpressure
from satellite.sync.collector import CollectionReport, Collector
from satellite.sync.listings import SharedListings, max_age_for
from satellite.sync.progress import Progress
from satellite.sync.sharding import ShardAssignment
from satellite.privacy.policy import PrivacyPolicy

__all__ = ["Agent"]

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 3600.0


class Agent:
    def __init__(self, config, *, ado_retry: RetryPolicy = RetryPolicy(), upload_retry: RetryPolicy | None = None) -> None:
        self.config = config
        self.stop = threading.Event()
        self._ado_retry = ado_retry.until(self.stop)  # a back-off must not hold a SIGTERM
        self._upload_retry = upload_retry
        self._started = time.time()
        self._last_progress = time.time()
        self._failures: dict[str, int] = {}
        self._scheduler: BackgroundScheduler | None = None
        self._running: dict[str, int] = {}  # job id -> its runs in progress
        self._running_lock = threading.Lock()
        self._listings: dict[str, SharedListings] = {}  # integration id -> what its jobs of a sweep share

    # lifecycle ----------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""
        config = self.config
        lock = DataDirLock(config.satellite.data_dir).acquire()  # DataDirInUse: another sync or run has it
        signals = stop_on_signals(self.stop)
        caught = signals.__enter__()
        try:
            store = Store(config.satellite.data_dir)
        except BaseException:
            signals.__exit__(None, None, None)
            lock.release()
            raise
        endpoint: HttpEndpoint | None = None
        try:
            self._sealer = Sealer.from_settings(config.satellite)
            self._shard = ShardAssignment.from_settings(config.satellite.shard)
            self._store = store
            self._backpressure = Backpressure(store, config.limits.outbox_max_bytes, should_stop=self.stop.is_set)
            self._delivery = build_delivery(config, store, started_at=self._started, retry_credentials=True,
                                            retry=self._upload_retry, stop=self.stop, reconcile=self._reconcile_id)
            delivering = threading.Thread(target=self._deliver, name="deliver", daemon=True)
            delivering.start()
            self._events = EventDriver(config.integrations, store)
            self._events.run_soon = self._run_events_soon
            if config.satellite.http.listen:
                endpoint = HttpEndpoint(config.satellite.http.listen, store, config.satellite.id, self.readiness,
                                        next_runs=self.next_runs,
                                        events=self._events.receiver if self._events.listening else None,
                                        tls=_listener_tls(config.satellite.http)).start()
                log.info("http_endpoint", url=endpoint.url)
            self._progress = Progress().__enter__()  # stream_progress events during long backfills
            self._scheduler = self._schedule()
            self._scheduler.start()
            log.info("agent_started", satellite=config.satellite.id, integrations=len(config.integrations),
                     jobs=len(self._scheduler.get_jobs()), shard=f"{self._shard.index}/{self._shard.count}")
            # Wake now and then: Python runs signal handlers in the main thread only, and a SIGTERM the
            # kernel hands to another thread does not interrupt a wait without a timeout here, so the
            # handler could wait until something else woke this thread (seen: >40 s, in a test).
            while not self.stop.wait(timeout=0.2):
                pass
            code = self._shut_down(delivering)
            return EXIT_INTERRUPTED if code == 0 and caught.caught == signal.SIGINT else code
        finally:
            if endpoint is not None:
                endpoint.stop()
            store.close()
            lock.release()
            signals.__exit__(None, None, None)

    def _shut_down(self, delivering: threading.Thread) -> int:
        grace = self.config.satellite.shutdown_grace.total_seconds()
        deadline = time.monotonic() + grace
        scheduler = self._scheduler
        stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
        stopper.start()  # no new jobs; waits for the running ones, which stop at the next record
        stopper.join(max(0.0, deadline - time.monotonic()))
        delivering.join(max(0.0, deadline - time.monotonic()))
        self._delivery.close()
        self._progress.__exit__(None, None, None)
        clean = not stopper.is_alive() and not delivering.is_alive()
        log.info("agent_stopped", clean=clean, seconds=round(grace - max(0.0, deadline - time.monotonic()), 3))
        return 0 if clean else 1

    # jobs ---------------------------------------------------------------------------------

    def _schedule(self) -> BackgroundScheduler:
        config = self.config
        groups = [(i, g) for i in config.integrations for g in ("core", *i.services)]
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max(2, len(groups) + 2))},
            # two instances: a long backfill and, beside it, the incremental runs that keep the rest fresh
            job_defaults={"coalesce": True, "max_instances": 2, "misfire_grace_time": None},
            timezone=timezone.utc,
        )
        now = datetime.now(timezone.utc)
        for integration, group in groups:
            schedule = integration.schedule
            scheduler.add_job(
                self._collect, "interval", args=[integration, group], id=f"{integration.id}:{group}",
                seconds=_sweep_every(integration), jitter=int(schedule.jitter.total_seconds()) or None,
                next_run_time=now + timedelta(seconds=random.uniform(0, min(5.0, schedule.jitter.total_seconds()))),
            )
        for integration in config.integrations:
            scheduler.add_job(self._reconcile, "interval", args=[integration], id=f"{integration.id}:reconcile",
                              seconds=integration.schedule.reconcile_every.total_seconds(), max_instances=1)
            if self._events.enabled(integration):
                # the driver runs one at a time (a second instance returns at once): no "instances reached" warnings
                scheduler.add_job(self._collect_events, "interval", args=[integration], id=f"{integration.id}:events",
                                  seconds=POLL_S, max_instances=3)
        scheduler.add_job(self._heartbeat, "interval", id="heartbeat", next_run_time=now + timedelta(seconds=1),
                          seconds=config.delivery.heartbeat_interval.total_seconds(), max_instances=1)
        return scheduler

    def _collect(self, integration, group: str) -> None:
        job_id = f"{integration.id}:{group}"
        if self.stop.is_set():
            return
        if collection_paused(self._store) is not None:  # SEI's pause command (satellite.remote)
            log.info("job_skipped", job=job_id, reason="collection paused by SEI (until its resume command)")
            return
        with self._running_lock:
            beside = self._running.get(job_id, 0) > 0  # a run of this job is still busy: a long backfill
            self._running[job_id] = self._running.get(job_id, 0) + 1
        try:
            self._collect_once(integration, group, job_id, incremental_only=beside)
        finally:
            with self._running_lock:
                self._running[job_id] -= 1

    def _collect_once(self, integration, group: str, job_id: str, *, incremental_only: bool) -> None:
        """One run of a job; ``incremental_only``: beside a busy run of the same job, which keeps the
        backfills (units with no cursor) and the units it is running; this run reads everything else."""
        report = CollectionReport()
        started = time.monotonic()
        began = time.time()
        try:
            Collector(integration, self.config.limits, self._store, self._sealer, retry=self._ado_retry, shard=self._shard,
                      admit=self._backpressure.admit, services=(group,), should_stop=self.stop.is_set,
                      on_record=self._progress.record, policy=PrivacyPolicy.from_config(self.config, integration),
                      incremental_only=incremental_only, listings=self._shared_listings(integration)).run(report)
            error = report.errors[0].error if report.errors else None
        except SatelliteError as exc:
            error = str(exc)
        self._last_progress = time.time()
        records = sum(o.records for o in report.outcomes)
        self._events.after_sweep(integration, report.counts_by_stream(), began)
        if error is None or self.stop.is_set():
            self._failures.pop(job_id, None)
            log.info("job_finished", job=job_id, records=records, requests=report.requests,
                     seconds=round(time.monotonic() - started, 3), failed_units=len(report.errors),
                     incremental_only=incremental_only)
            return
        failures = self._failures[job_id] = self._failures.get(job_id, 0) + 1
        delay = min(MAX_BACKOFF_S, integration.schedule.interval.total_seconds() * 2 ** failures)
        log.error("job_failed", job=job_id, failed_units=len(report.errors), error=error, consecutive=failures,
                  next_try_in_s=round(delay, 1))
        if self._scheduler is not None and not self.stop.is_set():
            self._scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc) + timedelta(seconds=delay))

    def _shared_listings(self, integration) -> SharedListings:
        """The projects and teams lists one job of the integration's sweep read, for the others (sync/listings.py)."""
        with self._running_lock:
            listings = self._listings.get(integration.id)
            if listings is None:
                listings = self._listings[integration.id] = SharedListings(max_age_for(_sweep_every(integration)))
            return listings

    def _reconcile(self, integration) -> None:
        """Forget the integration's cursors: its next runs re-read everything (changes missed by the
        incremental paths arrive again; immutable records already delivered are still not resent).
        A re-read from no cursor that reaches its end without error also deletes the keys of a
        stream's ``reconciled`` types it no longer meets (destroyed work items: sync/collector.py)."""
        count = self._store.reset_cursors(integration.id)
        self._events.reconciled(integration.id)
        log.info("reconciliation_started", integration=integration.id, cursors_reset=count)
        if self._scheduler is not None:
            for group in ("core", *integration.services):
                self._scheduler.modify_job(f"{integration.id}:{group}", next_run_time=datetime.now(timezone.utc))

    def _collect_events(self, integration) -> None:
        """The event job: only the partitions events marked due, each from its normal cursor."""
        if self.stop.is_set() or collection_paused(self._store) is not None:
            return
        started = time.monotonic()
        report = CollectionReport()

        def collect(focus: Focus) -> list[tuple[str, str, str]]:
            collector = Collector(integration, self.config.limits, self._store, self._sealer, retry=self._ado_retry,
                                  shard=self._shard, admit=self._backpressure.admit, should_stop=self.stop.is_set,
                                  on_record=self._progress.record, policy=PrivacyPolicy.from_config(self.config, integration),
                                  focus=focus)
            try:
                collector.run(report)
            except Stopping:
                pass  # SIGTERM: the units stopped; what they stored stays
            except SatelliteError as exc:
                log.error("events_job_failed", integration=integration.id, error=str(exc))
            return collector.units_elsewhere

        taken = self._events.run_due(integration, collect)
        if taken:
            self._last_progress = time.time()
            log.info("events_collected", integration=integration.id, partitions=taken,
                     records=sum(o.records for o in report.outcomes), requests=report.requests,
                     failed_units=len(report.errors), seconds=round(time.monotonic() - started, 3))

    def _run_events_soon(self, integration_id: str, delay: float) -> None:
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running and not self.stop.is_set():
            try:
                scheduler.modify_job(f"{integration_id}:events", next_run_time=datetime.now(timezone.utc) + timedelta(seconds=delay))
            except Exception:  # noqa: BLE001 - the job is gone (shutting down): the poll or the sweep takes it
                pass

    def _reconcile_id(self, integration_id: str) -> None:
        """SEI's reconcile_now for one integration (the heartbeat thread)."""
        self._reconcile(next(i for i in self.config.integrations if i.id == integration_id))

    def _heartbeat(self) -> None:
        self._delivery.heartbeat.send()

    def _deliver(self) -> None:
        try:
            self._delivery.uploader.deliver(self.stop)  # runs until the agent stops
        except DeliveryError as exc:  # not expected: the agent retries credentials slowly
            log.error("delivery_stopped", error=str(exc))

    def next_runs(self) -> dict[str, float | None]:
        """Integration id -> when its next collection job is due (epoch seconds; None: none scheduled)."""
        scheduler = self._scheduler
        jobs = {job.id: job.next_run_time for job in scheduler.get_jobs()} if scheduler is not None and scheduler.running else {}
        due: dict[str, float | None] = {}
        for integration in self.config.integrations:
            times = [jobs.get(f"{integration.id}:{group}") for group in ("core", *integration.services)]
            due[integration.id] = min((t.timestamp() for t in times if t is not None), default=None)
        return due

    # health -------------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, list[str]]:
        reasons: list[str] = []
        try:
            self._store.outbox_stats()
        except SatelliteError as exc:
            reasons.append(f"database unusable: {exc}")
        if self._scheduler is None or not self._scheduler.running:
            reasons.append("scheduler not running")
        longest = max(_sweep_every(i) for i in self.config.integrations)
        stuck_after = 3 * longest + 600
        if time.time() - self._last_progress > stuck_after:
            reasons.append(f"no job finished for {int(time.time() - self._last_progress)} s")
        if self.stop.is_set():
            reasons.append("shutting down")
        return not reasons, reasons


def _sweep_every(integration) -> float:
    """Seconds between an integration's scheduled runs: schedule.interval, or with events on sweep_interval."""
    schedule = integration.schedule
    return (schedule.sweep_interval if integration.events.enabled else schedule.interval).total_seconds()


def _listener_tls(http) -> tuple[str, str] | None:
    """The listener's certificate and key (satellite.http.tls_cert/tls_key), or None: plain HTTP."""
    return (str(http.tls_cert), str(http.tls_key)) if http.tls_cert is not None else None

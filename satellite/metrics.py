"""Prometheus metrics of the satellite (one registry per process, served at ``/metrics``).

Counters are updated where things happen (HTTP client, uploader, collector); gauges about the
outbox and streams are read from the store when scraped, so they are never stale.
"""

from __future__ import annotations

import platform
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily

from satellite import __version__
from satellite.version_skew import current_skew

__all__ = ["REGISTRY", "BUILD_INFO", "PROCESS", "ADO_REQUESTS", "ADO_THROTTLE_WAIT", "RECORDS", "LISTINGS_SHARED", "QUARANTINED", "UPLOADS", "UPLOAD_SECONDS", "EVENTS", "StoreCollector"]

REGISTRY = CollectorRegistry(auto_describe=True)

# process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, process_start_time_seconds, ...
# (read from /proc at scrape time; nothing on a system without it)
PROCESS = ProcessCollector(registry=REGISTRY)
BUILD_INFO = Gauge("satellite_build_info", "Always 1; the satellite's version and Python version as labels",
                   ["version", "python"], registry=REGISTRY)
BUILD_INFO.labels(version=__version__, python=platform.python_version()).set(1)

ADO_REQUESTS = Counter(
    "satellite_ado_requests", "Requests to Azure DevOps Server by route and status",
    ["collection", "route", "status"], registry=REGISTRY,
)
ADO_THROTTLE_WAIT = Counter(
    "satellite_ado_throttle_wait_seconds", "Seconds spent waiting because the server asked (Retry-After)",
    ["collection"], registry=REGISTRY,
)
# the politeness gate of each server (satellite/politeness): label ``server`` is scheme://host:port
ADO_CONCURRENCY_LIMIT = Gauge("satellite_ado_concurrency_limit", "Requests the satellite allows in flight to a server now"
                              " (adaptive, between limits.min_concurrency and limits.concurrency)", ["server"], registry=REGISTRY)
ADO_BASELINE_LATENCY = Gauge("satellite_ado_baseline_latency_seconds", "The server's unloaded latency as the adaptive"
                             " limit learnt it (lowest of recent answers)", ["server"], registry=REGISTRY)
ADO_THROTTLED = Counter("satellite_ado_throttled_answers", "Answers that asked the satellite to slow down, by signal"
                        " (429, 503, delay: X-RateLimit-Delay, remaining_low: X-RateLimit-Remaining)", ["server", "signal"],
                        registry=REGISTRY)
ADO_WAITS = Counter("satellite_ado_waits", "Requests that waited at the server's gate, by reason (pause: Retry-After or"
                    " X-RateLimit-Delay for the whole server, slot: the concurrency limit, rate: max_requests_per_second)",
                    ["server", "reason"], registry=REGISTRY)
ADO_WAIT_SECONDS = Counter("satellite_ado_wait_seconds", "Seconds requests waited at the server's gate, by reason (as"
                           " satellite_ado_waits)", ["server", "reason"], registry=REGISTRY)
RECORDS = Counter("satellite_records_collected", "Records collected", ["integration", "stream"], registry=REGISTRY)
LISTINGS_SHARED = Counter("satellite_listings_shared", "Parent lists (projects, a project's teams) a job of"
                          " the agent took from another job of the same sweep instead of asking the server", ["stream"],
                          registry=REGISTRY)
QUARANTINED = Counter("satellite_items_quarantined", "Items a stream could not read (skipped, reported; read again at the"
                      " next reconciliation)", ["integration", "stream"], registry=REGISTRY)
UPLOADS = Counter("satellite_uploads", "Upload attempts by outcome (stored, duplicate, retry, dead_letter, refused)",
                  ["outcome"], registry=REGISTRY)
EVENTS = Counter("satellite_events", "Service hook events by integration and outcome (accepted, duplicate, ignored;"
                 " refused: unauthorized, invalid, too_large, queue_full, busy, unknown)", ["integration", "outcome"],
                 registry=REGISTRY)
UPLOAD_SECONDS = Histogram("satellite_upload_seconds", "Duration of one upload attempt by outcome (as satellite_uploads)",
                           ["outcome"], registry=REGISTRY)


class StoreCollector:
    """Outbox and per-stream gauges, read from the store at scrape time."""

    def __init__(self, store) -> None:
        self._store = store

    def collect(self):
        stats = self._store.outbox_stats()
        now = time.time()
        yield GaugeMetricFamily("satellite_outbox_batches", "Batches waiting for delivery", value=stats.batches)
        yield GaugeMetricFamily("satellite_outbox_bytes", "Bytes waiting for delivery", value=stats.bytes)
        yield GaugeMetricFamily("satellite_outbox_oldest_age_seconds", "Age of the oldest waiting batch",
                                value=now - stats.oldest_created_at if stats.oldest_created_at else 0)
        yield GaugeMetricFamily("satellite_dead_letters", "Batches SEI refused for good", value=stats.dead_letters)
        success = GaugeMetricFamily("satellite_stream_last_success_timestamp_seconds", "Last successful run of a stream",
                                    labels=["integration", "stream"])
        failing = GaugeMetricFamily("satellite_stream_failing_partitions", "Partitions whose last run failed",
                                    labels=["integration", "stream"])
        for status in self._store.stream_statuses():
            if status.last_success_at:
                success.add_metric([status.integration_id, status.stream], status.last_success_at)
            failing.add_metric([status.integration_id, status.stream], status.failing_partitions)
        yield success
        yield failing
        skew = current_skew(self._store)  # what SEI's latest heartbeat answer announced
        yield GaugeMetricFamily("satellite_version_behind", "1 when SEI announces a newer satellite version"
                                " (latest_version)", value=int(skew.behind))
        yield GaugeMetricFamily("satellite_version_unsupported", "1 when this satellite is older than the oldest"
                                " version SEI supports (min_supported_version)", value=int(skew.unsupported))
        from satellite.events.health import event_gauges  # the events import the counters above

        yield from event_gauges(self._store)

"""The gate's reports as Prometheus metrics (satellite/metrics.py)."""

from __future__ import annotations

from satellite.metrics import (
    ADO_BASELINE_LATENCY,
    ADO_CONCURRENCY_LIMIT,
    ADO_THROTTLED,
    ADO_WAIT_SECONDS,
    ADO_WAITS,
)

__all__ = ["MetricsObserver"]


class MetricsObserver:
    """A ``GateObserver`` that sets the gauges and counts throttled answers and waits."""

    def limit(self, server: str, limit: int, baseline: float | None) -> None:
        ADO_CONCURRENCY_LIMIT.labels(server).set(limit)
        if baseline is not None:
            ADO_BASELINE_LATENCY.labels(server).set(baseline)

    def throttled(self, server: str, signal: str) -> None:
        ADO_THROTTLED.labels(server, signal).inc()

    def waited(self, server: str, reason: str, seconds: float) -> None:
        ADO_WAITS.labels(server, reason).inc()
        ADO_WAIT_SECONDS.labels(server, reason).inc(seconds)

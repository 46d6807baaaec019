"""The gate's reports as Prometheus metrics (satellite/metrics.py)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from satellite.metrics import (
    ADO_BASELINE_LATENCY,
    ADO_CONCURRENCY_LIMIT,
    ADO_THROTTLED,
    ADO_WAIT_SECONDS,
    ADO_WAITS,
)

__all__ = ["Labelled", "MetricsObserver"]

M = TypeVar("M")


class Labelled(Generic[M]):
    """A metric's labelled children, each looked up once: ``metric.labels(...)`` validates and
    formats its values and takes the metric's lock on every call (every request reports several).
    Thread-safe: two threads missing at once get the same child from the metric."""

    def __init__(self, metric: M) -> None:
        self._metric: Any = metric
        self._children: dict[tuple[str, ...], M] = {}

    def __call__(self, *labels: str) -> M:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._metric.labels(*labels)
        return child


class MetricsObserver:
    """A ``GateObserver`` that sets the gauges and counts throttled answers and waits."""

    def __init__(self) -> None:
        self._limit = Labelled(ADO_CONCURRENCY_LIMIT)
        self._baseline = Labelled(ADO_BASELINE_LATENCY)
        self._throttled = Labelled(ADO_THROTTLED)
        self._waits = Labelled(ADO_WAITS)
        self._wait_seconds = Labelled(ADO_WAIT_SECONDS)

    def limit(self, server: str, limit: int, baseline: float | None) -> None:
        self._limit(server).set(limit)
        if baseline is not None:
            self._baseline(server).set(baseline)

    def throttled(self, server: str, signal: str) -> None:
        self._throttled(server, signal).inc()

    def waited(self, server: str, reason: str, seconds: float) -> None:
        self._waits(server, reason).inc()
        self._wait_seconds(server, reason).inc(seconds)

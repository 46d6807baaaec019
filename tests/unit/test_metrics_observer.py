"""MetricsObserver and Labelled: the cached children are the metric's own."""

from __future__ import annotations

from satellite.metrics import ADO_CONCURRENCY_LIMIT, ADO_WAIT_SECONDS, ADO_WAITS, REGISTRY
from satellite.politeness.observer import Labelled, MetricsObserver


def test_labelled_resolves_each_child_once_and_it_is_the_metrics_own():
    children = Labelled(ADO_WAITS)
    first = children("https://observer.test:443", "slot")
    assert children("https://observer.test:443", "slot") is first
    assert first is ADO_WAITS.labels("https://observer.test:443", "slot")
    assert children("https://observer.test:443", "pause") is not first


def test_the_observer_reports_what_the_registry_exposes():
    server = "https://observer-report.test:443"
    observer = MetricsObserver()
    for _ in range(3):
        observer.waited(server, "slot", 0.5)
    observer.limit(server, 7, None)
    labels = {"server": server, "reason": "slot"}
    assert REGISTRY.get_sample_value("satellite_ado_waits_total", labels) == 3
    assert REGISTRY.get_sample_value("satellite_ado_wait_seconds_total", labels) == 1.5
    assert ADO_CONCURRENCY_LIMIT.labels(server)._value.get() == 7
    assert ADO_WAIT_SECONDS.labels(server, "slot")._value.get() == 1.5

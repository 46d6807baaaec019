"""Version skew (ingest protocol v1.1): the heartbeat carries the satellite's version and batch
formats; SEI's answer may announce min_supported_version and latest_version; status, the status
page and /metrics warn when this satellite is behind or unsupported."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from satellite import __version__
from satellite.agent.http_endpoint import render_page
from satellite.agent.status import read_status, render_status_table
from satellite.delivery.heartbeat import Heartbeat, heartbeat_body
from satellite.metrics import StoreCollector
from satellite.sealing.batch_format import FORMATS, VERSION
from satellite.secret import Secret
from satellite.sei import ApiKeySource, SeiEndpoint
from satellite.version_skew import (
    ANNOUNCEMENT_STATE,
    Announcement,
    announcement_of,
    assess,
    current_skew,
    note_answer,
    parse_version,
)


@pytest.mark.parametrize(("older", "newer"), [
    ("0.1.0", "0.2.0"), ("1.9", "1.10"), ("1.0", "1.0.1"), ("2.0.0rc1", "2.0.0"), ("2.0.0a1", "2.0.0b1"),
    ("2.0.0.dev3", "2.0.0a1"), ("v1.2.3", "1.2.4"), ("1.2.3+build.7", "1.2.4"),
])
def test_versions_compare_as_releases(older, newer):
    assert parse_version(older) < parse_version(newer)


def test_equal_and_unreadable_versions():
    assert parse_version("1.0") == parse_version("1.0.0") == parse_version("1.0.0+local")
    for bad in ("", "latest", "1.x", None, 3, "1" * 80):
        assert parse_version(bad) is None


def test_the_verdict():
    def skew(minimum, latest):
        return assess("1.4.0", Announcement(minimum, latest, 10.0))

    assert not skew("1.0.0", "1.4.0").behind and skew("1.0.0", "1.4.0").warning() is None
    behind = skew("1.0.0", "1.5.0")
    assert behind.behind and not behind.unsupported and behind.warning() == "satellite 1.4.0 is behind: 1.5.0 is available"
    gone = skew("1.5.0", "1.6.0")
    assert gone.unsupported and gone.behind
    assert gone.warning() == "satellite 1.4.0 is no longer supported by SEI (minimum 1.5.0): upgrade to 1.6.0 or later"
    assert assess("1.4.0", None).warning() is None  # a v1.0 answer announces nothing
    assert assess("1.4.0", Announcement("1.5.0", None, 1.0)).unsupported  # either field alone counts


def test_an_answer_without_versions_or_with_malformed_ones_announces_nothing():
    assert announcement_of({"ok": True}, 1.0) is None
    assert announcement_of(None, 1.0) is None and announcement_of(["1.0"], 1.0) is None
    assert announcement_of({"min_supported_version": "soon", "latest_version": 7}, 1.0) is None
    assert announcement_of({"latest_version": "2.0", "min_supported_version": "x"}, 5.0) == Announcement(None, "2.0", 5.0)


def test_the_heartbeat_carries_the_version_and_batch_formats(store):
    class Settings:
        id, tenant = "s", "t"

    body = heartbeat_body(Settings(), store, 0.0)
    assert body["version"] == __version__
    assert body["batch_formats"] == {"writes": VERSION, "reads": sorted(FORMATS)}
    hybrid = SimpleNamespace(id="s", tenant="t", encryption=SimpleNamespace(
        sealing_key=lambda: SimpleNamespace(kem="mlkem768-x25519")))
    written = heartbeat_body(hybrid, store, 0.0)["batch_formats"]["writes"]
    assert written != VERSION and FORMATS[written].header_names_suite  # a hybrid key: the version naming its suite


def _heartbeat(store, answer: httpx.Response) -> Heartbeat:
    class Settings:
        id, tenant = "s", "t"

    return Heartbeat(Settings(), SeiEndpoint("https://sei.example.test"), ApiKeySource.fixed(Secret("k-123456")), store, 0.0,
                     httpx.MockTransport(lambda request: answer))


def test_an_accepted_answer_is_kept_and_the_next_one_replaces_it(store):
    announce = {"ok": True, "min_supported_version": "99.0.0", "latest_version": "99.1.0"}
    with capture_logs() as logs:
        assert _heartbeat(store, httpx.Response(200, json=announce)).send()
        assert _heartbeat(store, httpx.Response(200, json=announce)).send()
    assert [e["event"] for e in logs] == ["satellite_version_unsupported"]  # once per change, not per heartbeat
    skew = current_skew(store)
    assert skew.unsupported and skew.behind and skew.latest_version == "99.1.0" and skew.announced_at
    _heartbeat(store, httpx.Response(200, json={"ok": True})).send()  # a v1.0 receiver: nothing announced
    assert current_skew(store).warning() is None and store.get_state(ANNOUNCEMENT_STATE) is None
    _heartbeat(store, httpx.Response(200, content=b"not json")).send()
    assert current_skew(store).warning() is None


def test_a_refused_heartbeat_changes_nothing(store):
    note_answer(store, httpx.Response(200, json={"latest_version": "99.0"}))
    _heartbeat(store, httpx.Response(503, json={})).send()
    assert current_skew(store).behind


def test_status_page_and_metrics_warn(store):
    assert read_status(store).version.warning() is None
    assert "WARNING" not in render_status_table(read_status(store))
    note_answer(store, httpx.Response(200, json={"latest_version": "99.0.0"}))
    report = read_status(store)
    assert json.loads(report.to_json())["version"] == {
        "version": __version__, "min_supported_version": None, "latest_version": "99.0.0",
        "announced_at": report.version.announced_at, "behind": True, "unsupported": False}
    assert render_status_table(report).splitlines()[-1] == f"WARNING: satellite {__version__} is behind: 99.0.0 is available"
    assert f"<p class='bad version-skew'>satellite {__version__} is behind: 99.0.0 is available</p>" in render_page(report, "s")
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    metrics = generate_latest(registry).decode()
    assert "satellite_version_behind 1.0" in metrics and "satellite_version_unsupported 0.0" in metrics
    note_answer(store, httpx.Response(200, json={"min_supported_version": "99.0.0"}))
    metrics = generate_latest(registry).decode()
    assert "satellite_version_behind 0.0" in metrics and "satellite_version_unsupported 1.0" in metrics
    assert "no longer supported" in render_page(read_status(store), "s")

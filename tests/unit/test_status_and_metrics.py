"""What an operator reads: the status table's lag and cursor columns, the status page's version and
next runs, and /metrics' build info and process metrics."""

from __future__ import annotations

import platform
import re
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
from apscheduler.schedulers.background import BackgroundScheduler

from satellite import __version__
from satellite.agent.http_endpoint import HttpEndpoint, render_page
from satellite.agent.service import Agent
from satellite.agent.status import read_status, render_status_table
from satellite.store import CursorKey

CURSOR = "2026-12-04T20:15:00Z|refs/heads/main@0123456789abcdef0123456789abcdef"


def _stream(store, stream: str, cursor: str | None) -> None:
    key = CursorKey("tfs-main", stream, "DefaultCollection/p1")
    if cursor:
        store.save_cursor(key, cursor)
    store.record_outcome(key, records=12, batches=1)


def test_status_table_has_lag_and_cursor_columns(store):
    _stream(store, "git.commits", CURSOR)
    _stream(store, "core.projects", None)
    table = render_status_table(read_status(store)).splitlines()
    header = table[0].split()
    assert header[:7] == ["integration", "stream", "parts", "last", "success", "lag", "cursor"]
    commits = next(line for line in table if "git.commits" in line)
    projects = next(line for line in table if "core.projects" in line)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\dZ  +\d+s  +2026-12-04T20:15:00Z\|refs/heads…  +12", commits), commits
    assert re.search(r"Z  +\d+s  +-  +12", projects), projects  # no cursor yet: a dash
    # the lag column sits under its header
    assert commits[table[0].index("lag")].isdigit()


def test_status_page_shows_the_version_and_each_integrations_next_run(store):
    _stream(store, "git.commits", CURSOR)
    report = read_status(store)
    page = render_page(report, "corp-dc1", {"tfs-main": report.generated_at + 300, "tfs-legacy": None,
                                            "tfs-due": report.generated_at - 1})
    assert f"satellite {__version__}" in page and f"Python {platform.python_version()}" in page
    rows = dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", page))
    assert rows["tfs-main"].endswith("(in 5.0m)") and rows["tfs-legacy"] == "not scheduled" and rows["tfs-due"] == "due now"


def test_the_agents_next_run_is_the_earliest_collection_job_of_each_integration():
    integrations = [SimpleNamespace(id="tfs-main", services=("repos", "boards")), SimpleNamespace(id="idle", services=("repos",))]
    agent = Agent(SimpleNamespace(integrations=integrations))
    assert agent.next_runs() == {"tfs-main": None, "idle": None}  # before the scheduler runs
    scheduler = BackgroundScheduler(timezone=UTC)
    soon = datetime.now(UTC) + timedelta(minutes=3)
    for group, at in (("core", soon + timedelta(minutes=1)), ("repos", soon), ("boards", soon + timedelta(minutes=9))):
        scheduler.add_job(print, "interval", id=f"tfs-main:{group}", minutes=10, next_run_time=at)
    scheduler.add_job(print, "interval", id="tfs-main:reconcile", minutes=1, next_run_time=soon - timedelta(minutes=2))
    scheduler.start(paused=True)
    try:
        agent._scheduler = scheduler
        assert agent.next_runs() == {"tfs-main": soon.timestamp(), "idle": None}  # reconciliations are not collection runs
    finally:
        scheduler.shutdown(wait=False)


def test_metrics_carry_build_info_and_the_process_collector(store):
    _stream(store, "git.commits", CURSOR)
    due = time.time() + 600
    endpoint = HttpEndpoint("127.0.0.1:0", store, "corp-dc1", lambda: (True, []), next_runs=lambda: {"tfs-main": due}).start()
    try:
        metrics = httpx.get(f"{endpoint.url}/metrics", timeout=5).text
        page = httpx.get(f"{endpoint.url}/", timeout=5).text
    finally:
        endpoint.stop()
    assert f'satellite_build_info{{python="{platform.python_version()}",version="{__version__}"}} 1.0' in metrics
    values = dict(re.findall(r"^(process_[a-z_]+) (\S+)$", metrics, flags=re.MULTILINE))
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"):
        assert float(values[name]) > 0, name
    assert abs(float(values["process_start_time_seconds"]) - time.time()) < 24 * 3600
    assert "satellite_outbox_batches" in metrics  # the store's gauges are still there
    assert f"satellite {__version__}" in page and "tfs-main" in page and "(in 10.0m)" in page

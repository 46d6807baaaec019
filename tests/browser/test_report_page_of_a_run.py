"""The HTML page of a real run in headless Chromium: a small simulated world synced by the
satellite into the receiver, then ``satellite receiver report --json --html FILE`` over the
receiver's data dir (the command a user runs), the page opened, checked and screenshotted."""

from __future__ import annotations

import json

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.sync.once import sync_once
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import generate_world
from tests.browser.samples import DEPLOYMENT_METRICS
from tests.browser.test_report_page import check, inspect
from tests.support import run_cli, start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)


@pytest.mark.parametrize("profile", ["2019", "7.1"])
def test_report_page_of_a_synced_world(browser, artifact, tmp_path, receiver, key_files, env, profile):
    world = generate_world(seed=7, scale="tiny")
    with start_simulator(world, profile) as simulator:
        config = load_config(write_config(tmp_path / "satellite", ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors
    page = artifact(f"report_run_{profile}.html")
    done = run_cli("receiver", "report", "--data-dir", str(tmp_path / "receiver"), "--json", "--html", str(page))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    shown = inspect(browser, page, artifact(f"report_run_{profile}.png"))
    check(shown, report)
    assert report["server"]["api_versions"] == [PROFILES[profile].max_version]
    if profile == "2019":  # no YAML environments: said so where deployments are shown, never a silent zero
        assert all("not available on this server version" in (report["metrics"][mid]["reason"] or "")
                   for mid in DEPLOYMENT_METRICS), {mid: report["metrics"][mid]["reason"] for mid in DEPLOYMENT_METRICS}
    with_data = [mid for mid, m in report["metrics"].items() if m["available"] and m["summary"]["count"]]
    assert len(with_data) >= 10, f"a world worth drawing: {with_data}"

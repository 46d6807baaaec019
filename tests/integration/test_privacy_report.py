"""Issue 16, "Done when" 2: with the three privacy presets on, the receiver's report computes the same values
as without them. Pseudonyms and tokens are stable, ids and times stay, and an environment's ``isProduction``
stands in for its name: every join of docs/metrics.md still holds.

Two receivers get the same world (same seed, each on the simulator's clock, so freshness is measured alike)
through a backfill, six hours of server activity and an incremental sync, one with the presets and one
without, at server profiles 2022 and 2019. Every metric must agree in its summary (count, p50, p90, value), weekly figures, counts, skipped
records and availability; its groups' figures must agree as multisets, their names being tokens under the
presets (``n_...``) where they are names of pipelines, repositories, projects or environments.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from standins.sei_receiver import ReceiverStorage, create_receiver_app
from standins.sei_receiver.report import METRIC_IDS, build_report
from standins.sei_receiver.report.deployments import is_production_environment
from tests.support import API_KEY, API_KEY_ENV, Receiver, receiver_keys, start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
PRESETS = "privacy:\n  presets: [strip_text, pseudonymize_people, redact_names_and_urls]\n"
# the report of the seed-gaps issue: these must have samples for the comparison to mean something
MUST_HAVE_SAMPLES = ("lead_time", "deployment_frequency", "change_failure_rate", "pr_total", "work_item_cycle_time",
                     "pipeline_duration", "job_duration")
NAMED_GROUPS = ("pipeline_duration", "job_duration", "deployment_frequency", "lead_time", "pr_total")


def report(directory: Path, key_files, *, presets: bool, profile: str = "2022") -> dict:
    """``build_report(...).to_json()["metrics"]`` after two syncs of the seed-11 tiny world."""
    world = generate_world(seed=11, scale="tiny")
    storage = ReceiverStorage(directory / "receiver", clock=lambda: float(world.clock))
    receiver = Receiver(storage, serve_in_thread(create_receiver_app(storage, receiver_keys(key_files))))
    try:
        with start_simulator(world, profile) as simulator:
            path = write_config(directory / "satellite", ado_url=simulator.collection_url, endpoint=receiver.url,
                                key_files=key_files)
            if presets:
                path.write_text(path.read_text() + PRESETS)
            config = load_config(path, env={API_KEY_ENV: API_KEY})
            assert sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY).ok
            world.advance(6)
            second = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
            assert second.ok, second.errors
        return build_report(storage).to_json()["metrics"]
    finally:
        receiver.close()


def figures(group: dict) -> tuple:
    """A group without its name."""
    return group["count"], group["p50"], group["p90"], tuple(sorted(group["counts"].items()))


@pytest.fixture(scope="module", params=["2022", "2019"])
def reports(request, tmp_path_factory) -> dict[bool, dict]:
    """presets on -> the report's metrics, at server profile 2022 (YAML environments and classic releases) and
    2019 (classic releases only)."""
    from satellite.sealing.keys import generate_key_files

    tmp = tmp_path_factory.mktemp(f"privacy-report-{request.param}")
    key_files = generate_key_files(tmp / "keys")
    return {presets: report(tmp / ("on" if presets else "off"), key_files, presets=presets, profile=request.param)
            for presets in (False, True)}


def test_the_presets_shape_what_the_report_reads(reports):
    """The comparison means something: the groups' names are tokens under the presets, and names without."""
    for metric_id in NAMED_GROUPS:
        plain = {g["name"] for g in reports[False][metric_id]["groups"]}
        shaped = {g["name"] for g in reports[True][metric_id]["groups"]}
        assert plain and not plain & shaped, (metric_id, plain, shaped)
        assert all("n_" in name for name in shaped), (metric_id, shaped)


def test_with_the_presets_on_the_report_computes_the_same_values(reports):
    plain, shaped = reports[False], reports[True]
    assert list(plain) == list(shaped) == list(METRIC_IDS)
    for metric_id in MUST_HAVE_SAMPLES:
        assert plain[metric_id]["summary"]["count"] > 0, metric_id
    for metric_id in METRIC_IDS:
        a, b = plain[metric_id], shaped[metric_id]
        for part in ("unit", "available", "reason", "summary", "weekly", "counts", "skipped"):
            assert a[part] == b[part], (metric_id, part, a[part], b[part])
        assert Counter(map(figures, a["groups"])) == Counter(map(figures, b["groups"])), metric_id


def test_an_environment_is_production_by_its_flag_where_the_policy_set_one():
    assert is_production_environment({"name": "n_0123456789abcdef0123", "isProduction": True})
    assert not is_production_environment({"name": "Production", "isProduction": False})
    assert is_production_environment({"name": "Prod-EU"}) and not is_production_environment({"name": "Staging"})
    assert is_production_environment({"name": "prod", "isProduction": "yes"})  # not a boolean: the name decides
    assert not is_production_environment(None)

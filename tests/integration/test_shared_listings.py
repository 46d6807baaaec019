"""The agent's jobs of one sweep (one collector per service group) read the projects and each project's
teams once between them (satellite/sync/listings.py), against the simulator over HTTP."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.sealing.sealer import Sealer
from satellite.store import Store
from satellite.sync.collector import CollectionReport, Collector
from satellite.sync.listings import SharedListings
from standins.ado_simulator.world.world import generate_world
from tests.support import start_simulator, write_config

FAST_RETRY = RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05)
GROUPS = ("core", "repos", "pipelines", "boards")
TEAMS = re.compile(r"/_apis/projects/[^/]+/teams$")
PROJECTS = re.compile(r"/_apis/projects$")


def sweep(tmp_path, key_files, env, simulator, listings: SharedListings | None, *, side_by_side: bool) -> tuple[dict[str, int], dict]:
    """One collector per service group, as ``satellite run``'s jobs; (requests by list, records by stream)."""
    config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint="http://127.0.0.1:9/",
                                      key_files=key_files, services=GROUPS[1:]), env=env)
    integration = config.integrations[0]
    store = Store(config.satellite.data_dir)
    sealer = Sealer.from_settings(config.satellite)
    httpx.delete(f"{simulator.url}/_sim/requests").raise_for_status()

    def job(group: str) -> CollectionReport:
        report = CollectionReport()
        Collector(integration, config.limits, store, sealer, retry=FAST_RETRY, services=(group,), listings=listings).run(report)
        assert not report.errors, report.errors
        return report

    try:
        if side_by_side:
            with ThreadPoolExecutor(len(GROUPS)) as pool:
                reports = list(pool.map(job, GROUPS))
        else:
            reports = [job(group) for group in GROUPS]
    finally:
        store.close()
    paths = [r["path"] for r in httpx.get(f"{simulator.url}/_sim/requests").json()["requests"] if r["method"] == "GET"]
    records: dict[str, int] = {}
    for report in reports:
        for stream, n in report.counts_by_stream().items():
            records[stream] = records.get(stream, 0) + n
    return {"teams": sum(bool(TEAMS.search(p)) for p in paths), "projects": sum(bool(PROJECTS.search(p)) for p in paths)}, records


@pytest.mark.parametrize("side_by_side", [False, True], ids=["in-turn", "side-by-side"])
def test_the_jobs_of_a_sweep_list_the_projects_and_each_projects_teams_once(tmp_path, key_files, env, side_by_side):
    world = generate_world(seed=5, scale="tiny")
    projects = len(world.truth()["core.project"])
    with start_simulator(world) as simulator:
        alone, alone_records = sweep(tmp_path / "alone", key_files, env, simulator, None, side_by_side=side_by_side)
        shared, shared_records = sweep(tmp_path / "shared", key_files, env, simulator, SharedListings(max_age=150),
                                       side_by_side=side_by_side)
    # without sharing: the projects by every job, the teams by the core job (delivered) and the boards job
    # (its sprints); each list its pages (a $top/$skip list ends on a short page)
    assert alone["teams"] >= 2 * projects and alone["projects"] >= len(GROUPS), alone
    assert shared == {"teams": alone["teams"] // 2, "projects": alone["projects"] // len(GROUPS)}, (shared, alone)
    assert shared_records == alone_records  # the same records, from the same lists
    assert shared_records["work.team_iterations"] > 0 and shared_records["core.teams"] > 0

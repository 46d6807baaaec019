"""Bodies with fields beyond the spec: the satellite reads past them and still mirrors the server.

The simulator's ``example_fields`` (what Microsoft's example responses show per route) and
``extra_fields`` (random unknown fields at random depths) are on here; the strict spec-fidelity test
runs with both off.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.sync.once import sync_once
from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from tests.simulator_samples import load_samples, split_sample
from tests.support import PAT, Simulator, assert_mirrors_truth, write_config

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
SPECS = REPO_ROOT.parent / "shared" / "ado-rest-specs"
FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)


def simulator_app(world, profile: str, **options):
    return create_app(world, profile, {PAT: frozenset({"full"})}, **options)


def start(world, profile: str, **options) -> Simulator:
    app = simulator_app(world, profile, **options)
    return Simulator(world, app, app, serve_in_thread(app))


def deployments(app, project_id: str, version: str) -> dict:
    """The release deployments of a project as ``app`` answers them (one origin for every app compared)."""
    authorization = "Basic " + base64.b64encode(f":{PAT}".encode()).decode()
    response = app.handle("GET", f"/tfs/DefaultCollection/{project_id}/_apis/release/deployments",
                          f"api-version={version}".encode(), {"authorization": authorization}, "http://ado.example:8080")
    assert response.status == 200, response.body
    return json.loads(response.body)


def holds(outer: Any, inner: Any) -> bool:
    """Whether ``outer`` is ``inner`` with properties added only (none changed or removed)."""
    if isinstance(inner, dict):
        return isinstance(outer, dict) and all(k in outer and holds(outer[k], v) for k, v in inner.items())
    if isinstance(inner, list):
        return isinstance(outer, list) and len(outer) == len(inner) and all(map(holds, outer, inner))
    return outer == inner


@pytest.mark.skipif(not (SPECS / "git").is_dir(), reason="Microsoft's specs (../shared/ado-rest-specs) are not here")
def test_the_committed_example_fields_are_current():
    done = subprocess.run([sys.executable, "scripts/extract_example_fields.py", "--check", "--specs", str(SPECS)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bodies_carry_the_examples_fields_and_random_ones_only_when_asked():
    world = generate_world(seed=11, scale="tiny")
    project = world.projects[0].id
    bare = deployments(simulator_app(world, "2022"), project, "7.0")
    rich_app = simulator_app(world, "2022", example_fields=True, extra_fields=3)
    rich = deployments(rich_app, project, "7.0")
    assert bare["value"] and all("webAccessUri" not in d["release"] for d in bare["value"])
    assert rich == deployments(rich_app, project, "7.0")  # seeded: the same request, the same body
    assert holds(rich, bare) and set(rich) > set(bare)  # the server's fields kept; random ones in the envelope too
    assert all(d["release"]["webAccessUri"] and d["release"]["url"] for d in rich["value"])  # the examples' fields
    assert not holds(bare, rich)


@pytest.mark.parametrize("profile", ["2019", "2022"])
def test_backfill_with_fields_beyond_the_spec_delivers_the_ground_truth(tmp_path, receiver, key_files, env, profile):
    world = generate_world(seed=11, scale="tiny")
    with start(world, profile, example_fields=True, extra_fields=7) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors
    assert_mirrors_truth(receiver, world, profile)
    beat = receiver.stats()["satellites"]["test-satellite"]
    assert all(s["last_error"] is None and s["last_success_at"] for s in beat["streams"])


@pytest.mark.parametrize("profile", ["2019", "2020", "2022", "7.1"])
def test_every_sample_body_keeps_the_servers_fields_with_both_switches_on(profile):
    world = generate_world(seed=7, scale="tiny")
    apps = [simulator_app(world, profile), simulator_app(world, profile, example_fields=True),
            simulator_app(world, profile, example_fields=True, extra_fields=1)]
    authorization = {"authorization": "Basic " + base64.b64encode(f":{PAT}".encode()).decode()}
    version = PROFILES[profile].max_version
    checked = with_examples = 0
    for _, factories in sorted(load_samples().items()):
        for sample in (s for factory in factories for s in factory(world)):
            method, path, server_level, query, _ = split_sample(sample)
            if method != "GET":
                continue
            url = ("/tfs/" if server_level else f"/tfs/{world.collection.name}/") + path
            raw = urlencode({**query, "api-version": f"{version}-preview"}).encode()
            bare, examples, both = (app.handle(method, url, raw, authorization, "http://ado.example:8080") for app in apps)
            assert (both.status, both.content_type) == (examples.status, examples.content_type) == (bare.status, bare.content_type)
            if bare.content_type.startswith("application/json"):
                plain, more, most = (json.loads(r.body) for r in (bare, examples, both))
                assert holds(more, plain) and holds(most, more) and most != more, url
                checked += bare.status == 200
                with_examples += more != plain
    assert checked > 50 and with_examples >= 8

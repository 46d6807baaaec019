"""Version skew end to end: a receiver announcing min_supported_version / latest_version in its
heartbeat answers; after ``satellite sync`` the satellite's status, status page and metrics warn;
a receiver that announces nothing (v1.0) takes the warning away and delivery goes on."""

from __future__ import annotations

import json

import httpx
import pytest

from satellite import __version__
from satellite.agent.http_endpoint import HttpEndpoint
from satellite.store import Store
from tests.support import (
    MiB,
    Receiver,
    receiver_keys,
    run_cli,
    start_simulator,
    write_config,
)

pytestmark = pytest.mark.integration


def start_announcing_receiver(directory, key_files, announce: dict[str, str]) -> Receiver:
    from standins.loopback import serve_in_thread
    from standins.sei_receiver import ReceiverStorage, create_receiver_app

    storage = ReceiverStorage(directory)
    app = create_receiver_app(storage, receiver_keys(key_files), max_batch_bytes=8 * MiB, announce=announce)
    return Receiver(storage, serve_in_thread(app), served=app)


def test_status_page_and_metrics_warn_when_sei_announces_a_newer_minimum(tmp_path, key_files):
    from standins.ado_simulator.world.world import generate_world

    world = generate_world(seed=5, scale="tiny")
    announcing = start_announcing_receiver(tmp_path / "receiver", key_files,
                                           {"min_supported_version": "99.0.0", "latest_version": "99.2.0"})
    try:
        with start_simulator(world) as simulator:
            config = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=announcing.url, key_files=key_files)
            synced = run_cli("sync", "-c", str(config), timeout=120)
            assert synced.returncode == 0, synced.stderr
            heartbeat = announcing.stats()["satellites"]["test-satellite"]
            assert heartbeat["version"] == __version__ and heartbeat["batch_formats"]["writes"] >= 1
            table = run_cli("status", "-c", str(config))
            as_json = run_cli("status", "-c", str(config), "--json")
            store = Store(tmp_path / "data")
            endpoint = HttpEndpoint("127.0.0.1:0", store, "test-satellite", lambda: (True, [])).start()
            try:
                page = httpx.get(f"{endpoint.url}/", timeout=10).text
                metrics = httpx.get(f"{endpoint.url}/metrics", timeout=10).text
            finally:
                endpoint.stop()
                store.close()
    finally:
        announcing.close()
    warning = f"satellite {__version__} is no longer supported by SEI (minimum 99.0.0): upgrade to 99.2.0 or later"
    assert f"WARNING: {warning}" in table.stdout, table.stdout + table.stderr
    version = json.loads(as_json.stdout)["version"]
    assert version["unsupported"] and version["behind"] and version["latest_version"] == "99.2.0"
    assert warning in page
    assert "satellite_version_unsupported 1.0" in metrics and "satellite_version_behind 1.0" in metrics
    assert any(json.loads(line).get("event") == "satellite_version_unsupported"
               for line in synced.stdout.splitlines() if line.startswith("{"))

    # the same satellite and data dir against a receiver that announces nothing (v1.0): delivery
    # goes on, the warning goes away
    plain = start_announcing_receiver(tmp_path / "receiver-v10", key_files, {})
    try:
        with start_simulator(world) as simulator:
            config = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=plain.url, key_files=key_files)
            synced_again = run_cli("sync", "-c", str(config), timeout=120)
        assert synced_again.returncode == 0, synced_again.stderr
        assert "test-satellite" in plain.stats()["satellites"]
    finally:
        plain.close()
    table_after = run_cli("status", "-c", str(config))
    assert table_after.returncode == 0 and "WARNING" not in table_after.stdout
    version = json.loads(run_cli("status", "-c", str(config), "--json").stdout)["version"]
    assert version["behind"] is False and version["unsupported"] is False and version["latest_version"] is None


def test_the_receiver_command_announces_what_its_flags_say(tmp_path, key_files):
    import os
    import subprocess
    import sys

    from tests.support import API_KEY

    process = subprocess.Popen(
        [sys.executable, "-m", "satellite", "receiver", "--port", "0", "--data-dir", str(tmp_path / "r"),
         "--recipient-key", str(key_files.recipient_private), "--satellite-key", str(key_files.signing_public),
         "--min-supported-version", "1.2.0", "--latest-version", "1.5.0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "SEI_RECEIVER_API_KEY": API_KEY})
    try:
        line = process.stdout.readline()
        assert line.startswith("receiver: listening on "), line + process.stderr.read()
        url = line.rsplit(" ", 1)[1].strip()
        answer = httpx.post(f"{url}/v1/satellite/heartbeat", json={"satellite_id": "s"},
                            headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    assert answer.status_code == 200
    assert answer.json()["min_supported_version"] == "1.2.0" and answer.json()["latest_version"] == "1.5.0"

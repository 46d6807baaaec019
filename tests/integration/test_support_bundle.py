"""``satellite support-bundle`` on a real data dir, after a sync against the simulator and the
receiver: every part is there and the archive holds no secret (canaries scanned in the .tar.gz, in
the tar after gunzip, and in every member)."""

from __future__ import annotations

import gzip
import json

import pytest
import yaml

from satellite.support.archive import unpack
from tests.support import (
    API_KEY,
    API_KEY_ENV,
    PAT,
    run_cli,
    start_simulator,
    write_config,
)

pytestmark = pytest.mark.integration

PRIVACY_CANARY = "CANARY-PRIVACY-bundle-0123456789abcdef0123456789"


def test_the_bundle_of_a_synced_satellite_has_every_part_and_no_secret(tmp_path, receiver, key_files):
    from standins.ado_simulator.world.world import generate_world

    world = generate_world(seed=5, scale="tiny")
    with start_simulator(world) as simulator:
        config = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
        config.write_text(config.read_text() + f"privacy:\n  secret: ${{env:BUNDLE_PRIVACY:-{PRIVACY_CANARY}}}\n"
                          "log:\n  file: logs/satellite.log\n  max_bytes: 64KiB\n  backups: 3\n")
        synced = run_cli("sync", "-c", str(config), timeout=120)
        assert synced.returncode == 0, synced.stderr
        out = tmp_path / "bundle.tar.gz"
        made = run_cli("support-bundle", "-c", str(config), "--out", str(out), "--log-lines", "50")
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"support bundle: {out}" in made.stdout and oct(out.stat().st_mode & 0o777) == "0o600"

    archive = out.read_bytes()
    tar = gzip.decompress(archive)
    members = {name.split("/", 1)[1]: data for name, data in unpack(archive).items()}
    pem = key_files.signing_private.read_text()
    canaries = [PAT, API_KEY, PRIVACY_CANARY, pem.strip(),
                *(line for line in pem.splitlines() if line and not line.startswith("-----"))]
    for canary in canaries:
        assert canary.encode() not in archive and canary.encode() not in tar
        for name, data in members.items():
            assert canary.encode() not in data, f"a secret in {name}"
    assert PAT not in made.stdout + made.stderr and API_KEY not in made.stdout + made.stderr

    manifest = json.loads(members["manifest.json"])
    assert manifest["errors"] == {} and manifest["satellite_id"] == "test-satellite"
    shown = yaml.safe_load(members["config.yaml"])
    assert shown["satellite"]["api_key"] == f"${{env:{API_KEY_ENV}}}"
    assert shown["integrations"][0]["pat"] == "${file:secrets/pat}"
    assert shown["satellite"]["encryption"]["signing_private_key"] == f"${{file:{key_files.signing_private}}}"
    assert shown["privacy"]["secret"] == "${env:BUNDLE_PRIVACY:-***}"

    versions = json.loads(members["versions.json"])
    assert versions["servers_detected"]["tfs-main"]["api_version"]
    assert versions["batch_formats"]["writes"] >= 1 and versions["dependencies"]["httpx"]
    checks = json.loads(members["check.json"])
    assert {c["integration"] for c in checks} == {"tfs-main", "SEI endpoint"}, checks
    assert [c for c in checks if c["status"] == "fail"] == [], checks
    status = json.loads(members["status.json"])
    assert {s["stream"] for s in status["streams"]} >= {"git.commits"} and status["outbox_batches"] == 0
    outbox = json.loads(members["outbox.json"])
    assert outbox["outbox"]["batches"] == 0 and outbox["dead_letters"] == [] and outbox["batches"] == []
    integrity = json.loads(members["store-integrity.json"])
    assert integrity["ok"] is True and integrity["check"] == "integrity_check" and integrity["result"] == ["ok"]
    assert b"satellite_stream_last_success_timestamp_seconds{" in members["metrics.txt"]
    tail = [json.loads(line) for line in members["log-tail.txt"].decode().splitlines()]
    assert 0 < len(tail) <= 50 and tail[-1]["event"] == "sync_finished"


def start_announcing_receiver(directory, key_files, announce: dict[str, str]):
    from standins.loopback import serve_in_thread
    from standins.sei_receiver import ReceiverStorage, create_receiver_app
    from tests.support import MiB, Receiver, receiver_keys

    storage = ReceiverStorage(directory)
    app = create_receiver_app(storage, receiver_keys(key_files), max_batch_bytes=8 * MiB, announce=announce)
    return Receiver(storage, serve_in_thread(app), served=app)


def test_beside_a_running_agent_whose_page_and_metrics_warn_of_a_newer_version(tmp_path, key_files, env):
    import httpx

    from standins.ado_simulator.world.world import generate_world
    from tests.integration.test_agent import AgentProcess, agent_config
    from tests.support import wait_until

    world = generate_world(seed=9, scale="tiny")
    receiver = start_announcing_receiver(tmp_path / "receiver", key_files, {"latest_version": "99.0.0"})
    try:
        with start_simulator(world) as simulator:
            config = agent_config(tmp_path, simulator.url, receiver.url, key_files)
            config.write_text(config.read_text() + "log:\n  file: agent-logs/satellite.log\n")
            agent = AgentProcess(config, env, tmp_path / "agent.log")
            try:
                url = agent.url()
                def warned() -> str | None:
                    text = httpx.get(f"{url}/metrics", timeout=10).text
                    return text if "satellite_version_behind 1.0" in text else None

                metrics = wait_until(warned, 30, "the heartbeat's announcement")
                assert "satellite_version_unsupported 0.0" in metrics
                assert "is behind: 99.0.0 is available" in httpx.get(f"{url}/", timeout=10).text
                wait_until(lambda: any(e["event"] == "job_finished" for e in agent.events()), 60, "a collection job")
                out = tmp_path / "beside.tar.gz"
                made = run_cli("support-bundle", "-c", str(config), "--out", str(out), "--quick")
            finally:
                code = agent.stop()
    finally:
        receiver.close()
    assert code == 0 and made.returncode == 0, made.stdout + made.stderr
    archive = out.read_bytes()
    for canary in (PAT, API_KEY, key_files.signing_private.read_text().splitlines()[1]):
        assert canary.encode() not in archive and canary.encode() not in gzip.decompress(archive)
    members = {name.split("/", 1)[1]: data for name, data in unpack(archive).items()}
    assert json.loads(members["manifest.json"])["errors"] == {}
    integrity = json.loads(members["store-integrity.json"])
    assert integrity["ok"] is True and integrity["check"] == "quick_check"
    assert b"satellite_version_behind 1.0" in members["metrics.txt"]
    assert json.loads(members["versions.json"])["sei_announcement"]["latest_version"] == "99.0.0"
    events = [json.loads(line)["event"] for line in members["log-tail.txt"].decode().splitlines()]
    assert "agent_started" in events and "satellite_version_behind" in events
    for data in members.values():
        assert PAT.encode() not in data and API_KEY.encode() not in data

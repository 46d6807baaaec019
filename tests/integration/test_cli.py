"""The ``satellite`` command as a user runs it: a real subprocess, real exit codes, real output."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CANARY = "CANARY-CLI-PAT-5566778899"


def satellite(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "satellite", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def test_demo_prints_a_matching_table_and_exits_zero():
    result = satellite("demo", "--scale", "tiny")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    from satellite.streams import RECORD_TYPES

    rows = [line.split() for line in lines if line.split() and line.split()[0] in RECORD_TYPES]
    assert {row[0] for row in rows} == RECORD_TYPES
    for row in rows:
        assert row[1] == row[2] == row[3] and row[4] == "ok" and int(row[1]) > 0
    assert "demo: every count matches" in result.stdout
    from standins.demo_metrics import ALSO, GAPS

    for gap, _ in GAPS + ALSO:  # the hosted product's gaps, each figure checked against the simulator's truth
        line = next(line for line in lines if line.strip().startswith(gap))
        assert line.rstrip().endswith("= truth"), line
    assert "demo: every metric matches the simulator's ground truth" in result.stdout


def test_config_validate_lists_every_problem_with_file_line_and_path(tmp_path):
    config = tmp_path / "broken.yml"
    config.write_text(
        "satellite:\n"
        "  id: ok-id\n"
        "  tenant: acme\n"
        "  endpoint: ftp://not-http\n"
        f"  api_key: {CANARY}\n"
        "  data_dir: ./data\n"
        "integrations:\n"
        "  - id: tfs\n"
        "    url: https://tfs.example/tfs/DefaultCollection\n"
        f"    pat: {CANARY}\n"
        "    services: [repos, wiki]\n"
        "limits:\n"
        "  concurrency: many\n"
    )
    result = satellite("config", "validate", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and CANARY not in result.stderr + result.stdout
    problems = [line for line in result.stderr.splitlines() if line.startswith(str(config))]
    located = {(line.split(" ", 1)[0].rsplit(":", 1)[1], line.split(" ", 2)[1].rstrip(":")) for line in problems}
    assert ("4", "satellite.endpoint") in located
    assert ("13", "limits.concurrency") in located
    assert any(path.startswith("integrations[0].services") for _, path in located)
    assert any(path == "satellite.encryption" for _, path in located)  # missing section, reported at its parent's line
    assert len(problems) >= 4


def test_config_validate_missing_file_is_exit_2_without_traceback(tmp_path):
    result = satellite("config", "validate", str(tmp_path / "nope.yml"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "nope.yml" in result.stderr


def test_config_schema_is_json_schema():
    result = satellite("config", "schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object" and {"satellite", "integrations"} <= set(schema["properties"])


def test_keys_generate_writes_private_keys_0600(tmp_path):
    result = satellite("keys", "generate", "--out", str(tmp_path / "k"))
    assert result.returncode == 0, result.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "k").iterdir()}
    assert modes["sei-recipient.key"] == modes["satellite-signing.key"] == 0o600
    assert "recipient key id:" in result.stdout
    assert satellite("keys", "generate", "--out", str(tmp_path / "k")).returncode == 2  # never overwrites silently


def test_sync_once_delivers_exits_zero_and_no_secret_reaches_output_or_disk(tmp_path, receiver, key_files, env):
    from standins.ado_simulator.world.world import generate_world

    from tests.support import API_KEY, PAT, start_simulator, write_config

    world = generate_world(seed=5, scale="tiny")
    with start_simulator(world) as simulator:
        config = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
        first = satellite("--log-level", "debug", "sync", "--once", "-c", str(config), env=env)
        second = satellite("--log-level", "debug", "sync", "--once", "-c", str(config), env=env)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "0 record(s) collected" in second.stdout
    output = first.stdout + first.stderr + second.stdout + second.stderr
    log_lines = [json.loads(line) for line in first.stdout.splitlines() if line.startswith("{")]
    assert any(line["event"] == "sync_finished" for line in log_lines)  # JSON lines when stdout is not a terminal
    for secret in (PAT, API_KEY, key_files.signing_private.read_text().splitlines()[1]):
        assert secret not in output
        for file in (tmp_path / "data").rglob("*"):
            if file.is_file():
                assert secret.encode() not in file.read_bytes(), file
    assert sorted(receiver.keys_of("git.commit")) == sorted(world.truth()["git.commit"])


def test_simulator_serves_and_advances_from_the_command_line():
    server = subprocess.Popen([sys.executable, "-m", "satellite", "simulator", "--scale", "tiny", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # blocks until the server is listening
        assert line.startswith("simulator: profile 2022, scale tiny, collection http://127.0.0.1:"), line
        url = line.rsplit("collection ", 1)[1].strip().rsplit("/tfs/", 1)[0]
        before = satellite("simulator", "truth", "--url", url)
        advanced = satellite("simulator", "advance", "--url", url, "--steps", "3")
        after = satellite("simulator", "truth", "--url", url)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()
        server.stderr.close()
    assert before.returncode == advanced.returncode == after.returncode == 0, advanced.stderr
    counts = lambda text: {line.split()[0]: int(line.split()[1]) for line in text.splitlines()}
    created = counts(advanced.stdout)
    assert created["commits"] > 0
    assert counts(after.stdout)["git.commit"] == counts(before.stdout)["git.commit"] + created["commits"]


@pytest.mark.parametrize("as_directory", [False, True])
def test_receiver_starts_from_the_command_line_with_key_files(tmp_path, key_files, as_directory):
    """``satellite receiver --satellite-key FILE|DIR`` loads the keys and listens (it used to crash on a FILE)."""
    import httpx

    satellite_key = key_files.signing_public
    if as_directory:  # a directory of registered satellites' keys
        satellite_key = tmp_path / "satellites"
        satellite_key.mkdir()
        (satellite_key / "one.pub").write_bytes(key_files.signing_public.read_bytes())
    api_key = tmp_path / "api_key"
    api_key.write_text("CANARY-RECEIVER-KEY-123\n")
    server = subprocess.Popen(
        [sys.executable, "-m", "satellite", "receiver", "--port", "0", "--data-dir", str(tmp_path / "data"),
         "--api-key-file", str(api_key), "--recipient-key", str(key_files.recipient_private),
         "--satellite-key", str(satellite_key)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()  # blocks until the server is listening (or it exited)
        assert line.startswith("receiver: listening on http://127.0.0.1:"), (line, server.wait(timeout=30), server.stderr.read())
        url = line.rsplit(" ", 1)[1].strip()
        assert httpx.get(f"{url}/v1/satellite/stats", headers={"Authorization": "Bearer CANARY-RECEIVER-KEY-123"}).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()
        server.stderr.close()

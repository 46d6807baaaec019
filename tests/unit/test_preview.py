"""``satellite preview``: a bounded sample of what would be sealed, read from the simulator on
loopback, with nothing written to the data dir (no store, cursor, outbox, lock)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from satellite.config import load_config
from satellite.sealing.batch_format import ndjson_line
from satellite.store import Store
from satellite.streams import STREAMS
from satellite.sync.preview_command import (
    enabled_streams,
    preview,
    run_preview,
    select,
    write_samples,
)
from standins.ado_simulator.world.world import generate_world
from tests.support import API_KEY, API_KEY_ENV, run_cli, start_simulator, write_config


class _Identity:
    fingerprint = "none"

    @staticmethod
    def apply(record):
        return record


@pytest.fixture(scope="module")
def simulator():
    with start_simulator(generate_world(seed=3, scale="tiny")) as running:
        yield running


@pytest.fixture
def config_file(tmp_path, simulator, key_files, monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    return write_config(tmp_path, ado_url=simulator.collection_url, endpoint="http://127.0.0.1:9", key_files=key_files,
                        data_dir=str(tmp_path / "data"))


def _files(directory: Path) -> dict[str, tuple[int, float, str]]:
    """Every file below ``directory``: size, mtime, sha256."""
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _run(config_file: Path, **options) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run_preview(load_config(config_file), integration=options.pop("integration", None),
                       streams=options.pop("streams", None), limit=options.pop("limit", 5), out=options.pop("out", None),
                       policy=options.pop("policy", _Identity()), stdout=out, stderr=err, **options)
    return code, out.getvalue(), err.getvalue()


def test_the_limit_bounds_every_stream_and_is_reached_where_the_server_has_more(config_file, tmp_path):
    code, stdout, stderr = _run(config_file, limit=3, out=tmp_path / "out")
    assert code == 0, stderr
    files = {p.stem: p.read_bytes().splitlines() for p in (tmp_path / "out" / "tfs-main").glob("*.ndjson")}
    assert set(files) <= {s.name for s in STREAMS} and len(files) >= 20
    assert all(len(lines) <= 3 for lines in files.values()), {k: len(v) for k, v in files.items()}
    for many in ("git.commits", "git.pushes", "wit.revisions", "build.builds", "git.pull_requests"):
        assert len(files[many]) == 3, many
    assert "tfs-main git.commits (DefaultCollection): 3 record(s)" in stdout


def test_a_larger_limit_gives_more_and_the_same_first_records(config_file):
    config = load_config(config_file)
    chosen = select(config, None, ["git.commits", "wit.revisions"])
    small = {s.stream: s.records for s in preview(config, chosen, 2, lambda integration: _Identity())}
    large = {s.stream: s.records for s in preview(config, chosen, 7, lambda integration: _Identity())}
    for stream in small:
        assert len(small[stream]) == 2 and len(large[stream]) == 7
        assert [(r.type, r.key, r.data) for r in large[stream][:2]] == [(r.type, r.key, r.data) for r in small[stream]]


def test_nothing_is_written_to_the_data_dir(config_file, tmp_path):
    data = tmp_path / "data"
    assert _run(config_file, limit=2)[0] == 0
    assert not data.exists()  # not even made
    Store(data).close()  # an agent's data dir, as a running agent holds it
    (data / "privacy.key").write_text("0" * 64 + "\n")
    before = _files(data)
    assert _run(config_file, limit=2)[0] == 0
    assert _run(config_file, limit=2, out=tmp_path / "out")[0] == 0
    assert _files(data) == before


def test_the_ndjson_lines_are_the_sealed_encoding_of_each_record(config_file, tmp_path):
    config = load_config(config_file)
    samples = preview(config, select(config, None, ["git.pull_requests"]), 6, lambda integration: _Identity())
    written = write_samples(samples, tmp_path / "out")
    lines = written[("tfs-main", "git.pull_requests")].read_bytes()
    assert lines == b"".join(ndjson_line(r.to_json()) for r in samples[0].records)
    assert {json.loads(line)["type"] for line in lines.splitlines()} >= {"git.pull_request"}


def test_the_dump_is_readable_json_under_a_line_per_stream(config_file):
    code, stdout, _ = _run(config_file, streams=["core.projects"], limit=5)
    assert code == 0
    first, header, body = stdout.split("\n", 2)
    assert first.startswith("# privacy policy (tfs-main: none)")
    assert header.startswith("== tfs-main core.projects (DefaultCollection): 2 record(s)")
    decoder, records, at = json.JSONDecoder(), [], 0
    while body[at:].strip():
        record, at = decoder.raw_decode(body, at)
        records.append(record)
        at += 1  # the newline
    assert [r["type"] for r in records] == ["core.project", "core.project"] and all(r["op"] == "upsert" for r in records)
    assert "\n  \"data\": {" in body  # indented, one member a line


def test_the_policy_shapes_what_is_shown_and_leaves_out_what_it_scopes_out(config_file, tmp_path):
    class Policy:
        fingerprint = "test"

        @staticmethod
        def apply(record):
            if record.key.endswith("0"):
                return None
            return type(record)(record.type, record.key, record.op, record.observed_at, {"kept": True})

    code, _, _ = _run(config_file, streams=["git.commits"], limit=4, out=tmp_path / "out", policy=Policy())
    assert code == 0
    lines = [json.loads(line) for line in (tmp_path / "out" / "tfs-main" / "git.commits.ndjson").read_bytes().splitlines()]
    assert len(lines) == 4 and all(r["data"] == {"kept": True} and not r["key"].endswith("0") for r in lines)


@pytest.mark.parametrize("argv, expected", [
    (["--stream", "git.nope"], "unknown stream 'git.nope'; integration 'tfs-main' collects: core.projects, "),
    (["--integration", "other"], "unknown integration 'other'; the config has: tfs-main"),
])
def test_an_unknown_stream_or_integration_exits_2_naming_the_valid_ones(config_file, argv, expected):
    done = run_cli("preview", "-c", str(config_file), *argv)
    assert done.returncode == 2 and expected in done.stderr and not done.stdout


def test_a_stream_of_a_service_not_enabled_exits_2(config_file, tmp_path, simulator, key_files):
    only_repos = write_config(tmp_path / "repos", ado_url=simulator.collection_url, endpoint="http://127.0.0.1:9",
                              key_files=key_files, services=("repos",))
    code, _, stderr = _run(only_repos, streams=["build.builds"])
    assert code == 2
    assert "stream 'build.builds' is not collected by integration 'tfs-main' (service 'pipelines' is not enabled)" in stderr
    assert "git.commits" in stderr and "build.builds;" not in stderr


def test_out_inside_the_data_dir_is_refused(config_file, tmp_path):
    code, _, stderr = _run(config_file, out=tmp_path / "data" / "preview")
    assert code == 2 and "inside the data dir" in stderr
    assert not (tmp_path / "data").exists()


def test_the_request_budget_stops_a_stream_and_says_so(config_file):
    code, stdout, _ = _run(config_file, streams=["git.pull_requests"], limit=50, max_requests=4)
    assert code == 0
    assert "stopped at the request budget (--max-requests)" in stdout


def test_select_keeps_the_run_order_and_the_enabled_streams(config_file):
    config = load_config(config_file)
    [chosen] = select(config, "tfs-main", ["git.commits", "core.projects"])
    assert [s.name for s in chosen.streams] == ["core.projects", "git.commits"]
    assert [s.name for s in chosen.enabled] == [s.name for s in enabled_streams(config.integrations[0])]


class _MalformedPushes:
    """ASGI wrapper: the pushes of every repository answer items that are not objects."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/pushes"):
            body = json.dumps({"count": 1, "value": [42]}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def test_a_server_error_exits_1_naming_stream_collection_and_route_and_the_rest_is_shown(tmp_path, key_files, monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    with start_simulator(generate_world(seed=3, scale="tiny"), wrap=_MalformedPushes) as broken:
        config_file = write_config(tmp_path, ado_url=broken.collection_url, endpoint="http://127.0.0.1:9", key_files=key_files)
        code, stdout, stderr = _run(config_file, streams=["git.pushes", "git.commits"], limit=2, out=tmp_path / "out")
    assert code == 1
    [error] = [line for line in stderr.splitlines() if "error:" in line]
    assert "tfs-main DefaultCollection git.pushes:" in error and "/pushes" in error and broken.collection_url in error
    assert "git.commits (DefaultCollection): 2 record(s)" in stdout


PRESETS = "privacy:\n  presets: [strip_text, pseudonymize_people, redact_names_and_urls]\n"


def test_a_policy_needing_its_secret_before_the_agent_made_it_exits_2_and_makes_nothing(tmp_path, simulator, key_files,
                                                                                       monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    config_file = write_config(tmp_path, ado_url=simulator.collection_url, endpoint="http://127.0.0.1:9", key_files=key_files,
                               data_dir=str(tmp_path / "data"), extra_satellite="")
    config_file.write_text(config_file.read_text() + PRESETS)
    out, err = io.StringIO(), io.StringIO()
    code = run_preview(load_config(config_file), integration=None, streams=["git.commits"], limit=2, out=None,
                       stdout=out, stderr=err)
    assert code == 2 and "privacy.key" in err.getvalue() and "privacy.secret" in err.getvalue()
    assert not (tmp_path / "data").exists()


def test_the_configured_policy_shapes_the_preview_with_the_agents_secret(tmp_path, simulator, key_files, monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    config_file = write_config(tmp_path, ado_url=simulator.collection_url, endpoint="http://127.0.0.1:9", key_files=key_files,
                               data_dir=str(tmp_path / "data"))
    config_file.write_text(config_file.read_text() + PRESETS)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "privacy.key").write_text("7" * 64 + "\n")
    before = _files(tmp_path / "data")
    out, err = io.StringIO(), io.StringIO()
    code = run_preview(load_config(config_file), integration=None, streams=["git.commits", "git.refs"], limit=3,
                       out=tmp_path / "out", stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    assert "privacy policy (tfs-main: sha256:" in out.getvalue()
    commits = [json.loads(line) for line in (tmp_path / "out" / "tfs-main" / "git.commits.ndjson").read_bytes().splitlines()]
    refs = [json.loads(line) for line in (tmp_path / "out" / "tfs-main" / "git.refs.ndjson").read_bytes().splitlines()]
    assert len(commits) == 3 and all(c["data"]["author"]["email"].endswith("@pseudonym.invalid") for c in commits)
    assert refs and all(r["data"]["name"].startswith(("refs/heads/n_", "refs/tags/n_")) for r in refs)
    assert all(r["key"].split(":", 1)[1] == r["data"]["name"] for r in refs)  # the key's name is the same token
    assert _files(tmp_path / "data") == before


@pytest.mark.parametrize("excluded", [None, "proseware-tools"])
def test_an_excluded_repository_is_left_out_as_the_collector_leaves_it_out(tmp_path, simulator, key_files, monkeypatch,
                                                                            excluded):
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    scope = f"    repositories:\n      exclude: [{excluded}]\n" if excluded else ""
    config_file = write_config(tmp_path, ado_url=simulator.collection_url, endpoint="http://127.0.0.1:9", key_files=key_files,
                               data_dir=str(tmp_path / "data"), extra_integration=scope)
    streams = ["git.repositories", "git.pull_requests", "git.refs", "git.commits"]
    code, _, stderr = _run(config_file, streams=streams, limit=500, out=tmp_path / "out", policy=None)
    assert code == 0, stderr
    keys = {stream: [json.loads(line)["key"] for line in (tmp_path / "out" / "tfs-main" / f"{stream}.ndjson").read_bytes().splitlines()]
            for stream in streams}
    tools = next(r.id for r in simulator.world.repositories if r.name == "proseware-tools")
    held = {stream: any(k.startswith(tools) for k in stream_keys) for stream, stream_keys in keys.items()}
    assert held == {stream: excluded is None for stream in streams}
    assert all(keys.values())  # the other repositories are there


def test_the_command_prints_the_dump_on_stdout_and_its_log_on_stderr(config_file):
    done = run_cli("preview", "-c", str(config_file), "--stream", "git.refs", "--limit", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# privacy policy (tfs-main: sha256:") and lines[1].startswith("== tfs-main git.refs ")
    assert json.loads("\n".join(lines[2:lines.index("}", 2) + 1]))["type"] == "git.ref"
    assert "api_version" not in done.stdout and "api_version" in done.stderr

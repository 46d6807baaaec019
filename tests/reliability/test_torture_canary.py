"""Canaries: a PAT, an API key, a private-key line and record text never show where they must not.

The simulator serves canary text inside the data (commit messages, work item titles) through a
wrapper rewriting its answers; the satellite holds a canary PAT (and a second, refused one), a
canary API key and a fresh signing key. Then ``satellite run`` (JSON logs, debug level, the SEI
endpoint refusing the first uploads) and ``satellite sync --once`` (console logs, debug level,
broken answers, a refused PAT) run, and none of the canaries (nor the PAT's Basic-auth form) is
in: the logs, ``/metrics``, the status page and ``/status.json``, ``satellite status`` (table
and JSON), the error messages, or any byte of any file in the data directory (SQLite WAL and
journal files included), scanned while the agent runs and after. The record canary does reach
the receiver: it went through the satellite, sealed.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from satellite.config import load_config
from satellite.errors import ConfigError
from satellite.sealing.keys import generate_key_files
from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.faults import FaultPlan, FaultRule
from standins.ado_simulator.world.world import generate_world

from tests.support import API_KEY, PAT, REPO, free_port, run_cli, satellite_env, start_receiver, truth, wait_until

from .torture_wrappers import BodyEditor, write_config

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(180)]

RECORD_CANARY = "CANARY-RECORD-7d1c3b5a9e"
BAD_PAT = "CANARY-BADPAT-4e6a8c0b2d"


def secret_canaries(private_key_pem: str) -> dict[str, str]:
    """Every form a secret could leak in."""
    key_lines = [line for line in private_key_pem.splitlines() if line and not line.startswith("-----")]
    assert key_lines and all(len(line) >= 16 for line in key_lines)
    found = {"PAT": PAT, "bad PAT": BAD_PAT, "API key": API_KEY,
             "PAT (Basic auth)": base64.b64encode(f":{PAT}".encode()).decode(),
             "bad PAT (Basic auth)": base64.b64encode(f":{BAD_PAT}".encode()).decode()}
    found.update({f"private key line {i}": line for i, line in enumerate(key_lines)})
    return found


class Canaries:
    def __init__(self, private_key_pem: str) -> None:
        self.secrets = secret_canaries(private_key_pem)
        self.all = {**self.secrets, "record text": RECORD_CANARY}
        self.scanned: dict[str, int] = {}

    def assert_absent(self, where: str, content: str | bytes, *, record_text: bool = True) -> None:
        data = content if isinstance(content, bytes) else content.encode("utf-8", "replace")
        self.scanned[where] = self.scanned.get(where, 0) + 1
        for name, value in (self.all if record_text else self.secrets).items():
            assert value.encode() not in data, f"the {name} canary is in {where}"

    def scan_dir(self, directory: Path, when: str) -> int:
        """Every byte of every file under ``directory``; returns how many files were read."""
        files = 0
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            try:
                content = path.read_bytes()
            except FileNotFoundError:  # e.g. a journal that came and went
                continue
            files += 1
            self.assert_absent(f"{path.relative_to(directory)} ({when})", content)
        return files


def put_canaries(path: str, data) -> None:
    """Canary text in commit messages and work item titles, as if users had typed it."""
    if path.endswith("/commits") and isinstance(data, dict):
        for commit in data.get("value") or []:
            commit["comment"] = f"{RECORD_CANARY} {commit.get('comment', '')}"
    elif path.endswith("/workitemrevisions") and isinstance(data, dict):
        for revision in data.get("values") or []:
            if isinstance(revision.get("fields"), dict) and "System.Title" in revision["fields"]:
                revision["fields"]["System.Title"] = f"{RECORD_CANARY} {revision['fields']['System.Title']}"


class RefusingDoor:
    """In front of the receiver: the first uploads are refused (401, then 503) while ``refuse`` is set."""

    def __init__(self, app) -> None:
        self.app = app
        self.refuse = threading.Event()
        self.refused = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/satellite/batches" and self.refuse.is_set() and self.refused < 4:
            self.refused += 1
            status = 401 if self.refused <= 2 else 503
            raw = json.dumps({"error": "refused by the canary test"}).encode()
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()),
                                    (b"retry-after", b"1")]})
            await send({"type": "http.response.body", "body": raw})
            return
        await self.app(scope, receive, send)


def test_canaries_never_leave_the_satellite_in_plaintext(tmp_path):
    key_files = generate_key_files(tmp_path / "keys")
    canaries = Canaries(key_files.signing_private.read_text())
    world = generate_world(seed=5, scale="tiny")
    app = create_app(world, pats={PAT: frozenset({"full"})})
    receiver = start_receiver(tmp_path / "receiver", key_files, wrap=RefusingDoor)
    door = receiver.served
    port = free_port()
    try:
        with serve_in_thread(BodyEditor(app, put_canaries)) as simulator:
            config = write_config(tmp_path / "satellite", ado_url=simulator.url + "/tfs/DefaultCollection", endpoint=receiver.url,
                                  key_files=key_files, batch_records=50,
                                  extra_satellite=f"  http: {{listen: '127.0.0.1:{port}'}}\n  shutdown_grace: 20s\n")
            text = config.read_text().replace("    services:", "    schedule: {interval: 10s, jitter: 0s}\n    services:")
            config.write_text(text.replace("  max_backoff: 1s\n", "  max_backoff: 1s\n  auth_retry_interval: 1s\n"))
            data_dir = config.parent / "data"

            # 1. the agent, JSON logs at debug level; the endpoint refuses the first uploads
            door.refuse.set()
            pages = _run_agent_and_scan(config, data_dir, port, receiver, world, canaries)
            assert door.refused == 4, "the SEI endpoint's refusals were never met"
            for name, body in pages.items():
                canaries.assert_absent(name, body)
            assert RECORD_CANARY in json.dumps([r["data"] for r in receiver.storage.records("git.commit", include_data=True)])
            assert RECORD_CANARY in json.dumps([r["data"] for r in receiver.storage.records("wit.work_item", include_data=True)])

            # 2. sync --once, console logs at debug level, broken answers and a refused PAT
            (config.parent / "secrets" / "bad-pat").write_text(BAD_PAT + "\n")
            second = (f"  - id: tfs-refused\n    url: {simulator.url}/tfs/DefaultCollection\n    pat: ${{file:secrets/bad-pat}}\n"
                      "    services: [repos]\n")
            config.write_text(config.read_text().replace("limits:\n", second + "limits:\n"))
            project = world.projects[0].id
            app.set_faults(FaultPlan(rules=(FaultRule("html200", path=rf"/{project}/_apis/build/builds$"),
                                            FaultRule("gone", path=rf"/{project}/_apis/git/pullrequests$"),
                                            FaultRule("html500", path=r"/_apis/wit/fields$"))))
            world.advance(2)  # something new to collect, with canary text in it
            done = run_cli("--log-level", "debug", "--log-format", "console", "sync", "--once", "-c", str(config), timeout=120)
            assert done.returncode == 1, done.stderr[-3000:]
            assert "error:" in done.stderr and "HTML" in done.stderr and "401" in done.stderr, done.stderr[-3000:]
            canaries.assert_absent("sync --once console output", done.stdout + done.stderr)
            canaries.scan_dir(data_dir, "after sync --once")

            # 3. satellite status after failures (last errors shown)
            for args in ((), ("--json",)):
                status = run_cli("status", "-c", str(config), *args)
                assert status.returncode == 0, status.stderr
                assert "build.builds" in status.stdout and "HTML" in status.stdout, status.stdout
                canaries.assert_absent(f"satellite status {' '.join(args)}", status.stdout + status.stderr)

        # 4. a config error about the secrets' keys never echoes them
        broken = config.read_text().replace("pat: ${file:secrets/pat}", f"pat: [{PAT}]").replace(
            "api_key: ${env:TEST_SEI_API_KEY}", f"api_key: {{key: {API_KEY}}}")
        config.write_text(broken)
        with pytest.raises(ConfigError) as raised:
            load_config(config, env={})
        canaries.assert_absent("ConfigError", str(raised.value))
        done = run_cli("config", "validate", str(config))
        assert done.returncode == 2
        canaries.assert_absent("config validate output", done.stdout + done.stderr)
        files = canaries.scan_dir(data_dir, "at the end")
        assert files >= 1
    finally:
        receiver.close()
    assert any("-wal" in name for name in canaries.scanned), f"no WAL file was ever scanned: {sorted(canaries.scanned)[:20]}"


def _run_agent_and_scan(config: Path, data_dir: Path, port: int, receiver, world, canaries: Canaries) -> dict[str, str]:
    """``satellite run`` until everything is delivered; data dir, endpoint and ``status`` scanned meanwhile."""
    log_out, log_err = config.parent / "agent.out", config.parent / "agent.err"
    with log_out.open("wb") as out, log_err.open("wb") as err:
        agent = subprocess.Popen([sys.executable, "-m", "satellite", "--log-level", "debug", "--log-format", "json", "run", "-c", str(config)],
                                 stdout=out, stderr=err, env=satellite_env(), cwd=REPO)
        pages: dict[str, str] = {}
        try:
            expected = truth(world)
            scans = 0

            def scanned_and_delivered() -> bool:
                nonlocal scans
                assert agent.poll() is None, log_err.read_text()[-3000:]
                if data_dir.exists():
                    canaries.scan_dir(data_dir, "while the agent runs")
                    scans += 1
                for route in ("/metrics", "/", "/status.json", "/readyz", "/healthz"):
                    try:
                        pages[f"GET {route}"] = httpx.get(f"http://127.0.0.1:{port}{route}", timeout=5).text
                    except httpx.TransportError:
                        pass
                if not (pages.get("GET /status.json")
                        and all(receiver.keys_of(t) == expected.get(t, []) for t in ("git.commit", "wit.work_item"))):
                    return False
                status = json.loads(pages["GET /status.json"])
                return status["outbox_batches"] == 0 and any(s["stream"] == "core.identities" for s in status["streams"])

            wait_until(scanned_and_delivered, 90, "the agent to deliver everything", interval=0.2,
                       context=lambda: log_err.read_text()[-2000:])
            assert scans >= 2
            for args in ((), ("--json",)):  # while it runs
                status = run_cli("status", "-c", str(config), *args)
                assert status.returncode == 0, status.stderr
                pages[f"satellite status {' '.join(args)} (agent running)"] = status.stdout + status.stderr
            canaries.scan_dir(data_dir, "while the agent runs, delivered")
            metrics = pages["GET /metrics"]
            assert "satellite" in metrics or "ado_requests" in metrics, metrics[:500]
        finally:
            if agent.poll() is None:
                agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:  # pragma: no cover
                agent.kill()
                agent.wait(10)
    assert agent.returncode == 0, log_err.read_text()[-3000:]
    logs = log_out.read_text(errors="replace")
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert lines and any(line.get("level") == "error" or line.get("log_level") == "error" for line in lines), "no error was logged"
    canaries.assert_absent("agent JSON logs (stdout)", logs)
    canaries.assert_absent("agent stderr", log_err.read_text(errors="replace"))
    canaries.scan_dir(data_dir, "after the agent stopped")
    return pages

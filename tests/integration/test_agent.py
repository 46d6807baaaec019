"""``satellite run`` as a real subprocess against the simulator and the receiver on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.faults import FaultPlan, FaultRule
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from satellite.streams import RECORD_TYPES

from tests.support import PAT, mirror_differences, mirrors_truth, wait_until, write_config

pytestmark = pytest.mark.integration


def agent_config(tmp_path: Path, simulator_url: str, receiver_url: str, key_files, interval: str = "10s") -> Path:
    path = write_config(tmp_path, ado_url=f"{simulator_url}/tfs/DefaultCollection", endpoint=receiver_url, key_files=key_files)
    text = path.read_text()
    text = text.replace("    services: [repos, tfvc, pipelines, boards]\n",
                        f"    services: [repos, tfvc, pipelines, boards]\n    schedule: {{interval: {interval}, jitter: 0s}}\n")
    text = text.replace("  data_dir: ./data\n", "  data_dir: ./data\n  http: {listen: '127.0.0.1:0'}\n  shutdown_grace: 20s\n")
    text += "delivery: {initial_backoff: 50ms, max_backoff: 1s, heartbeat_interval: 10s}\n"
    path.write_text(text)
    return path


class AgentProcess:
    def __init__(self, config: Path, env: dict, log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "satellite", "run", "-c", str(config)],
                                        stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **env})

    def events(self) -> list[dict]:
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def url(self) -> str:
        return wait_until(lambda: next((e["url"] for e in self.events() if e["event"] == "http_endpoint"), None), 30, "the HTTP endpoint")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=40)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._log.close()


def mirrors(receiver, world, advanced: bool = False) -> bool:
    """The receiver holds exactly the server's records (comments aside: the world advances here;
    ``advanced``: builds deleted after they completed are the reconcile's to delete)."""
    return mirrors_truth(receiver, world, types=RECORD_TYPES - {"wit.comment"}, advanced=advanced)


def differences(receiver, world, advanced: bool = False):
    """What ``mirrors`` found different, for a timeout's message."""
    return lambda: "\n".join(mirror_differences(receiver, world, types=RECORD_TYPES - {"wit.comment"}, advanced=advanced))


def test_agent_syncs_on_schedule_and_serves_health_metrics_and_status(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="tiny")
    with serve_in_thread(create_app(world, pats={PAT: frozenset({"full"})})) as simulator:
        config = agent_config(tmp_path, simulator.url, receiver.url, key_files)
        agent = AgentProcess(config, env, tmp_path / "agent.log")
        try:
            url = agent.url()
            wait_until(lambda: mirrors(receiver, world), 60, "the first sync to deliver everything",
                       context=differences(receiver, world))
            created = world.advance(3)
            assert created["commits"] > 0
            wait_until(lambda: mirrors(receiver, world, advanced=True), 60, "the scheduled run to deliver the new data",
                       context=differences(receiver, world, advanced=True))
            assert httpx.get(f"{url}/healthz").status_code == 200
            wait_until(lambda: httpx.get(f"{url}/readyz").status_code == 200, 30, "readiness")
            metrics = httpx.get(f"{url}/metrics").text
            assert 'satellite_ado_requests_total{collection="DefaultCollection",route="/_apis/projects",status="200"}' in metrics
            assert "satellite_outbox_batches 0.0" in metrics and "satellite_stream_last_success_timestamp_seconds" in metrics
            # the jobs of a sweep (one per service group) share the projects and teams lists (sync/listings.py)
            for stream in ("core.projects", "core.teams"):
                shared = re.search(rf'satellite_listings_shared_total{{stream="{re.escape(stream)}"}} (\S+)', metrics)
                assert shared is not None and float(shared.group(1)) > 0, stream
            page = httpx.get(f"{url}/").text
            assert "git.commits" in page and "wit.revisions" in page and "<meta http-equiv=\"refresh\"" in page
            status = json.loads(httpx.get(f"{url}/status.json").text)
            assert {s["stream"] for s in status["streams"]} >= {"git.commits", "core.projects"}
            cli = subprocess.run([sys.executable, "-m", "satellite", "status", "-c", str(config)], capture_output=True, text=True,
                                 env={**os.environ, **env}, timeout=60)
            assert cli.returncode == 0 and "git.commits" in cli.stdout and "outbox: 0 batch(es)" in cli.stdout
            wait_until(lambda: "test-satellite" in receiver.stats()["satellites"], 30, "a heartbeat")
            everything = page + metrics + cli.stdout + agent.log_path.read_text()
            assert PAT not in everything and env["TEST_SEI_API_KEY"] not in everything
        finally:
            code = agent.stop()
    assert code == 0
    assert any(e["event"] == "agent_stopped" and e["clean"] for e in agent.events())


def test_sigterm_during_a_backfill_exits_zero_in_time_and_the_next_start_resumes(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="small")
    slow = FaultPlan(latency_ms=15)  # a backfill that takes a while
    with serve_in_thread(create_app(world, pats={PAT: frozenset({"full"})}, faults=slow)) as simulator:
        config = agent_config(tmp_path, simulator.url, receiver.url, key_files, interval="1h")
        first = AgentProcess(config, env, tmp_path / "first.log")
        try:
            wait_until(lambda: receiver.stats()["batches"] >= 3, 60, "a few batches delivered")
            assert not mirrors(receiver, world)  # still backfilling
            started = time.monotonic()
        finally:
            code = first.stop()
        assert code == 0 and time.monotonic() - started < 25
        second = AgentProcess(config, env, tmp_path / "second.log")
        try:
            wait_until(lambda: mirrors(receiver, world), 120, "the restarted agent to finish the backfill")
        finally:
            assert second.stop() == 0
    counts = {}
    for record_type in ("git.commit", "wit.work_item_revision", "tfvc.changeset"):
        counts[record_type] = len(receiver.keys_of(record_type))
    assert counts["git.commit"] == len(world.truth()["git.commit"])


def _tgkill(pid: int, tid: int, signum: int) -> None:
    """Send a signal to one thread of a process (what the kernel may do with a process-wide one)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(234, pid, tid, signum) != 0:  # SYS_tgkill on x86-64
        raise OSError(ctypes.get_errno(), "tgkill")


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the tgkill syscall number is x86-64's")
def test_sigterm_delivered_to_a_worker_thread_still_stops_the_agent(tmp_path, receiver, key_files, env):
    """The kernel hands a process-directed signal to any thread; Python runs the handler in the main
    thread only, so the main thread must not sleep through it."""
    world = generate_world(seed=9, scale="tiny")
    with serve_in_thread(create_app(world, pats={PAT: frozenset({"full"})})) as simulator:
        config = agent_config(tmp_path, simulator.url, receiver.url, key_files, interval="1h")
        agent = AgentProcess(config, env, tmp_path / "agent.log")
        try:
            wait_until(lambda: any(e["event"] == "job_finished" for e in agent.events()), 60, "the first jobs to finish")
            pid = agent.process.pid
            workers = [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
            assert workers  # scheduler, delivery, HTTP endpoint ...
            _tgkill(pid, workers[-1], signal.SIGTERM)
            wait_until(lambda: agent.process.poll() is not None, 15, "the agent to stop")
        finally:
            code = agent.stop()
    assert code == 0
    assert any(e["event"] == "shutdown_requested" for e in agent.events())


def test_sigterm_while_the_server_throttles_stops_in_time_instead_of_waiting_out_its_retry_after(
        tmp_path, receiver, key_files, env):
    """A server answering 503 with a Retry-After of minutes: the request waiting to try again, and the
    requests of every job held at the server's gate by the pause that answer set, stop at SIGTERM like
    every other wait, within the grace."""
    world = generate_world(seed=9, scale="tiny")
    rule = FaultRule("503", path=r"/_apis/git/repositories/[^/]+/commits$", retry_after=300)
    with serve_in_thread(create_app(world, pats={PAT: frozenset({"full"})}, faults=FaultPlan(rules=(rule,)))) as simulator:
        config = agent_config(tmp_path, simulator.url, receiver.url, key_files, interval="1h")
        agent = AgentProcess(config, env, tmp_path / "agent.log")
        try:
            wait_until(lambda: any(e["event"] == "retrying" and "503" in e.get("error", "") for e in agent.events()), 60,
                       "a request waiting out the Retry-After")
            started = time.monotonic()
        finally:
            code = agent.stop()
    assert code == 0 and time.monotonic() - started < 25, (code, time.monotonic() - started)
    assert any(e["event"] == "agent_stopped" and e["clean"] for e in agent.events())

"""Events end to end (issue 22): ``satellite run`` with events on, subscribed through the simulator's
Service Hooks API; the world advances through ``/_sim/advance``, which posts the events.

* duplicates, delays and reordering: the event job alone (the sweep is an hour away) brings the
  receiver to the server's truth; a forged event is refused; an authentic event naming a partition
  that does not exist costs requests and changes nothing;
* every event dropped: the sweep still brings the truth, and the stale-subscription warning fires in
  ``satellite status``, ``/metrics`` and ``satellite check``;
* drops, duplicates, delays and reordering at once, the sweep every 10 s: exactly the truth.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid

import httpx
import pytest

from satellite.config import load_config
from satellite.events.command import events_checks, events_command
from standins.ado_simulator.app import create_app
from standins.ado_simulator.events.delivery import DeliveryConfig
from standins.ado_simulator.events.faults import EventFaultPlan
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from tests.integration.test_agent import AgentProcess, differences, mirrors
from tests.integration.test_events_subscriptions import (
    SECRET,
    SECRET_ENV,
    events_config,
)
from tests.support import PAT, free_port, wait_until

pytestmark = pytest.mark.integration


def _config(tmp_path, simulator_url: str, receiver_url: str, key_files, *, sweep: str, stale_after: str = "6h"):
    port = free_port()
    path = events_config(tmp_path, f"{simulator_url}/tfs/DefaultCollection", key_files, port=port,
                         events=f"      stale_after: {stale_after}\n")
    text = path.read_text().replace("endpoint: http://127.0.0.1:9", f"endpoint: {receiver_url}")
    text = text.replace("    events:\n", f"    schedule: {{interval: 10s, jitter: 0s, sweep_interval: {sweep}}}\n    events:\n")
    text = text.replace("  http: {listen:", "  shutdown_grace: 20s\n  http: {listen:")
    text += "delivery: {initial_backoff: 50ms, max_backoff: 1s, heartbeat_interval: 10s}\n"
    path.write_text(text)
    return path, port


def _simulator(world, faults: EventFaultPlan):
    app = create_app(world, "2022", {PAT: frozenset({"full"})}, event_faults=faults, delivery=DeliveryConfig(backoff_s=0.05))
    return app, serve_in_thread(app)


def _advance(url: str, steps: int) -> None:
    with httpx.Client(timeout=60) as client:
        assert client.post(f"{url}/_sim/advance", json={"steps": steps}).status_code == 200
        wait_until(lambda: client.get(f"{url}/_sim/events").json()["pending"] == 0, 60, "the event deliveries")


def _subscribe(path, env: dict) -> None:
    out: list[str] = []
    assert events_command(load_config(path, env=env), "subscribe", out=out.append) == 0, out


def _metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_duplicated_delayed_reordered_events_alone_deliver_the_truth(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="tiny")
    faults = EventFaultPlan(duplicate=0.3, delay=0.3, reorder=0.3, delay_s=0.5, seed=3)
    _, simulator = _simulator(world, faults)
    env = {**env, SECRET_ENV: SECRET}
    with simulator:
        path, port = _config(tmp_path, simulator.url, receiver.url, key_files, sweep="1h")
        _subscribe(path, {**os.environ, **env})
        agent = AgentProcess(path, env, tmp_path / "agent.log")
        try:
            url = agent.url()
            wait_until(lambda: mirrors(receiver, world), 60, "the first sweep", context=differences(receiver, world))
            sweeps = sum(e["event"] == "job_finished" for e in agent.events())
            _advance(simulator.url, 3)
            wait_until(lambda: mirrors(receiver, world, advanced=True), 60, "the events to bring the new data",
                       context=differences(receiver, world, advanced=True))
            assert sum(e["event"] == "job_finished" for e in agent.events()) == sweeps  # no sweep ran: events did it
            assert any(e["event"] == "events_collected" for e in agent.events())
            log = httpx.get(f"{simulator.url}/_sim/events").json()
            assert any(s["fault"] == "duplicate" for s in log["sent"]) and any(s["fault"] == "reorder" for s in log["sent"])
            metrics = httpx.get(f"{url}/metrics").text
            assert _metric(metrics, 'satellite_events_total{integration="tfs-main",outcome="accepted"}') > 0
            assert _metric(metrics, 'satellite_events_total{integration="tfs-main",outcome="duplicate"}') > 0

            events_url = f"http://127.0.0.1:{port}/events/ado/tfs-main"
            forged_body = json.dumps({"id": str(uuid.uuid4()), "eventType": "workitem.updated", "resource": {}})
            wrong = {"Authorization": "Basic " + base64.b64encode(b"ado:not-the-secret-at-all").decode()}
            assert httpx.post(events_url, content=forged_body, headers=wrong).status_code == 401
            right = {"Authorization": "Basic " + base64.b64encode(f"ado:{SECRET}".encode()).decode()}
            nowhere = json.dumps({"id": str(uuid.uuid4()), "eventType": "git.push",
                                  "resource": {"repository": {"id": str(uuid.uuid4())}},
                                  "resourceContainers": {"project": {"id": str(uuid.uuid4())}}})
            assert httpx.post(events_url, content=nowhere, headers=right).status_code == 200
            wait_until(lambda: 'satellite_events_waiting{integration="tfs-main"} 0.0' in httpx.get(f"{url}/metrics").text,
                       30, "the event job to take the event")
            assert mirrors(receiver, world, advanced=True)
            assert SECRET not in agent.log_path.read_text()
        finally:
            code = agent.stop()
    assert code == 0


def test_every_event_dropped_the_sweep_delivers_and_the_stale_warning_fires(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="tiny")
    _, simulator = _simulator(world, EventFaultPlan(drop=1.0, seed=1))
    env = {**env, SECRET_ENV: SECRET}
    with simulator:
        path, _ = _config(tmp_path, simulator.url, receiver.url, key_files, sweep="10s", stale_after="10s")
        _subscribe(path, {**os.environ, **env})
        agent = AgentProcess(path, env, tmp_path / "agent.log")
        try:
            url = agent.url()
            wait_until(lambda: mirrors(receiver, world), 60, "the first sweep", context=differences(receiver, world))
            _advance(simulator.url, 3)
            assert httpx.get(f"{simulator.url}/_sim/events").json()["dropped"]
            wait_until(lambda: mirrors(receiver, world, advanced=True), 60, "the sweep to bring the new data",
                       context=differences(receiver, world, advanced=True))
            wait_until(lambda: 'satellite_events_subscription_stale{integration="tfs-main"} 1.0'
                       in httpx.get(f"{url}/metrics").text, 60, "the stale-subscription gauge")
            assert any(e["event"] == "events_subscription_stale" for e in agent.events())
            status = subprocess.run([sys.executable, "-m", "satellite", "status", "-c", str(path)], capture_output=True,
                                    text=True, env={**os.environ, **env}, timeout=60, check=False)
            assert status.returncode == 0 and "WARNING: events for tfs-main" in status.stdout
            assert "stale" in httpx.get(f"{url}/").text or "no event came" in httpx.get(f"{url}/").text
            config = load_config(path, env={**os.environ, **env})
            lines = events_checks(config, config.integrations[0], timeout=10)
            assert [(c.check, c.status) for c in lines] == [("events subscriptions", "pass"), ("events delivery", "fail")]
        finally:
            code = agent.stop()
    assert code == 0


def test_all_event_faults_at_once_the_events_and_the_sweep_deliver_exactly_the_truth(tmp_path, receiver, key_files, env):
    world = generate_world(seed=9, scale="tiny")
    faults = EventFaultPlan(drop=0.3, duplicate=0.3, delay=0.3, reorder=0.3, delay_s=0.5, seed=5)
    _, simulator = _simulator(world, faults)
    env = {**env, SECRET_ENV: SECRET}
    with simulator:
        path, _ = _config(tmp_path, simulator.url, receiver.url, key_files, sweep="10s")
        _subscribe(path, {**os.environ, **env})
        agent = AgentProcess(path, env, tmp_path / "agent.log")
        try:
            agent.url()
            wait_until(lambda: mirrors(receiver, world), 60, "the first sweep", context=differences(receiver, world))
            for _ in range(3):
                _advance(simulator.url, 1)
            log = httpx.get(f"{simulator.url}/_sim/events").json()
            assert log["dropped"] and {s["fault"] for s in log["sent"]} >= {"duplicate", "delay", "reorder"}
            wait_until(lambda: mirrors(receiver, world, advanced=True), 90, "the events and the sweep to bring the truth",
                       context=differences(receiver, world, advanced=True))
            assert any(e["event"] == "events_collected" for e in agent.events())
        finally:
            code = agent.stop()
    assert code == 0

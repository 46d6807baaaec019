"""Events (issue 22, item 4 and the endpoint): ``satellite events subscribe|list|unsubscribe`` against the
simulator's Service Hooks API, what an administrator must create when the PAT may not, the check's line;
and the event endpoint on the agent's HTTP listener driven with a raw HTTP client (forged, flood)."""

from __future__ import annotations

import base64
import json
import ssl
from pathlib import Path

import httpx
import pytest

from satellite.agent.http_endpoint import HttpEndpoint
from satellite.config import load_config
from satellite.events.command import events_checks, events_command
from satellite.events.driver import EventDriver
from satellite.store import Store
from satellite.store.events import EventJournal
from standins.ado_simulator.world.world import generate_world
from tests.support import PAT, free_port, start_simulator, write_config

pytestmark = pytest.mark.integration

SECRET = "CANARY-EVENTS-SECRET-4b3a2c1d0e"
SECRET_ENV = "TEST_EVENTS_SECRET"
NO_HOOKS_PAT = "CANARY-PAT-no-hooks-1a2b3c4d"
PROJECT = "22222222-2222-2222-2222-222222222222"
REPO = "33333333-3333-3333-3333-333333333333"


def events_config(tmp_path: Path, ado_url: str, key_files, *, pat: str = PAT, port: int | None = None,
                  events: str = "", name: str = "satellite.yml") -> Path:
    port = port or free_port()
    return write_config(
        tmp_path, ado_url=ado_url, endpoint="http://127.0.0.1:9", key_files=key_files, pat=pat, name=name,
        extra_satellite=f"  http: {{listen: '127.0.0.1:{port}'}}\n",
        extra_integration=("    events:\n      enabled: true\n      password: ${env:" + SECRET_ENV + "}\n"
                           f"      public_url: http://127.0.0.1:{port}\n{events}"))


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv("TEST_SEI_API_KEY", "CANARY-APIKEY-tests-0a1b2c3d")


def test_subscribe_list_unsubscribe_round_trip_and_the_check_line(tmp_path, key_files, secret_env):
    world = generate_world(seed=9, scale="tiny")
    with start_simulator(world) as simulator:
        config = load_config(events_config(tmp_path, simulator.collection_url, key_files))
        integration = config.integrations[0]
        out: list[str] = []
        assert events_command(config, "list", out=out.append) == 1 and "missing: git.push" in "\n".join(out)
        assert events_checks(config, integration, timeout=10)[0].status == "fail"

        out.clear()
        assert events_command(config, "subscribe", out=out.append) == 0, out
        assert sum(" created " in line for line in out) == 12  # every event type of the four services on 2022
        hooks = simulator.app.hooks.store.all()
        assert {s.event_type for s in hooks} >= {"git.push", "workitem.commented", "tfvc.checkin", "build.complete",
                                                  "ms.vss-pipelines.run-state-changed-event"}
        assert all(s.consumer_inputs["url"] == f"{integration.events.public_url}/events/ado/tfs-main"
                   and s.consumer_inputs["basicAuthPassword"] == SECRET and s.consumer_inputs["basicAuthUsername"] == "ado"
                   for s in hooks)
        assert SECRET not in "\n".join(out)

        out.clear()
        assert events_command(config, "subscribe", out=out.append) == 0  # again: updated, not duplicated
        assert sum(" updated " in line for line in out) == 12 and len(simulator.app.hooks.store.all()) == 12
        checks = events_checks(config, integration, timeout=10)
        assert [c.status for c in checks] == ["pass"] and "12 subscription(s) enabled" in checks[0].detail

        out.clear()
        assert events_command(config, "list", out=out.append) == 0 and "missing" not in "\n".join(out)
        assert events_command(config, "unsubscribe", out=out.append) == 0
        assert simulator.app.hooks.store.all() == []


def test_a_pat_without_the_hooks_scope_prints_what_the_admin_must_create(tmp_path, key_files, secret_env):
    world = generate_world(seed=9, scale="tiny")
    pats = {PAT: frozenset({"full"}), NO_HOOKS_PAT: frozenset({"vso.code", "vso.build", "vso.work", "vso.project"})}
    with start_simulator(world, pats=pats) as simulator:
        config = load_config(events_config(tmp_path, simulator.collection_url, key_files, pat=NO_HOOKS_PAT))
        out: list[str] = []
        assert events_command(config, "subscribe", out=out.append) == 1
        text = "\n".join(out)
        assert "vso.hooks_write" in text and "http://127.0.0.1:" in text and "/events/ado/tfs-main" in text
        assert "${env:" + SECRET_ENV + "}" in text and SECRET not in text
        assert "tfs / git.push" in text and "rm / ms.vss-release.deployment-completed-event" in text
        assert simulator.app.hooks.store.all() == []
        check = events_checks(config, config.integrations[0], timeout=10)
        assert check[0].status == "skip" and "vso.hooks" in check[0].detail


def _push(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "eventType": "git.push", "publisherId": "tfs",
                       "resource": {"repository": {"id": REPO}}, "resourceContainers": {"project": {"id": PROJECT}}}).encode()


def _auth(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"ado:{password}".encode()).decode()}


def test_the_endpoint_refuses_forged_events_bounds_a_flood_and_counts_both(tmp_path, key_files, secret_env):
    path = events_config(tmp_path, "http://127.0.0.1:9/tfs/DefaultCollection", key_files,
                         events="      queue_limit: 3\n")
    config = load_config(path)
    store = Store(tmp_path / "data")
    driver = EventDriver(config.integrations, store)
    endpoint = HttpEndpoint(config.satellite.http.listen, store, "s", lambda: (True, []), events=driver.receiver).start()
    try:
        url = f"{endpoint.url}/events/ado/tfs-main"
        forged = httpx.post(url, content=_push("forged"), headers=_auth("wrong-" + SECRET))
        assert forged.status_code == 401 and "WWW-Authenticate" in forged.headers
        assert httpx.post(url, content=_push("no-auth")).status_code == 401
        assert EventJournal(store).due("tfs-main")[1] == [] and EventJournal(store).waiting("tfs-main") == 0
        assert httpx.post(f"{endpoint.url}/events/ado/other", content=_push("x"), headers=_auth(SECRET)).status_code == 404
        assert httpx.get(url).status_code == 404

        statuses = [httpx.post(url, content=_push(f"e-{n}"), headers=_auth(SECRET)).status_code for n in range(6)]
        assert statuses == [200, 200, 200, 429, 429, 429]
        again = httpx.post(url, content=_push("e-0"), headers=_auth(SECRET))
        assert again.status_code == 429  # the bound comes before the body is read
        assert httpx.post(url, content=b"{", headers=_auth(SECRET)).status_code == 429
        metrics = httpx.get(f"{endpoint.url}/metrics").text
        assert 'satellite_events_total{integration="tfs-main",outcome="queue_full"}' in metrics
        assert 'satellite_events_total{integration="tfs-main",outcome="unauthorized"}' in metrics
        assert 'satellite_events_waiting{integration="tfs-main"} 3.0' in metrics
        assert SECRET not in metrics
    finally:
        endpoint.stop()
        store.close()


def test_the_listener_serves_https_with_a_certificate_and_survives_a_plain_client(tmp_path, key_files, secret_env):
    from tests.support import make_ca_and_server_cert

    ca, cert, key = make_ca_and_server_cert(tmp_path / "tls")
    path = events_config(tmp_path, "http://127.0.0.1:9/tfs/DefaultCollection", key_files)
    path.write_text(path.read_text().replace("  http: {listen: '127.0.0.1:",
                                             f"  http: {{tls_cert: {cert}, tls_key: {key}, listen: '127.0.0.1:"))
    config = load_config(path)
    store = Store(tmp_path / "data")
    driver = EventDriver(config.integrations, store)
    endpoint = HttpEndpoint(config.satellite.http.listen, store, "s", lambda: (True, []), events=driver.receiver,
                            tls=(str(config.satellite.http.tls_cert), str(config.satellite.http.tls_key))).start()
    try:
        assert endpoint.url.startswith("https://")
        with pytest.raises(httpx.HTTPError):
            httpx.get(endpoint.url.replace("https://", "http://") + "/healthz", timeout=5)
        with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=10) as client:
            assert client.get(f"{endpoint.url}/healthz").status_code == 200
            answer = client.post(f"{endpoint.url}/events/ado/tfs-main", content=_push("tls-1"), headers=_auth(SECRET))
            assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    finally:
        endpoint.stop()
        store.close()
    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate")
    path.write_text(path.read_text().replace(f"tls_cert: {cert}", f"tls_cert: {broken}"))
    with pytest.raises(Exception) as caught:
        load_config(path)
    assert "tls_cert" in str(caught.value)


def test_the_events_command_line(tmp_path, key_files):
    from tests.support import run_cli

    world = generate_world(seed=9, scale="tiny")
    with start_simulator(world) as simulator:
        path = events_config(tmp_path, simulator.collection_url, key_files)
        (tmp_path / "secrets" / "events").write_text(SECRET + "\n")
        path.write_text(path.read_text().replace("${env:" + SECRET_ENV + "}", "${file:secrets/events}"))
        listed = run_cli("events", "list", "-c", str(path))
        assert listed.returncode == 1 and "missing: git.push" in listed.stdout, listed.stderr
        subscribed = run_cli("events", "subscribe", "-c", str(path), "--integration", "tfs-main")
        assert subscribed.returncode == 0 and subscribed.stdout.count(" created ") == 12, subscribed.stderr
        assert run_cli("events", "list", "-c", str(path)).returncode == 0
        unknown = run_cli("events", "list", "-c", str(path), "--integration", "nope")
        assert unknown.returncode == 1 and "no integration 'nope'" in unknown.stdout
        assert SECRET not in subscribed.stdout + subscribed.stderr + listed.stdout + listed.stderr

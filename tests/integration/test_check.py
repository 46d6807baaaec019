"""``satellite check`` over real loopback sockets: a healthy setup passes, and each failure kind fails the right line with a useful hint."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import uuid

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from satellite.check import SEI, CheckResult, run_checks
from satellite.config import load_config
from satellite.sei import BATCH_CONTENT_TYPE
from satellite.sealing.keys import generate_key_files
from satellite.sealing.sealer import Sealer
from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.world.world import generate_world

from tests.support import API_KEY, PAT, make_ca_and_server_cert, write_config

pytestmark = pytest.mark.integration

NO_WORK_PAT = "CANARY-NO-WORK-PAT-31337"
BAD_PAT = "CANARY-BAD-PAT-9f8e7d6c5b"
BAD_API_KEY = "CANARY-BAD-APIKEY-4d3c2b1a"
PATS = {PAT: frozenset({"full"}), NO_WORK_PAT: frozenset({"vso.code", "vso.project", "vso.build", "vso.release", "vso.identity"})}
SERVICES = ("service repos", "service tfvc", "service pipelines", "service boards")


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=5, scale="tiny")


@pytest.fixture(scope="module")
def simulator(world):
    with serve_in_thread(create_app(world, pats=PATS)) as server:
        yield server


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check(tmp_path, *, ado_url: str, endpoint: str, key_files, pat: str = PAT, api_key: str = API_KEY, extra: str = "") -> list[CheckResult]:
    config = load_config(write_config(tmp_path, ado_url=ado_url, endpoint=endpoint, key_files=key_files, pat=pat, extra_integration=extra),
                         env={"TEST_SEI_API_KEY": api_key})
    results = run_checks(config)
    text = json.dumps([r.to_json() for r in results])
    for secret in (PAT, NO_WORK_PAT, BAD_PAT, API_KEY, BAD_API_KEY, key_files.signing_private.read_text().splitlines()[1]):
        assert secret not in text
    return results


def lines(results: list[CheckResult], integration: str = "tfs-main") -> dict[str, CheckResult]:
    return {r.check: r for r in results if r.integration == integration}


def statuses(results: list[CheckResult], integration: str = "tfs-main") -> dict[str, str]:
    return {name: r.status for name, r in lines(results, integration).items()}


def collection_url(server) -> str:
    return f"{server.url}/tfs/DefaultCollection"


# -- healthy --------------------------------------------------------------------------------


def test_a_healthy_setup_passes_every_check_and_the_probe_stores_nothing(tmp_path, simulator, receiver, key_files):
    results = check(tmp_path, ado_url=collection_url(simulator), endpoint=receiver.url, key_files=key_files)
    assert [r for r in results if not r.ok] == []
    assert set(lines(results)) == {"dns", "tcp", "pat", "api-version", *SERVICES, "users", "projects"}
    assert set(lines(results, SEI)) == {"dns", "tcp", "api key", "keys"}
    found = lines(results)
    assert "7.0" in found["api-version"].detail and "2 project(s) visible, 2 kept" in found["projects"].detail
    assert "vso.work" in found["service boards"].detail
    assert key_files.signer_key_id in lines(results, SEI)["keys"].detail
    assert receiver.stats()["batches"] == 0  # the probe stored nothing


# -- Azure DevOps side ----------------------------------------------------------------------


def test_a_bad_pat_fails_the_pat_line_and_skips_what_needs_it(tmp_path, simulator, receiver, key_files):
    results = check(tmp_path, ado_url=collection_url(simulator), endpoint=receiver.url, key_files=key_files, pat=BAD_PAT)
    found = lines(results)
    assert statuses(results) == {"dns": "pass", "tcp": "pass", "pat": "fail", "api-version": "skip", **{s: "skip" for s in SERVICES},
                                 "users": "skip", "projects": "skip"}
    assert "refused the PAT (HTTP 401)" in found["pat"].detail
    assert "create a new PAT on this server" in found["pat"].hint and "integrations[0].pat" in found["pat"].hint
    assert all(r.ok for r in results if r.integration == SEI)


def test_a_wrong_collection_url_is_named_with_the_collections_that_exist(tmp_path, simulator, receiver, key_files):
    results = check(tmp_path, ado_url=f"{simulator.url}/tfs/NoSuchCollection", endpoint=receiver.url, key_files=key_files)
    pat = lines(results)["pat"]
    assert pat.status == "fail" and "wrong collection URL" in pat.detail and "404" in pat.detail
    assert "integrations[0].url" in pat.hint and "DefaultCollection" in pat.hint
    assert statuses(results)["projects"] == "skip"


def test_the_server_root_without_collections_is_not_taken_for_a_collection(tmp_path, simulator, receiver, key_files):
    pat = lines(check(tmp_path, ado_url=f"{simulator.url}/tfs", endpoint=receiver.url, key_files=key_files))["pat"]
    assert pat.status == "fail" and "server root" in pat.detail and "collections: [DefaultCollection]" in pat.hint


def test_an_unreachable_port_fails_tcp_and_skips_the_rest(tmp_path, receiver, key_files):
    port = closed_port()
    results = check(tmp_path, ado_url=f"http://127.0.0.1:{port}/tfs/DefaultCollection", endpoint=receiver.url, key_files=key_files)
    found = lines(results)
    assert found["dns"].ok and found["tcp"].status == "fail"
    assert f"127.0.0.1:{port}" == found["tcp"].target and "refused" in found["tcp"].detail
    assert "integrations[0].url" in found["tcp"].hint
    assert {r.status for r in results if r.integration == "tfs-main" and r.check not in ("dns", "tcp")} == {"skip"}


def test_an_unresolvable_host_fails_dns(tmp_path, receiver, key_files):
    results = check(tmp_path, ado_url="https://nonexistent.invalid/tfs/DefaultCollection", endpoint=receiver.url, key_files=key_files)
    found = lines(results)
    assert found["dns"].status == "fail" and "nonexistent.invalid does not resolve" in found["dns"].detail
    assert found["tcp"].status == found["tls"].status == found["pat"].status == "skip"
    assert "integrations[0].url" in found["dns"].hint


def test_an_untrusted_certificate_fails_tls_naming_the_fix_and_the_ca_bundle_fixes_it(tmp_path, world, receiver, key_files):
    ca_file, cert_file, key_file = make_ca_and_server_cert(tmp_path)
    with serve_in_thread(create_app(world, pats=PATS), ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as server:
        url = collection_url(server)
        broken = lines(check(tmp_path, ado_url=url, endpoint=receiver.url, key_files=key_files))
        fixed = check(tmp_path, ado_url=url, endpoint=receiver.url, key_files=key_files,
                      extra=f"    tls:\n      ca_bundle: {ca_file}\n")
    assert broken["tcp"].ok and broken["tls"].status == "fail"
    assert "not trusted" in broken["tls"].detail and "Test Corp Root CA" in broken["tls"].detail
    assert "`integrations[0].tls.ca_bundle: /path/ca.pem`" in broken["tls"].hint
    assert broken["pat"].status == "skip"
    assert [r for r in fixed if not r.ok] == []
    assert "verified" in lines(fixed)["tls"].detail


def test_an_expired_certificate_is_named_as_expired(tmp_path, world, receiver, key_files):
    ca_file, cert_file, key_file = make_ca_and_server_cert(tmp_path, expired=True)
    with serve_in_thread(create_app(world, pats=PATS), ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as server:
        tls = lines(check(tmp_path, ado_url=collection_url(server), endpoint=receiver.url, key_files=key_files,
                          extra=f"    tls:\n      ca_bundle: {ca_file}\n"))["tls"]
    assert tls.status == "fail" and "expired" in tls.detail and "renew" in tls.hint


def old_server_app(answer_options: bool) -> Starlette:
    """A TFS 2018 stand-in: accepts any PAT, advertises REST 4.1 in OPTIONS or in the out-of-range probe."""

    async def options(request):
        if not answer_options:
            return Response("<html>not found</html>", 404, media_type="text/html")
        return JSONResponse({"count": 1, "value": [{"id": "p", "area": "core", "resourceName": "projects", "maxVersion": 4.1}]})

    async def connection_data(request):
        return JSONResponse({"authenticatedUser": {"providerDisplayName": "Old Admin"}, "instanceId": "c1", "deploymentId": "d1"})

    async def projects(request):
        return JSONResponse({"message": "The requested REST API version of 99.0 is out of range for this server. The latest REST API"
                                        " version this server supports is 4.1.", "typeKey": "VssVersionOutOfRangeException"}, 400)

    return Starlette(routes=[
        Route("/tfs/C/_apis", options, methods=["OPTIONS"]),
        Route("/tfs/C/_apis/connectionData", connection_data),
        Route("/tfs/C/_apis/projects", projects),
    ])


@pytest.mark.parametrize("answer_options", [True, False], ids=["options", "probe"])
def test_a_server_older_than_2019_fails_the_api_version_line(tmp_path, receiver, key_files, answer_options):
    with serve_in_thread(old_server_app(answer_options)) as server:
        results = check(tmp_path, ado_url=f"{server.url}/tfs/C", endpoint=receiver.url, key_files=key_files)
    found = lines(results)
    assert found["pat"].ok
    version = found["api-version"]
    assert version.status == "fail" and "4.1" in version.detail and "2019 (5.0)" in version.detail
    assert "upgrade the server to Azure DevOps Server 2019" in version.hint
    assert {found[s].status for s in (*SERVICES, "users", "projects")} == {"skip"}


def test_a_pat_without_work_items_scope_fails_boards_naming_the_scope_and_repos_passes(tmp_path, simulator, receiver, key_files):
    results = check(tmp_path, ado_url=collection_url(simulator), endpoint=receiver.url, key_files=key_files, pat=NO_WORK_PAT)
    found = lines(results)
    assert [name for name, r in found.items() if not r.ok] == ["service boards"]
    boards = found["service boards"]
    assert "vso.work" in boards.detail and "Work Items (read)" in boards.detail and "403" in boards.detail
    assert "Work Items (read)" in boards.hint and "'boards'" in boards.hint
    assert found["service repos"].ok and found["service pipelines"].ok


# -- SEI side ------------------------------------------------------------------------------


def test_an_unreachable_sei_endpoint_fails_its_tcp_line(tmp_path, simulator, key_files):
    results = check(tmp_path, ado_url=collection_url(simulator), endpoint=f"http://127.0.0.1:{closed_port()}", key_files=key_files)
    assert statuses(results, SEI) == {"dns": "pass", "tcp": "fail", "api key": "skip", "keys": "skip"}
    assert "satellite.endpoint" in lines(results, SEI)["tcp"].hint
    assert all(r.ok for r in results if r.integration == "tfs-main")


def test_an_sei_endpoint_rejecting_the_api_key_fails_the_api_key_line(tmp_path, simulator, receiver, key_files):
    results = check(tmp_path, ado_url=collection_url(simulator), endpoint=receiver.url, key_files=key_files, api_key=BAD_API_KEY)
    api_key = lines(results, SEI)["api key"]
    assert api_key.status == "fail" and "401" in api_key.detail and "satellite.api_key" in api_key.hint
    assert statuses(results, SEI)["keys"] == "skip"


def test_an_sei_endpoint_not_knowing_the_signing_key_fails_the_keys_line(tmp_path, simulator, receiver, key_files):
    other = generate_key_files(tmp_path / "other-keys")
    ours = dataclasses.replace(key_files, signing_private=other.signing_private, signing_public=other.signing_public,
                               signer_key_id=other.signer_key_id)
    results = check(tmp_path, ado_url=collection_url(simulator), endpoint=receiver.url, key_files=ours)
    found = lines(results, SEI)
    assert found["api key"].ok and found["keys"].status == "fail"
    assert other.signer_key_id in found["keys"].detail and "403" in found["keys"].detail
    assert "register the satellite's signing PUBLIC key" in found["keys"].hint


def test_an_sei_endpoint_not_holding_the_recipient_key_fails_the_keys_line(tmp_path, simulator, receiver, key_files):
    other = generate_key_files(tmp_path / "other-keys")
    ours = dataclasses.replace(key_files, recipient_public=other.recipient_public, recipient_key_id=other.recipient_key_id)
    keys = lines(check(tmp_path, ado_url=collection_url(simulator), endpoint=receiver.url, key_files=ours), SEI)["keys"]
    assert keys.status == "fail" and "422" in keys.detail and "recipient_key_id" in keys.hint


# -- the probe route ---------------------------------------------------------------------------


def test_the_probe_route_answers_for_each_failure_and_stores_nothing(tmp_path, receiver, key_files, env):
    config = load_config(write_config(tmp_path, ado_url="http://127.0.0.1:1/tfs/C", endpoint=receiver.url, key_files=key_files), env=env)
    sealer = Sealer.from_settings(config.satellite)

    def sealed(stream: str, records: list) -> bytes:
        return sealer.seal_records(batch_id=str(uuid.uuid4()), integration_id="x", service="probe", stream=stream, seq=0,
                                   records=records, cursor_from=None, cursor_to=None)

    def post(body: bytes, api_key: str = API_KEY) -> httpx.Response:
        return httpx.post(f"{receiver.url}/v1/satellite/probe", content=body,
                          headers={"Authorization": f"Bearer {api_key}", "Content-Type": BATCH_CONTENT_TYPE})

    probe = sealed("satellite.probe", [])
    assert post(probe, api_key="wrong").status_code == 401
    assert post(b"not a batch").status_code == 422
    record = {"type": "core.project", "key": "p1", "op": "upsert", "observed_at": "2024-01-01T00:00:00Z", "data": {}}
    assert post(sealed("core.projects", [record])).status_code == 400
    ok = post(probe)
    assert ok.status_code == 200
    assert ok.json() == {"ok": True, "recipient_key_id": key_files.recipient_key_id, "signer_key_id": key_files.signer_key_id,
                         "kem": "x25519"}
    assert receiver.stats()["batches"] == 0


# -- the command -------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "satellite", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TEST_SEI_API_KEY": API_KEY})


def test_the_command_exits_0_when_all_pass_1_on_a_failure_2_on_a_bad_config_and_prints_no_secret(tmp_path, simulator, receiver, key_files):
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good = write_config(tmp_path / "good", ado_url=collection_url(simulator), endpoint=receiver.url, key_files=key_files)
    bad = write_config(tmp_path / "bad", ado_url=collection_url(simulator), endpoint=receiver.url, key_files=key_files, pat=BAD_PAT)
    passing = run_cli("check", "-c", str(good), "--json")
    failing = run_cli("check", "-c", str(bad))
    (tmp_path / "broken.yml").write_text("satellite: {}\n")
    broken = run_cli("check", "-c", str(tmp_path / "broken.yml"))
    assert passing.returncode == 0, passing.stdout + passing.stderr
    parsed = json.loads(passing.stdout)
    assert parsed and all(item["ok"] and item["status"] == "pass" for item in parsed)
    assert set(parsed[0]) >= {"integration", "collection", "check", "ok", "status", "detail", "hint"}
    assert failing.returncode == 1
    assert "FAIL" in failing.stdout and "fix: create a new PAT" in failing.stdout and "some checks failed" in failing.stdout
    assert broken.returncode == 2 and broken.stdout == ""
    output = "".join(r.stdout + r.stderr for r in (passing, failing, broken))
    for secret in (PAT, BAD_PAT, API_KEY, key_files.signing_private.read_text().splitlines()[1]):
        assert secret not in output

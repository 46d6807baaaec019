"""``--auth windows``: the simulator answers like an IIS front set up for Windows authentication
(401 Negotiate/NTLM, never the sign-in page), a PAT over Basic still syncs, and a refused PAT is
named as such by ``satellite check`` and by a sync's error."""

from __future__ import annotations

import httpx
import pytest

from satellite.check import run_checks
from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.sync.once import sync_once
from standins.ado_simulator.app import create_app
from standins.ado_simulator.command import configure_parser
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread

from tests.support import COLLECTION, PAT, assert_mirrors_truth, run_cli, write_config

pytestmark = pytest.mark.integration

WRONG_PAT = "CANARY-WRONG-WINDOWS-PAT-5a6b7c8d"
FAST_RETRY = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.05)


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=11, scale="tiny")


@pytest.fixture(scope="module")
def server(world):
    with serve_in_thread(create_app(world, pats={PAT: frozenset({"full"})}, auth="windows")) as running:
        yield running


def connection_data(server, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}{COLLECTION}/_apis/connectionData", params={"api-version": "7.0-preview"}, headers=headers)


def basic(pat: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f":{pat}".encode()).decode()


def test_missing_or_wrong_credentials_get_the_iis_401_with_negotiate_and_ntlm_never_the_sign_in_page(server):
    answers = [
        connection_data(server),
        connection_data(server, **{"X-TFS-FedAuthRedirect": "Suppress"}),
        connection_data(server, Authorization=basic(WRONG_PAT)),
        connection_data(server, Authorization="Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw=="),
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.headers.get_list("www-authenticate") == ["Negotiate", "NTLM"]
        assert answer.headers["content-type"].startswith("text/html")
        assert "401 - Unauthorized: Access is denied due to invalid credentials." in answer.text
    ok = connection_data(server, Authorization=basic(PAT))
    assert ok.status_code == 200 and ok.json()["authenticatedUser"]


def test_the_command_line_flag_selects_windows_auth_and_refuses_unknown_modes():
    import argparse

    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert parser.parse_args(["--auth", "windows"]).auth == "windows"
    assert parser.parse_args([]).auth == "basic"
    with pytest.raises(ValueError, match="unknown auth mode"):
        create_app(generate_world(seed=1, scale="tiny"), auth="kerberos")


def test_a_sync_with_a_pat_over_basic_delivers_the_world(tmp_path, server, world, receiver, key_files, env):
    config = load_config(write_config(tmp_path, ado_url=f"{server.url}{COLLECTION}", endpoint=receiver.url, key_files=key_files), env=env)
    result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors
    assert_mirrors_truth(receiver, world)


def test_check_names_windows_auth_and_what_the_admin_must_allow(tmp_path, server, receiver, key_files, env):
    path = write_config(tmp_path, ado_url=f"{server.url}{COLLECTION}", endpoint=receiver.url, key_files=key_files, pat=WRONG_PAT)
    results = {r.check: r for r in run_checks(load_config(path, env=env)) if r.integration == "tfs-main"}
    pat = results["pat"]
    assert pat.status == "fail"
    assert "Windows authentication only" in pat.detail and "Negotiate/NTLM" in pat.detail
    assert "does not do Windows" in pat.detail
    assert 'keep the IIS authentication method "Basic" OFF' in pat.hint and "Authorization: Basic" in pat.hint
    assert "https://" in pat.hint  # the simulator is plain HTTP: PATs are supported over HTTPS
    assert results["api-version"].status == "skip"
    command = run_cli("check", "-c", str(path))
    assert command.returncode == 1  # as for any other refused PAT
    assert "Windows authentication only" in command.stdout and 'keep the IIS authentication method "Basic" OFF' in command.stdout
    assert WRONG_PAT not in command.stdout + command.stderr


def test_a_sync_with_a_refused_pat_names_windows_auth_in_its_error_and_status(tmp_path, server, receiver, key_files, env):
    config = load_config(write_config(tmp_path, ado_url=f"{server.url}{COLLECTION}", endpoint=receiver.url,
                                      key_files=key_files, pat=WRONG_PAT), env=env)
    result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert not result.ok and len(result.errors) == 1
    (error,) = result.errors
    assert "asks for Windows authentication only" in error and "WWW-Authenticate: Negotiate, NTLM" in error
    assert "does not do Windows" in error and 'keep the IIS authentication method "Basic" OFF' in error
    assert WRONG_PAT not in error
    assert receiver.stats()["batches"] == 0
    from satellite.agent.status import read_status
    from satellite.store import Store

    store = Store(config.satellite.data_dir)  # what `satellite status` and the status page show
    try:
        (connection,) = [s for s in read_status(store).streams if s.stream == "core.connection"]
    finally:
        store.close()
    assert "Windows authentication only" in connection.last_error

"""Recognising a 401 that asks for Windows authentication only (satellite/ado/windows_auth.py)."""

from __future__ import annotations

import httpx
import pytest

from satellite.ado.responses import decode_response
from satellite.ado.windows_auth import WindowsAuthRequired, asks_windows_auth_only, auth_schemes
from satellite.errors import AdoAuthError


@pytest.mark.parametrize(("challenges", "windows_only"), [
    (["Negotiate", "NTLM"], True),
    (["Negotiate, NTLM"], True),
    (["NTLM"], True),
    (["Negotiate", "NTLM", 'Basic realm="https://tfs/tfs"'], False),  # Basic offered: the PAT itself was refused
    (['Basic realm="https://tfs, tfs"'], False),
    (["Bearer", "Negotiate"], True),
    ([], False),
])
def test_windows_only_means_negotiate_or_ntlm_without_basic(challenges, windows_only):
    assert asks_windows_auth_only(challenges) is windows_only


def test_schemes_keep_the_servers_order_once_each_and_skip_parameters():
    assert auth_schemes(['Negotiate', 'NTLM', 'Basic realm="a, b", charset="UTF-8"', "ntlm"]) == ("Negotiate", "NTLM", "Basic")


def _answer(headers: list[tuple[str, str]]) -> httpx.Response:
    return httpx.Response(401, headers=headers, content=b"<html>401</html>",
                          request=httpx.Request("GET", "https://tfs/tfs/DefaultCollection/_apis/connectionData"))


def test_a_windows_only_401_is_a_windows_auth_error_naming_what_the_admin_must_allow():
    with pytest.raises(WindowsAuthRequired) as raised:
        decode_response(_answer([("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]), "https://tfs/tfs/DefaultCollection")
    text = str(raised.value)
    assert isinstance(raised.value, AdoAuthError) and raised.value.status == 401
    assert "WWW-Authenticate: Negotiate, NTLM" in text and "does not do Windows" in text and '"Basic" OFF' in text


def test_a_401_offering_basic_stays_a_plain_refused_pat():
    with pytest.raises(AdoAuthError) as raised:
        decode_response(_answer([("WWW-Authenticate", 'Basic realm="https://tfs/tfs"')]), "c")
    assert not isinstance(raised.value, WindowsAuthRequired) and "refused the PAT (HTTP 401" in str(raised.value)

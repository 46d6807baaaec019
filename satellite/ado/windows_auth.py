"""A server that asks for Windows authentication only: recognising its 401 and saying what to do.

An IIS site set up for Windows authentication answers a request it cannot authenticate with 401
and ``WWW-Authenticate: Negotiate`` / ``NTLM`` (no ``Basic``). The satellite only sends a PAT
over Basic and does not do Windows (Negotiate, NTLM or Kerberos) authentication, so such a 401
means the PAT did not get through: it is wrong, expired or revoked, or PAT authentication does not
reach Azure DevOps Server. Microsoft: "When IIS Basic Authentication is enabled on your windows
machine, it prevents you from using personal access tokens (PATs)"; Azure DevOps Server checks
PATs itself, beside Windows authentication, with IIS Basic authentication off.
"""

from __future__ import annotations

from collections.abc import Iterable

from satellite.errors import AdoAuthError

__all__ = ["WINDOWS_AUTH_FIX", "WindowsAuthRequired", "asks_windows_auth_only", "auth_schemes", "windows_auth_message"]

_WINDOWS = frozenset({"negotiate", "ntlm", "kerberos"})
_PAT_CAPABLE = frozenset({"basic"})

WINDOWS_AUTH_FIX = (
    "check that the PAT is valid, not expired and was created on this server; if it is, ask the server admin to allow"
    " PAT authentication (a PAT sent as HTTP Basic) on the Azure DevOps Server site: keep the IIS authentication method \"Basic\" OFF"
    " on that site (Microsoft: enabling it prevents PATs; Azure DevOps Server checks PATs itself, beside Windows"
    " authentication), and let `Authorization: Basic` through any proxy, load balancer or rule in front of it that"
    " allows only Windows authentication (Negotiate/NTLM)"
)


class WindowsAuthRequired(AdoAuthError):
    """401 with Windows-authentication challenges only (Negotiate/NTLM): the PAT did not get through."""


def auth_schemes(challenges: Iterable[str]) -> tuple[str, ...]:
    """The schemes of ``WWW-Authenticate`` values (``Negotiate``, ``Basic realm="x"``, ...) in the
    server's order, once each, whether each comes in its own header or several in one."""
    schemes: dict[str, str] = {}
    for value in challenges:
        for part in value.split(","):
            token = part.strip().split(" ", 1)[0]
            if token and "=" not in token and '"' not in token:
                schemes.setdefault(token.lower(), token)
    return tuple(schemes.values())


def asks_windows_auth_only(challenges: Iterable[str]) -> bool:
    """True when the challenges offer Windows authentication and no scheme a PAT can use (Basic)."""
    schemes = {s.lower() for s in auth_schemes(challenges)}
    return bool(schemes & _WINDOWS) and not schemes & _PAT_CAPABLE


def windows_auth_message(collection: str, schemes: tuple[str, ...]) -> str:
    """What a sync reports for such a 401 (no credential in it); ``schemes`` from ``auth_schemes``."""
    offered = ", ".join(schemes)
    return (
        f"{collection} refused the PAT and asks for Windows authentication only (HTTP 401, WWW-Authenticate: {offered}):"
        " the satellite authenticates with a PAT over Basic and does not do Windows (Negotiate/NTLM/Kerberos)"
        f" authentication; {WINDOWS_AUTH_FIX}"
    )

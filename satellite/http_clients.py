"""TLS options and the one way an HTTP client is built, for both ends the satellite talks to
(the Azure DevOps Server and the SEI endpoint): certificate checks, a corporate CA bundle, a
proxy (or the environment's), timeouts and the satellite's User-Agent.

    client = build_http_client(TlsOptions(ca_bundle=Path("corp-ca.pem")), proxy=None, timeout=30)
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import httpx

from satellite import __version__

__all__ = ["TlsOptions", "USER_AGENT", "build_http_client"]

USER_AGENT = f"sei-satellite/{__version__}"


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """Whether to verify the server's certificate, and against which CA bundle (PEM) if not the system's."""

    verify: bool = True
    ca_bundle: Path | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> "TlsOptions":
        """From a config ``tls:`` section (``verify``, ``ca_bundle``)."""
        return cls(verify=settings.verify, ca_bundle=settings.ca_bundle)

    def httpx_verify(self) -> ssl.SSLContext | bool:
        if not self.verify:
            return False
        if self.ca_bundle is not None:
            return ssl.create_default_context(cafile=str(self.ca_bundle))
        return True


def build_http_client(
    tls: TlsOptions,
    *,
    proxy: str | None,
    timeout: float | httpx.Timeout,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    max_connections: int | None = None,
    transport: httpx.BaseTransport | None = None,
    follow_redirects: bool = False,
) -> httpx.Client:
    """An ``httpx.Client``: TLS as configured, the given proxy or else the environment's
    (``HTTPS_PROXY``...), the satellite's User-Agent, redirects not followed unless asked."""
    limits = (httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
              if max_connections else httpx.Limits())
    return httpx.Client(
        base_url=base_url.rstrip("/") + "/" if base_url else "",
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        verify=tls.httpx_verify(),
        proxy=proxy,
        trust_env=proxy is None,
        timeout=timeout,
        limits=limits,
        transport=transport,
        follow_redirects=follow_redirects,
    )

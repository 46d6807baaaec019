"""TLS options and the one way an HTTP client is built, for both ends the satellite talks to
(the Azure DevOps Server and the SEI endpoint): certificate checks, a corporate CA bundle, a
proxy (or the environment's), timeouts and the satellite's User-Agent.

    client = build_http_client(TlsOptions(ca_bundle=Path("corp-ca.pem")), proxy=None, timeout=30)
    shared = build_client_lanes(TlsOptions(), proxy=None, timeout=30, lanes=8)   # for several threads

A client that several threads use at once is always ``build_client_lanes`` (see ``satellite.http_lanes``
for why one ``httpx.Client`` must not be shared between threads). With no proxy, its lanes are
``DirectLane``s on libcurl (``satellite.http_curl``: a fifth of httpx's CPU per request); through a
proxy (configured or from the environment), ``httpx.Client``s on httpx's own transport.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import httpcore
import httpx

from satellite import __version__
from satellite.http_curl import CurlTls, CurlTransport
from satellite.http_lanes import ClientLanes
from satellite.http_socket_reads import BufferedReadsBackend

__all__ = ["TlsOptions", "USER_AGENT", "KEEPALIVE_EXPIRY_S", "build_http_client", "build_client_lanes", "use_buffered_reads"]

USER_AGENT = f"sei-satellite/{__version__}"
KEEPALIVE_EXPIRY_S = 5.0  # a connection idle this long is closed rather than reused (httpx's default)


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """Whether to verify the server's certificate, and against which CA bundle (PEM) if not the system's."""

    verify: bool = True
    ca_bundle: Path | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> "TlsOptions":
        """From a config ``tls:`` section (``verify``, ``ca_bundle``)."""
        return cls(verify=settings.verify, ca_bundle=settings.ca_bundle)

    def curl_tls(self) -> CurlTls:
        """The same checks for libcurl: this CA bundle, else ``SSL_CERT_FILE``/``SSL_CERT_DIR`` as httpx
        reads them, else certifi's bundle (httpx's default)."""
        if not self.verify:
            return CurlTls(verify=False)
        if self.ca_bundle is not None:
            return CurlTls(ca_file=str(self.ca_bundle))
        if os.environ.get("SSL_CERT_FILE"):
            return CurlTls(ca_file=os.environ["SSL_CERT_FILE"])
        return CurlTls(ca_dir=os.environ.get("SSL_CERT_DIR") or None)

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
    """An ``httpx.Client`` for one thread at a time: TLS as configured, the given proxy or else the
    environment's (``HTTPS_PROXY``...), the satellite's User-Agent, redirects not followed unless asked."""
    return _client(tls.httpx_verify(), proxy=proxy, timeout=timeout, base_url=base_url, headers=headers,
                   max_connections=max_connections, transport=transport, follow_redirects=follow_redirects)


def build_client_lanes(
    tls: TlsOptions,
    *,
    proxy: str | None,
    timeout: float | httpx.Timeout,
    lanes: int,
    base_url: str = "",
    headers: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    transport_factory: Callable[[], httpx.BaseTransport] | None = None,
) -> ClientLanes:
    """A client for several threads at once: up to ``lanes`` connections, each used by one thread at a
    time (as ``build_http_client`` otherwise); a request waits for a free one up to the pool timeout.

    ``transport``: one transport shared by every lane (a stateless mock); ``transport_factory``: one
    made per lane (a real connection pool must not be shared: ``satellite.http_lanes``)."""
    if transport is not None and transport_factory is not None:
        raise ValueError("give transport or transport_factory, not both")
    if proxy is None and not _environment_proxied():
        curl_tls = tls.curl_tls()

        def direct_lane() -> DirectLane:
            made = transport if transport is not None else (transport_factory or (lambda: CurlTransport(curl_tls, keepalive_expiry=KEEPALIVE_EXPIRY_S)))()
            return DirectLane(_request_builder(base_url=base_url, headers=headers, timeout=timeout), made)

        return ClientLanes(direct_lane, lanes, wait=httpx.Timeout(timeout).pool)

    # Through a proxy: httpx's own transport. One TLS context for every lane: building one loads the CA bundle (~40 ms each).
    verify = httpx.create_ssl_context(verify=tls.httpx_verify(), trust_env=proxy is None)

    def lane() -> httpx.Client:
        return _client(verify, proxy=proxy, timeout=timeout, base_url=base_url, headers=headers, max_connections=1,
                       transport=transport_factory() if transport_factory is not None else transport,
                       follow_redirects=False)

    return ClientLanes(lane, lanes, wait=httpx.Timeout(timeout).pool)


class DirectLane:
    """One connection with no proxy: the request built as ``httpx.Client`` builds it (base URL, headers,
    params, body, timeouts) and handed straight to ``transport`` (``CurlTransport``: libcurl sends it and
    keeps the cookies a server sets), without the client's send machinery (auth flows, redirects,
    cookie jar, event hooks: none of which the satellite uses; redirects are not followed), which cost
    more CPU per request than libcurl's whole exchange."""

    def __init__(self, builder: httpx.Client, transport: httpx.BaseTransport) -> None:
        self._builder = builder
        self._transport = transport

    def request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        request = self._builder.build_request(method, url, **kwargs)
        response = self._transport.handle_request(request)
        try:
            response.request = request
            response.read()
        finally:
            response.close()
        return response

    def close(self) -> None:
        self._transport.close()
        self._builder.close()


def _request_builder(*, base_url: str, headers: Mapping[str, str] | None, timeout: float | httpx.Timeout) -> httpx.Client:
    """An ``httpx.Client`` used only to build requests (it sends none: its transport is never asked)."""
    return httpx.Client(base_url=base_url.rstrip("/") + "/" if base_url else "",
                        headers={"User-Agent": USER_AGENT, **(headers or {})}, timeout=timeout, trust_env=False,
                        transport=_NEVER_SENDS)


class _NeverSends(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("a request builder sends nothing")


_NEVER_SENDS = _NeverSends()


def _environment_proxied() -> bool:
    """Whether the environment names a proxy (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, either case),
    as httpx reads it: then every lane is httpx's own, which applies it and ``NO_PROXY``."""
    return any(scheme in ("http", "https", "all") for scheme in urllib.request.getproxies())


def _client(
    verify: ssl.SSLContext | bool,
    *,
    proxy: str | None,
    timeout: float | httpx.Timeout,
    base_url: str,
    headers: Mapping[str, str] | None,
    max_connections: int | None,
    transport: httpx.BaseTransport | None,
    follow_redirects: bool,
) -> httpx.Client:
    limits = (httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                           keepalive_expiry=KEEPALIVE_EXPIRY_S)
              if max_connections else httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY_S))
    client = _Client(
        base_url=base_url.rstrip("/") + "/" if base_url else "",
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        verify=verify,
        proxy=proxy,
        trust_env=proxy is None,
        timeout=timeout,
        limits=limits,
        transport=transport,
        follow_redirects=follow_redirects,
    )
    if transport is None:
        _read_into_buffers(client)
    return client


def _read_into_buffers(client: httpx.Client) -> None:
    """The client's own connection pools (direct and through proxies), before their first connection,
    on the satellite's sockets (``use_buffered_reads``)."""
    for transport in (client._transport, *client._mounts.values()):
        use_buffered_reads(transport)


def use_buffered_reads(transport: httpx.BaseTransport) -> None:
    """``transport``'s connection pool, before its first connection, reading into a buffer per connection
    with one socket call per read (``satellite.http_socket_reads``); anything but httpx's own transport is
    left alone. httpx builds the pools and does not take a network backend: it is set on each (httpcore's
    ``_network_backend``, which every connection the pool opens is given;
    ``tests/unit/test_http_socket_reads.py`` fails if that changes)."""
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.ConnectionPool) and isinstance(getattr(pool, "_network_backend", None), httpcore.SyncBackend):
        pool._network_backend = BufferedReadsBackend()


class _Cookies(httpx.Cookies):
    """httpx's cookies, skipping answers without ``Set-Cookie``: httpx hands every answer to them, and
    they wrap it and its request in urllib's types and copy its headers into an ``email.message.Message``
    for the standard jar (about 5% of the collector's CPU at 16 connections). Cookies are kept and sent
    as before (a load balancer may rely on them)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class _Client(httpx.Client):
    """``httpx.Client`` whose cookies are ``_Cookies`` (its ``cookies`` attribute, read and set)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.cookies = options.get("cookies")

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._kept_cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._kept_cookies = _Cookies(cookies)

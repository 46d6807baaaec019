"""AdoClient over real sockets: TLS verification with and without a corporate CA bundle, and a forward proxy."""

from __future__ import annotations

import http.server
import threading

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from satellite.ado.client import AdoClient, CollectionTarget, TlsOptions
from satellite.errors import AdoTransportError
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from standins.loopback import serve_in_thread
from tests.support import make_ca_and_server_cert

pytestmark = pytest.mark.integration

NO_RETRY = RetryPolicy(max_attempts=1)


def mini_server_app() -> Starlette:
    async def options(request):
        return JSONResponse({"count": 1, "value": [{"id": "p", "area": "core", "resourceName": "projects", "maxVersion": 7.0}]})

    async def projects(request):
        return JSONResponse({"count": 1, "value": [{"id": "p1", "name": "One"}], "seen_version": request.query_params.get("api-version")})

    return Starlette(routes=[Route("/tfs/C/_apis", options, methods=["OPTIONS"]), Route("/tfs/C/_apis/projects", projects)])


def client_for(url: str, **kwargs) -> AdoClient:
    return AdoClient(CollectionTarget(f"{url}/tfs/C", "C"), Secret("pat-value-xyz"), retry=NO_RETRY, **kwargs)


def test_tls_untrusted_certificate_fails_clearly_then_works_with_the_ca_bundle(tmp_path):
    ca_file, cert_file, key_file = make_ca_and_server_cert(tmp_path)
    with serve_in_thread(mini_server_app(), ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as server:
        assert server.url.startswith("https://")
        with client_for(server.url) as client, pytest.raises(AdoTransportError) as info:
            client.api_version()
        assert "not trusted" in str(info.value) and "tls.ca_bundle" in str(info.value)
        with client_for(server.url, tls=TlsOptions(ca_bundle=ca_file)) as client:
            assert client.get("_apis/projects")["value"][0]["id"] == "p1"


def test_tls_expired_certificate_is_named(tmp_path):
    ca_file, cert_file, key_file = make_ca_and_server_cert(tmp_path, expired=True)
    with serve_in_thread(mini_server_app(), ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as server:
        with client_for(server.url, tls=TlsOptions(ca_bundle=ca_file)) as client, pytest.raises(AdoTransportError, match="expired"):
            client.api_version()


class _ForwardProxy(http.server.BaseHTTPRequestHandler):
    """A minimal HTTP forward proxy (absolute-form request targets), counting what it relays."""

    seen: list[str] = []

    def _relay(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection", "host")}
        upstream = httpx.request(self.command, self.path, headers=headers)
        self.send_response(upstream.status_code)
        for key in ("content-type", "x-ms-continuationtoken"):
            if key in upstream.headers:
                self.send_header(key, upstream.headers[key])
        self.send_header("content-length", str(len(upstream.content)))
        self.end_headers()
        self.wfile.write(upstream.content)

    do_GET = do_OPTIONS = _relay

    def log_message(self, *args) -> None:
        pass


def test_requests_go_through_the_configured_proxy():
    _ForwardProxy.seen = []
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        with serve_in_thread(mini_server_app()) as server:
            with client_for(server.url, proxy=f"http://127.0.0.1:{proxy.server_address[1]}") as client:
                assert client.get("_apis/projects")["seen_version"] == "7.0"
        assert [s.split(" ")[0] for s in _ForwardProxy.seen] == ["OPTIONS", "GET"]
        assert all(s.split(" ")[1].startswith(server.url) for s in _ForwardProxy.seen)
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)

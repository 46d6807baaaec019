"""An httpx transport on libcurl (pycurl): one kept-alive connection, each answer read whole in C.

    transport = CurlTransport(CurlTls(verify=True, ca_file="/etc/corp-ca.pem"))
    response = transport.handle_request(client.build_request("GET", url))   # one thread at a time
    response.read()

Why. A backfill makes tens of thousands of requests and the satellite's threads share one GIL. Through
``httpx.Client`` and httpcore (h11, a pure-Python HTTP/1.1 parser) a small answer cost 690-770 us of
the satellite's CPU on the benchmark host; this transport, called straight from a lane
(``satellite.http_clients``), 115-160 us: libcurl sends the request, parses the answer and reads
the body with the GIL let go, and Python sees only the finished answer
(``benchmarks/client_overhead.py``).

What it keeps from httpx's own transport: ``httpx.Request`` in, ``httpx.Response`` out (its body
still encoded: httpx decodes gzip, deflate and zstd as before), httpx's exceptions for every
network failure (a certificate that fails verification says ``CERTIFICATE_VERIFY_FAILED``, as Python's
ssl does), the request's timeouts (connect; read: no byte for that long), redirects not followed,
certificates checked against the CA bundle httpx would use (``certifi``'s, unless one is given).
Cookies a server sets (a load balancer's affinity) are kept per connection by libcurl's cookie engine
and sent back. A connection idle longer than ``keepalive_expiry`` is not reused. Only ``http`` and
``https`` URLs; no proxy, not even one from the environment (``satellite.http_clients`` uses httpx's
own transport when a proxy applies).

Not thread-safe: one thread at a time per transport (what a lane is).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import certifi
import httpx
import pycurl

__all__ = ["CurlTls", "CurlTransport"]

_CLOSED = "the transport is closed"
BUFFER_BYTES = 256 * 1024  # libcurl's receive buffer per handle: most answers reach Python in one piece
_NOT_SENT = frozenset({b"host", b"content-length", b"transfer-encoding"})  # libcurl writes its own


@dataclass(frozen=True, slots=True)
class CurlTls:
    """Certificate checks: off (``verify=False``), or against ``ca_file`` (PEM), else certifi's bundle;
    ``ca_dir`` (a hashed directory, ``SSL_CERT_DIR``) is searched beside the bundle (httpx: instead of it)."""

    verify: bool = True
    ca_file: str | None = None
    ca_dir: str | None = None


class CurlTransport(httpx.BaseTransport):
    """One libcurl handle: one connection, kept alive between requests; see the module docstring."""

    def __init__(self, tls: CurlTls = CurlTls(), *, keepalive_expiry: float = 5.0) -> None:
        self._tls = tls
        self._max_age = max(1, math.ceil(keepalive_expiry))
        self._curl: pycurl.Curl | None = pycurl.Curl()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        curl = self._curl
        if curl is None:
            raise RuntimeError(_CLOSED)
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol '{request.url.scheme}://'.",
                                            request=request)
        body = request.read()
        answer = _Answer()
        curl.reset()  # every option back to its default; the connection, its cookies and TLS session stay
        self._configure(curl, request, body, answer)
        try:
            curl.perform()
        except pycurl.error as exc:
            raise _httpx_error(exc, curl, request) from None
        version, reason, headers, content = answer.parts()
        return httpx.Response(curl.getinfo(pycurl.RESPONSE_CODE), headers=headers, stream=httpx.ByteStream(content),
                              request=request, extensions={"http_version": version, "reason_phrase": reason})

    def close(self) -> None:
        curl, self._curl = self._curl, None
        if curl is not None:
            curl.close()

    def _configure(self, curl: pycurl.Curl, request: httpx.Request, body: bytes, answer: "_Answer") -> None:
        setopt = curl.setopt
        setopt(pycurl.URL, str(request.url))
        setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.PROXY, "")  # never a proxy from the environment: the caller decides
        setopt(pycurl.COOKIEFILE, "")  # the cookie engine, in memory (the cookies themselves outlive a reset)
        setopt(pycurl.MAXAGE_CONN, self._max_age)
        setopt(pycurl.BUFFERSIZE, BUFFER_BYTES)
        tls = self._tls
        if tls.verify:
            setopt(pycurl.CAINFO, tls.ca_file or certifi.where())
            if tls.ca_dir:
                setopt(pycurl.CAPATH, tls.ca_dir)
        else:
            setopt(pycurl.SSL_VERIFYPEER, 0)
            setopt(pycurl.SSL_VERIFYHOST, 0)
        timeouts = request.extensions.get("timeout", {})
        if timeouts.get("connect") is not None:
            setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(timeouts["connect"] * 1000)))
        if timeouts.get("read") is not None:  # no byte for this long (whole seconds: libcurl's unit)
            setopt(pycurl.LOW_SPEED_LIMIT, 1)
            setopt(pycurl.LOW_SPEED_TIME, max(1, math.ceil(timeouts["read"])))
        method = request.method
        if method == "GET" and not body:
            setopt(pycurl.HTTPGET, 1)
        elif method == "HEAD":
            setopt(pycurl.NOBODY, 1)
        else:
            setopt(pycurl.CUSTOMREQUEST, method)
            if body or method in ("POST", "PUT", "PATCH"):
                setopt(pycurl.POSTFIELDSIZE_LARGE, len(body))  # first: the body may hold NUL bytes
                setopt(pycurl.POSTFIELDS, body)  # not copied: pycurl holds the bytes until the next reset
        headers = [b"%s: %s" % (name, value) for name, value in request.headers.raw if name.lower() not in _NOT_SENT]
        headers.append(b"Expect:")  # no 100-continue round trip before a body
        setopt(pycurl.HTTPHEADER, headers)
        setopt(pycurl.HEADER, 1)
        setopt(pycurl.WRITEFUNCTION, answer.written.write)


class _Answer:
    """What libcurl hands back: the header block and the body in one stream (``HEADER``), cut apart
    after the exchange. Each call back into Python waits for the GIL; one write callback for the whole
    answer (a buffer of ``BUFFER_BYTES``), not one per header line, keeps that to once or twice a request."""

    __slots__ = ("written",)

    def __init__(self) -> None:
        self.written = io.BytesIO()

    def parts(self) -> tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes]:
        """(HTTP version, reason phrase, headers, body) of the final response (any 1xx skipped; a HEAD
        answer has no body: libcurl reads none)."""
        written = self.written.getvalue()
        start = 0
        while True:
            end = written.find(b"\r\n\r\n", start)
            block_end = len(written) if end < 0 else end
            lines = written[start:block_end].split(b"\r\n")
            version, _, rest = lines[0].partition(b" ")
            code, _, reason = rest.partition(b" ")
            start = len(written) if end < 0 else end + 4
            if not (code.startswith(b"1") and len(code) == 3) or start >= len(written):
                break
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            if line[:1] in (b" ", b"\t") and headers:  # an obsolete folded continuation
                name, previous = headers[-1]
                headers[-1] = (name, previous + b" " + line.strip())
                continue
            name, colon, value = line.partition(b":")
            if colon and name.strip():
                headers.append((name.strip(), value.strip()))
        return version, reason, headers, written[start:]


def _httpx_error(exc: pycurl.error, curl: pycurl.Curl, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception for a libcurl failure (its message only: libcurl names no header or credential)."""
    code, message = exc.args[0], str(exc.args[1]) if len(exc.args) > 1 else ""
    if code == pycurl.E_OPERATION_TIMEDOUT:
        connected = curl.getinfo(pycurl.CONNECT_TIME) > 0
        return (httpx.ReadTimeout if connected else httpx.ConnectTimeout)(message, request=request)
    if code == pycurl.E_PEER_FAILED_VERIFICATION:
        return httpx.ConnectError(f"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: {message}", request=request)
    if code in _CONNECT_ERRORS:
        return httpx.ConnectError(message, request=request)
    if code in _PROTOCOL_ERRORS:
        return httpx.RemoteProtocolError(message or "Server disconnected without sending a response.", request=request)
    if code == pycurl.E_SEND_ERROR:
        return httpx.WriteError(message, request=request)
    return httpx.ReadError(message, request=request)


_CONNECT_ERRORS = frozenset({
    pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_CONNECT, pycurl.E_SSL_CONNECT_ERROR, pycurl.E_SSL_CERTPROBLEM,
    pycurl.E_SSL_CACERT_BADFILE, pycurl.E_SSL_CIPHER, pycurl.E_SSL_ENGINE_NOTFOUND, pycurl.E_URL_MALFORMAT,
})
_PROTOCOL_ERRORS = frozenset({
    pycurl.E_GOT_NOTHING, pycurl.E_FTP_WEIRD_SERVER_REPLY,  # 8: CURLE_WEIRD_SERVER_REPLY since libcurl 7.51
    pycurl.E_PARTIAL_FILE, pycurl.E_UNSUPPORTED_PROTOCOL,
    pycurl.E_BAD_CONTENT_ENCODING,
})

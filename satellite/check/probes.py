"""Network probes for ``satellite check``: DNS, TCP and TLS to one URL, each with a short timeout.

    results = network_checks(NetworkTarget(...), timeout=5.0)

With a proxy, DNS and TCP are checked against the proxy (it resolves and connects to the server
itself) and TLS is checked through a CONNECT tunnel, the way the HTTP client goes. No retries: a
check answers fast.
"""

from __future__ import annotations

import base64
import ipaddress
import queue
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID

from satellite.check.result import CheckResult, failed, passed, skipped

__all__ = ["NetworkTarget", "network_checks", "ssl_context", "CONNECT_TIMEOUT"]

CONNECT_TIMEOUT = 5.0

# OpenSSL X509_V_ERR_* codes (ssl.SSLCertVerificationError.verify_code)
_NOT_YET_VALID, _EXPIRED = 9, 10
_SELF_SIGNED_LEAF, _SELF_SIGNED_IN_CHAIN, _NO_LOCAL_ISSUER, _UNVERIFIABLE_LEAF, _NO_ISSUER = 18, 19, 20, 21, 2
_HOST_MISMATCH, _IP_MISMATCH = 62, 64


@dataclass(frozen=True, slots=True)
class NetworkTarget:
    """Where to probe and how the satellite is configured to reach it.

    Attributes:
        integration: the label of the result lines (integration id or ``SEI``).
        url: the URL the satellite talks to.
        verify / ca_bundle: the TLS settings in force for it.
        proxy: the proxy URL in force (may hold credentials: only its host and port are shown).
        url_key / proxy_key / tls_key: where in the config file each setting lives, for hints
            (e.g. "integrations[0].url", "integrations[0].proxy", "integrations[0].tls").
    """

    integration: str
    url: str
    verify: bool
    ca_bundle: object | None
    proxy: str | None
    url_key: str
    proxy_key: str
    tls_key: str


@dataclass(frozen=True, slots=True)
class _Host:
    host: str
    port: int


def _host_of(url: str) -> tuple[_Host, bool]:
    parts = urlsplit(url)
    https = parts.scheme == "https"
    return _Host(parts.hostname or "", parts.port or (443 if https else 80)), https


def _show(host: _Host) -> str:
    return f"[{host.host}]:{host.port}" if ":" in host.host else f"{host.host}:{host.port}"


def ssl_context(verify: bool, ca_bundle: object | None) -> ssl.SSLContext:
    """The TLS context the satellite's HTTP clients use with these settings."""
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_bundle is not None:
        return ssl.create_default_context(cafile=str(ca_bundle))
    return httpx.create_ssl_context()  # what httpx trusts by default (certifi, or SSL_CERT_FILE)


# -- DNS -------------------------------------------------------------------------------------


def _resolve(host: _Host, timeout: float) -> list[tuple]:
    """getaddrinfo with a deadline (it has none of its own): runs in a daemon thread."""
    answer: queue.Queue = queue.Queue(maxsize=1)

    def lookup() -> None:
        try:
            answer.put(socket.getaddrinfo(host.host, host.port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.put(exc)

    threading.Thread(target=lookup, daemon=True, name="check-dns").start()
    try:
        result = answer.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"no answer within {timeout:g} s") from None
    if isinstance(result, BaseException):
        raise result
    return result


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# -- TCP -------------------------------------------------------------------------------------


def _connect(addresses: list[tuple], timeout: float) -> tuple[socket.socket, str]:
    """A connected socket to the first address that accepts, and that address as text."""
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in addresses[:4]:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
            return sock, str(sockaddr[0])
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError("no address to connect to")


def _tcp_failure(exc: OSError, timeout: float) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: nothing listens on that port (or a firewall rejects it)"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g} s: a firewall may be dropping the connection"
    return f"cannot connect: {exc.strerror or exc.__class__.__name__}"


# -- TLS -------------------------------------------------------------------------------------


def _tunnel(sock: socket.socket, proxy_url: str, target: _Host, timeout: float) -> None:
    """Open an HTTP CONNECT tunnel through an (already connected) forward proxy."""
    parts = urlsplit(proxy_url)
    lines = [f"CONNECT {_show(target)} HTTP/1.1", f"Host: {_show(target)}"]
    if parts.username is not None:
        token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    sock.settimeout(timeout)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    received = b""
    while b"\r\n\r\n" not in received and len(received) < 16384:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    status_line = received.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[1].startswith("2"):
        raise _ProxyRefused(status_line or "the proxy closed the connection")


class _ProxyRefused(Exception):
    pass


def _name_of(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={common[0].value}" if common else name.rfc4514_string() or "(no name)"


def _describe_cert(der: bytes | None) -> dict[str, str]:
    """subject, issuer, names, not_after of a DER certificate ({} if there is none)."""
    if not der:
        return {}
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return {}
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.DNSName)] + [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    return {
        "subject": _name_of(cert.subject),
        "issuer": _name_of(cert.issuer),
        "self_signed": "yes" if cert.subject == cert.issuer else "",
        "names": ", ".join(names) or _name_of(cert.subject),
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
        "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC"),
    }


class _Opener:
    """Opens a TCP connection to the target, directly or through the proxy's CONNECT tunnel."""

    def __init__(self, endpoint: _Host, via: _Host, proxy: str | None, addresses: list[tuple], timeout: float) -> None:
        self.endpoint, self.via, self.proxy, self.addresses, self.timeout = endpoint, via, proxy, addresses, timeout

    def open(self) -> socket.socket:
        sock, _ = _connect(self.addresses, self.timeout)
        if self.proxy:
            try:
                _tunnel(sock, self.proxy, self.endpoint, self.timeout)
            except BaseException:
                sock.close()
                raise
        return sock

    def handshake(self, context: ssl.SSLContext) -> ssl.SSLSocket:
        sock = self.open()
        try:
            tls = context.wrap_socket(sock, server_hostname=self.endpoint.host, do_handshake_on_connect=False)
            tls.settimeout(self.timeout)
            tls.do_handshake()
            return tls
        except BaseException:
            sock.close()
            raise

    def peer_certificate(self) -> bytes | None:
        """The server's certificate without verifying it (to name what failed)."""
        context = ssl_context(False, None)
        try:
            with self.handshake(context) as tls:
                return tls.getpeercert(binary_form=True)
        except (OSError, _ProxyRefused):
            return None


def _tls_check(target: NetworkTarget, opener: _Opener, shown: str) -> CheckResult:
    label, key = target.integration, target.tls_key
    bundle_key = f"{key}.ca_bundle"
    try:
        context = ssl_context(target.verify, target.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        return failed(label, None, "tls", shown, f"cannot load the CA bundle: {exc.__class__.__name__}",
                      f"point {bundle_key} at a readable PEM file of CA certificates")
    started = time.monotonic()
    try:
        with opener.handshake(context) as tls:
            version = tls.version() or "TLS"
            info = _describe_cert(tls.getpeercert(binary_form=True))
    except ssl.SSLCertVerificationError as exc:
        return _verification_failure(target, opener, shown, exc)
    except _ProxyRefused as exc:
        return failed(label, None, "tls", shown, f"the proxy refused to open a tunnel: {exc}",
                      f"check {target.proxy_key}: the proxy must allow CONNECT to this host and port (and accept its credentials)")
    except (TimeoutError, socket.timeout):
        return failed(label, None, "tls", shown, f"the TLS handshake did not finish within {opener.timeout:g} s",
                      f"is this port serving HTTPS? check {target.url_key}")
    except ssl.SSLError as exc:
        reason = exc.reason or exc.__class__.__name__
        hint = f"is this port serving HTTPS? check {target.url_key} (http:// or https://, and the port)"
        return failed(label, None, "tls", shown, f"TLS handshake failed: {reason}", hint)
    except OSError as exc:
        return failed(label, None, "tls", shown, f"the connection failed during the TLS handshake: {exc.strerror or exc.__class__.__name__}")
    millis = (time.monotonic() - started) * 1000
    about = f"certificate for {info.get('names', '?')} issued by {info.get('issuer', '?')}, valid until {info.get('not_after', '?')}"
    if not target.verify:
        return passed(label, None, "tls", shown, f"{version} handshake, certificate NOT verified ({key}.verify: false); {about}",
                      f"verification is off: set {key}.ca_bundle to the issuing CA's PEM and remove {key}.verify: false")
    return passed(label, None, "tls", shown, f"{version}, {about} (verified, {millis:.0f} ms)")


def _verification_failure(target: NetworkTarget, opener: _Opener, shown: str, exc: ssl.SSLCertVerificationError) -> CheckResult:
    label, bundle_key = target.integration, f"{target.tls_key}.ca_bundle"
    info = _describe_cert(opener.peer_certificate())
    code = exc.verify_code
    subject = info.get("subject", "the server")
    trust_hint = (
        f"if the certificate is right, trust its issuing CA: save the CA certificate (PEM) on this machine and set"
        f" `{bundle_key}: /path/ca.pem`"
    )
    if code == _EXPIRED:
        detail = f"the certificate has expired: {subject} was valid until {info.get('not_after', '?')}"
        hint = "renew the server's certificate (a CA bundle cannot make an expired certificate valid); check this machine's clock"
    elif code == _NOT_YET_VALID:
        detail = f"the certificate is not valid yet: {subject} is valid from {info.get('not_before', '?')}"
        hint = "check this machine's clock (and the server's certificate dates)"
    elif code in (_HOST_MISMATCH, _IP_MISMATCH):
        detail = f"the certificate is for another host name: it names {info.get('names', '?')}, not {opener.endpoint.host}"
        hint = f"use a host name the certificate names in {target.url_key}, or reissue the certificate for {opener.endpoint.host}"
    elif code == _SELF_SIGNED_LEAF or info.get("self_signed"):
        detail = f"the certificate is self-signed ({subject}) and not trusted"
        hint = f"if this is the right server, trust its certificate: save it (PEM) on this machine and set `{bundle_key}: /path/cert.pem`"
    elif code in (_SELF_SIGNED_IN_CHAIN, _NO_LOCAL_ISSUER, _UNVERIFIABLE_LEAF, _NO_ISSUER):
        detail = f"the certificate is not trusted: {subject} is issued by {info.get('issuer', 'an unknown CA')}, a CA this machine does not know"
        hint = trust_hint
    else:
        detail = f"the certificate does not verify: {exc.verify_message or exc.reason}"
        hint = trust_hint
    if target.ca_bundle is not None and code not in (_EXPIRED, _NOT_YET_VALID, _HOST_MISMATCH, _IP_MISMATCH):
        hint = f"the CA bundle in {bundle_key} does not hold the CA that issued this certificate; add that CA's PEM to it"
    return failed(label, None, "tls", shown, detail, hint)


# -- all three ---------------------------------------------------------------------------------


def network_checks(target: NetworkTarget, timeout: float = CONNECT_TIMEOUT) -> list[CheckResult]:
    """DNS, TCP and (for https) TLS lines for one URL; after a failure the rest are skipped."""
    endpoint, https = _host_of(target.url)
    label = target.integration
    via, through = endpoint, ""
    if target.proxy:
        via, _ = _host_of(target.proxy)
        through = " (proxy)"
    results: list[CheckResult] = []
    tls_target = _show(endpoint) + (f" via {_show(via)}" if target.proxy else "")
    where = f"{target.proxy_key}" if target.proxy else f"{target.url_key}"

    def skip_rest(after: str, reason: str) -> list[CheckResult]:
        rest = [("tcp", _show(via) + through)] if after == "dns" else []
        if https:
            rest.append(("tls", tls_target))
        return [skipped(label, None, check, shown, reason) for check, shown in rest]

    # DNS
    if _is_ip(via.host):
        addresses = _resolve(via, timeout)
        results.append(passed(label, None, "dns", via.host + through, "an IP address: no name to resolve"))
    else:
        try:
            addresses = _resolve(via, timeout)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc) or exc.__class__.__name__
            hint = (f"check the host name in {where}; on this machine try `nslookup {via.host}`"
                    + ("" if target.proxy else f"; if it is reached through a proxy, set {target.proxy_key}"))
            results.append(failed(label, None, "dns", via.host + through, f"{via.host} does not resolve ({reason})", hint))
            return results + skip_rest("dns", "the host name does not resolve")
        shown = sorted({str(a[4][0]) for a in addresses})
        more = f" (+{len(shown) - 3} more)" if len(shown) > 3 else ""
        results.append(passed(label, None, "dns", via.host + through, f"resolves to {', '.join(shown[:3])}{more}"))

    # TCP
    started = time.monotonic()
    try:
        sock, address = _connect(addresses, timeout)
    except OSError as exc:
        hint = f"check the host and port in {where}, that the server is up, and that a firewall lets this machine connect to {_show(via)}"
        results.append(failed(label, None, "tcp", _show(via) + through, _tcp_failure(exc, timeout), hint))
        return results + skip_rest("tcp", "no TCP connection")
    sock.close()
    results.append(passed(label, None, "tcp", _show(via) + through, f"connected to {address} in {(time.monotonic() - started) * 1000:.0f} ms"))

    # TLS
    if https:
        results.append(_tls_check(target, _Opener(endpoint, via, target.proxy, addresses, timeout), tls_target))
    return results

"""The libcurl transport (``satellite.http_curl``) and the direct lanes on it, over loopback sockets: a
scripted server answers each connection's requests with canned bytes and records what it was sent."""

from __future__ import annotations

import base64
import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from satellite.http_clients import DirectLane, TlsOptions, build_client_lanes
from satellite.http_curl import CurlTransport

PAT_CANARY = "canary-pat-1234567890"
CANARY = "Basic " + base64.b64encode(PAT_CANARY.encode()).decode()  # an Authorization value never shown in an error


@dataclass
class Seen:
    """One request as the server read it: the head's lines, the body, the client port (its connection)."""

    lines: list[str]
    body: bytes
    port: int

    def header(self, name: str) -> list[str]:
        return [line.split(":", 1)[1].strip() for line in self.lines[1:] if line.lower().startswith(name.lower() + ":")]


@dataclass(frozen=True)
class Closing:
    """An answer after which the server closes the connection."""

    data: bytes


@dataclass
class ScriptedServer:
    """Answers request n (over all connections) with ``answers[n](seen)``: bytes to send, ``Closing`` bytes
    to send and close, or None to close without an answer."""

    answers: list[Callable[[Seen], bytes | Closing | None]]
    seen: list[Seen] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, address = self._listener.accept()
            except OSError:
                return
            if self._stop.is_set():
                connection.close()
                return
            thread = threading.Thread(target=self._serve, args=(connection, address[1]), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket, port: int) -> None:
        with connection:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                head, _, pending = pending.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
                while len(pending) < length:
                    pending += connection.recv(65536)
                seen = Seen(lines, pending[:length], port)
                pending = pending[length:]
                self.seen.append(seen)
                index = len(self.seen) - 1
                answer = self.answers[min(index, len(self.answers) - 1)](seen)
                if answer is None:
                    return
                connection.sendall(answer.data if isinstance(answer, Closing) else answer)
                if isinstance(answer, Closing):
                    return

    def close(self) -> None:
        self._stop.set()
        socket.create_connection(self._listener.getsockname()).close()  # wakes the accept, which then sees stop
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=10)


def http(status: str = "200 OK", body: bytes = b'{"value": []}', *headers: str) -> Callable[[Seen], bytes]:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Content-Type: application/json", *headers]
    return lambda seen: ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.fixture
def server() -> Iterator[Callable[..., ScriptedServer]]:
    made: list[ScriptedServer] = []

    def start(*answers: Callable[[Seen], bytes | Closing | None]) -> ScriptedServer:
        made.append(ScriptedServer(list(answers)))
        return made[-1]

    yield start
    for each in made:
        each.close()


@pytest.fixture
def lane() -> Iterator[Callable[..., DirectLane]]:
    """Direct lanes (libcurl) to a base URL, closed afterwards."""
    made: list = []

    def open_lane(base_url: str, timeout: float = 5.0) -> DirectLane:
        lanes = build_client_lanes(TlsOptions(), proxy=None, timeout=timeout, lanes=1, base_url=base_url,
                                   headers={"Authorization": CANARY})
        made.append(lanes)
        return lanes

    yield open_lane
    for lanes in made:
        lanes.close()


def test_an_answer_arrives_whole_with_its_status_reason_headers_and_body(server, lane):
    served = server(http("203 Non-Authoritative Information", b'{"count": 1}', "X-Many: one", "X-Many: two",
                         "Set-Cookie: a=1", "Set-Cookie: b=2"))
    response = lane(served.url).get("_apis/projects?api-version=6.0")
    assert response.status_code == 203
    assert response.reason_phrase == "Non-Authoritative Information"
    assert response.http_version == "HTTP/1.1"
    assert response.json() == {"count": 1}
    assert response.headers.get_list("x-many") == ["one", "two"]
    assert response.headers["content-type"] == "application/json"
    assert str(response.request.url) == served.url + "/_apis/projects?api-version=6.0"
    sent = served.seen[0]
    assert sent.lines[0] == "GET /_apis/projects?api-version=6.0 HTTP/1.1"
    assert sent.header("authorization") == [CANARY]
    assert sent.header("user-agent")[0].startswith("sei-satellite/")
    assert len(sent.header("host")) == 1 and sent.header("expect") == [] and sent.header("content-length") == []


def test_requests_reuse_one_kept_alive_connection_and_send_back_a_cookie_it_was_given(server, lane):
    served = server(http("200 OK", b"{}", "Set-Cookie: affinity=node-2; Path=/"), http())
    client = lane(served.url)
    for _ in range(3):
        assert client.get("_apis/projects").status_code == 200
    assert len({seen.port for seen in served.seen}) == 1
    assert [seen.header("cookie") for seen in served.seen] == [[], ["affinity=node-2"], ["affinity=node-2"]]


def test_a_binary_body_with_nul_bytes_is_posted_as_it_is_then_a_get_on_the_same_handle_has_none(server, lane):
    served = server(http("202 Accepted", b""), http())
    body = bytes(range(256)) * 1000  # NUL bytes, 256 kB
    client = lane(served.url)
    assert client.post("batches", content=body, headers={"Content-Type": "application/octet-stream"}).status_code == 202
    assert client.get("status").status_code == 200
    posted, got = served.seen
    assert posted.lines[0] == "POST /batches HTTP/1.1" and posted.body == body
    assert posted.header("content-length") == [str(len(body))]
    assert posted.header("content-type") == ["application/octet-stream"]
    assert got.lines[0] == "GET /status HTTP/1.1" and got.body == b"" and got.header("content-length") == []


def test_a_json_body_keeps_the_content_type_httpx_gave_it(server, lane):
    served = server(http())
    lane(served.url).post("_apis/wit/wiql", json={"query": "select"})
    assert served.seen[0].header("content-type") == ["application/json"]
    assert served.seen[0].body == b'{"query":"select"}'


def test_a_gzip_answer_is_decoded_by_httpx(server, lane):
    packed = gzip.compress(b'{"value": [1, 2, 3]}')
    served = server(http("200 OK", packed, "Content-Encoding: gzip"))
    response = lane(served.url).get("x")
    assert response.json() == {"value": [1, 2, 3]}
    assert "gzip" in served.seen[0].header("accept-encoding")[0]


def test_an_interim_100_answer_is_skipped_for_the_final_one(server, lane):
    final = http("201 Created", b'{"id": 7}')
    served = server(lambda seen: b"HTTP/1.1 100 Continue\r\n\r\n" + final(seen))
    response = lane(served.url).post("things", content=b"x" * 10)
    assert response.status_code == 201 and response.json() == {"id": 7}


def test_a_redirect_is_returned_not_followed(server, lane):
    served = server(http("302 Found", b"", "Location: https://elsewhere.test/login"))
    response = lane(served.url).get("_apis/projects")
    assert response.status_code == 302 and response.headers["location"] == "https://elsewhere.test/login"
    assert len(served.seen) == 1


def test_a_head_answer_has_no_body(server, lane):
    served = server(lambda seen: b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")
    response = lane(served.url).request("HEAD", "x")
    assert response.status_code == 200 and response.content == b"" and served.seen[0].lines[0] == "HEAD /x HTTP/1.1"


def test_an_html_page_from_a_proxy_comes_through_as_it_is(server, lane):
    served = server(http("200 OK", b"<html><body>Sign in</body></html>", "Content-Type: text/html"))
    response = lane(served.url).get("_apis/projects")
    assert response.text == "<html><body>Sign in</body></html>"


@pytest.mark.parametrize(("answer", "error"), [
    (lambda seen: None, httpx.RemoteProtocolError),  # closed without an answer
    (lambda seen: b"SSH-2.0-OpenSSH_9.6\r\n", httpx.RemoteProtocolError),  # not HTTP at all
    (lambda seen: Closing(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"), httpx.RemoteProtocolError),  # cut short
])
def test_a_broken_answer_is_an_httpx_error_that_names_no_credential(server, lane, answer, error):
    served = server(answer)
    with pytest.raises(error) as raised:
        lane(served.url).get("_apis/projects")
    shown = f"{raised.value} {raised.value.args!r} {raised.value.__cause__!r}"
    assert CANARY.split()[1] not in shown and PAT_CANARY not in shown


def test_an_answer_that_stops_coming_is_a_read_timeout(server, lane):
    release = threading.Event()

    def stall(seen: Seen) -> bytes:
        release.wait(30)
        return b""

    served = server(stall)
    try:
        with pytest.raises(httpx.ReadTimeout):
            lane(served.url, timeout=1.0).get("_apis/projects")
    finally:
        release.set()


def test_a_refused_connection_is_a_connect_error(lane):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with pytest.raises(httpx.ConnectError) as raised:
        lane(f"http://127.0.0.1:{port}").get("_apis/projects")
    assert CANARY not in str(raised.value)


def test_only_http_and_https_urls_are_sent():
    transport = CurlTransport()
    try:
        with pytest.raises(httpx.UnsupportedProtocol):
            transport.handle_request(httpx.Request("GET", "file:///etc/passwd"))
    finally:
        transport.close()
    with pytest.raises(RuntimeError, match="closed"):
        transport.handle_request(httpx.Request("GET", "http://127.0.0.1:9/"))


def test_lanes_are_libcurls_with_no_proxy_and_httpxs_own_when_one_applies(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)

    def first_lane(proxy: str | None) -> object:
        lanes = build_client_lanes(TlsOptions(), proxy=proxy, timeout=5, lanes=1)
        lane = lanes._borrow()
        lanes._give_back(lane)
        lanes.close()
        return lane

    direct = first_lane(None)
    assert isinstance(direct, DirectLane) and isinstance(direct._transport, CurlTransport)
    assert isinstance(first_lane("http://127.0.0.1:3128"), httpx.Client)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert isinstance(first_lane(None), httpx.Client)  # httpx applies the environment's proxy and NO_PROXY


def test_certificates_are_checked_against_the_same_bundle_as_httpx(monkeypatch, tmp_path):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert TlsOptions().curl_tls().ca_file is None  # certifi's, as httpx
    assert TlsOptions(ca_bundle=tmp_path / "corp.pem").curl_tls().ca_file == str(tmp_path / "corp.pem")
    assert TlsOptions(verify=False).curl_tls().verify is False
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    assert TlsOptions().curl_tls().ca_dir == str(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "env.pem"))
    assert TlsOptions().curl_tls().ca_file == str(tmp_path / "env.pem")

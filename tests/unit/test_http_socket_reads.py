"""Socket reads into a buffer per connection: the clients use them, answers arrive whole over plain
TCP and TLS, a connection reads into one buffer, a plain socket blocks with its timeouts in the kernel
(set when they change), timeouts and a closed socket map as httpcore's, TLS in TLS is left alone."""

from __future__ import annotations

import socket
import ssl
import struct
import sys
import threading
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from satellite.http_clients import TlsOptions, build_client_lanes, build_http_client
from satellite.http_socket_reads import BufferedReadsBackend, _BufferedReadsStream
from tests.support import make_ca_and_server_cert

BODY = bytes(range(256)) * 1200  # 300 KiB: several reads of 64 KiB


class LoopbackServer:
    """Answers every request on a kept-alive connection with ``BODY`` (plain or TLS); ``silent`` answers nothing."""

    def __init__(self, tls: ssl.SSLContext | None = None, *, silent: bool = False) -> None:
        self._tls, self._silent = tls, silent
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(connection)
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        try:
            if self._tls is not None:
                connection = self._tls.wrap_socket(connection, server_side=True)
                self._connections.append(connection)
            received = b""
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                received += chunk
                while b"\r\n\r\n" in received:
                    _, received = received.split(b"\r\n\r\n", 1)
                    if not self._silent:
                        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                           b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
        except OSError:
            return

    def close(self) -> None:
        for each in (self._listener, *self._connections):  # shutdown wakes a thread blocked in accept or recv
            try:
                each.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            each.close()
        self._thread.join(5)
        assert not self._thread.is_alive()


@pytest.fixture
def plain_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def tls_server(tmp_path) -> Iterator[tuple[LoopbackServer, TlsOptions]]:
    ca, cert, key = make_ca_and_server_cert(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = LoopbackServer(context)
    yield server, TlsOptions(ca_bundle=ca)
    server.close()


def pools(client: httpx.Client) -> list[httpcore.ConnectionPool]:
    return [transport._pool for transport in (client._transport, *client._mounts.values())]


def test_the_clients_pools_direct_and_through_a_proxy_read_into_buffers():
    with build_http_client(TlsOptions(), proxy="http://127.0.0.1:9", timeout=5) as client:
        assert len(pools(client)) == 2  # the direct pool and the proxy's
        assert all(isinstance(pool._network_backend, BufferedReadsBackend) for pool in pools(client))
    lanes = build_client_lanes(TlsOptions(), proxy="http://127.0.0.1:9", timeout=5, lanes=2)  # direct lanes are libcurl's
    lane = lanes._borrow()
    try:
        assert all(isinstance(pool._network_backend, BufferedReadsBackend) for pool in pools(lane))
    finally:
        lanes._give_back(lane)
        lanes.close()


def test_a_mock_transport_is_left_as_given():
    mock = httpx.MockTransport(lambda request: httpx.Response(200))
    with build_http_client(TlsOptions(), proxy=None, timeout=5, transport=mock) as client:
        assert client._transport is mock


def test_answers_over_plain_tcp_arrive_whole_and_a_connection_reads_into_one_buffer(plain_server):
    with build_http_client(TlsOptions(), proxy=None, timeout=5, max_connections=1) as client:
        first = client.get(f"http://127.0.0.1:{plain_server.port}/a")
        stream = client._transport._pool.connections[0]._connection._network_stream
        buffer = stream._buffer
        second = client.get(f"http://127.0.0.1:{plain_server.port}/b")
        assert first.content == BODY and second.content == BODY
        assert isinstance(stream, _BufferedReadsStream)
        assert client._transport._pool.connections[0]._connection._network_stream is stream  # kept alive
        assert stream._buffer is buffer and len(buffer) == 64 * 1024


def test_answers_over_tls_arrive_whole_through_the_buffer(tls_server):
    server, tls = tls_server
    with build_http_client(tls, proxy=None, timeout=5, max_connections=1) as client:
        assert client.get(f"https://127.0.0.1:{server.port}/a").content == BODY
        stream = client._transport._pool.connections[0]._connection._network_stream
        assert isinstance(stream, _BufferedReadsStream)
        assert isinstance(stream.get_extra_info("socket"), ssl.SSLSocket)
        assert client.get(f"https://127.0.0.1:{server.port}/b").content == BODY
        assert stream.get_extra_info("socket").gettimeout() == 5  # TLS reads with the socket's own timeout


def test_a_read_that_times_out_is_httpx_read_timeout():
    server = LoopbackServer(silent=True)
    try:
        with build_http_client(TlsOptions(), proxy=None, timeout=httpx.Timeout(5, read=0.2)) as client:
            with pytest.raises(httpx.ReadTimeout):
                client.get(f"http://127.0.0.1:{server.port}/")
    finally:
        server.close()


def test_a_read_from_a_closed_socket_is_read_error(plain_server):
    stream = BufferedReadsBackend().connect_tcp("127.0.0.1", plain_server.port, timeout=5)
    stream.get_extra_info("socket").close()
    with pytest.raises(httpcore.ReadError):
        stream.read(1024, timeout=1)


class _InnerOverTls(httpcore.NetworkStream):
    """A stream whose socket is TLS already: its start_tls is TLS inside TLS."""

    def __init__(self) -> None:
        self.tls_in_tls = object()
        self._socket = ssl.create_default_context().wrap_socket(socket.socket(), server_hostname="proxy.example")

    def get_extra_info(self, info: str):
        return self._socket if info == "socket" else None

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return self.tls_in_tls

    def close(self) -> None:
        self._socket.close()


def test_tls_inside_tls_is_httpcores_own_stream():
    inner = _InnerOverTls()
    try:
        stream = _BufferedReadsStream(inner)
        assert stream.start_tls(ssl.create_default_context(), "tfs.example") is inner.tls_in_tls
    finally:
        inner.close()


class _CountingSocket(socket.socket):
    """A socket that records each timeout it is given (``settimeout``, or ``setsockopt`` of one)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timeouts: list[tuple[object, object]] = []

    def settimeout(self, value) -> None:
        self.timeouts.append(("settimeout", value))
        super().settimeout(value)

    def setsockopt(self, level, option, value, *rest) -> None:
        if option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            self.timeouts.append((option, struct.unpack("@ll", value)))
        super().setsockopt(level, option, value, *rest)


class _InnerOver(httpcore.NetworkStream):
    """httpcore's side of a stream: only its socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._socket = sock

    def get_extra_info(self, info: str):
        return self._socket if info == "socket" else None

    def close(self) -> None:
        self._socket.close()


@pytest.fixture
def socket_pair() -> Iterator[tuple[_CountingSocket, socket.socket]]:
    ours, peer = socket.socketpair()
    counting = _CountingSocket(fileno=ours.detach())
    yield counting, peer
    counting.close()
    peer.close()


def _exchange(stream: _BufferedReadsStream, peer: socket.socket, times: int) -> None:
    """``times`` answers read and requests written, each with a 5 s timeout."""
    for _ in range(times):
        peer.sendall(b"answer")
        assert stream.read(1024, timeout=5) == b"answer"
        stream.write(b"request", timeout=5)
        assert peer.recv(1024) == b"request"


@pytest.mark.skipif(sys.platform != "linux", reason="kernel timeouts are used on Linux")
def test_a_plain_socket_blocks_and_its_timeouts_are_set_in_the_kernel_when_they_change(socket_pair):
    sock, peer = socket_pair
    stream = _BufferedReadsStream(_InnerOver(sock))
    _exchange(stream, peer, 3)
    assert sock.gettimeout() is None  # blocking: no poll before each call
    assert struct.unpack("@ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)) == (5, 0)
    assert sock.timeouts == [("settimeout", None), (socket.SO_RCVTIMEO, (5, 0)), (socket.SO_SNDTIMEO, (5, 0))]
    peer.sendall(b"more")
    assert stream.read(1024, timeout=0.25) == b"more"
    assert sock.timeouts[-1] == (socket.SO_RCVTIMEO, (0, 250_000))
    peer.sendall(b"again")
    assert stream.read(1024, timeout=0.25) == b"again"
    assert len(sock.timeouts) == 4  # the same timeout again: nothing set


def test_a_read_that_times_out_on_a_blocking_socket_is_read_timeout(socket_pair):
    sock, _ = socket_pair
    stream = _BufferedReadsStream(_InnerOver(sock))
    with pytest.raises(httpcore.ReadTimeout):
        stream.read(1024, timeout=0.1)  # the peer never answers


def test_a_write_that_cannot_go_out_is_write_timeout(socket_pair):
    sock, _ = socket_pair
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    stream = _BufferedReadsStream(_InnerOver(sock))
    with pytest.raises(httpcore.WriteTimeout):
        stream.write(b"x" * (8 << 20), timeout=0.1)  # the peer never reads


@pytest.mark.skipif(sys.platform != "linux", reason="kernel timeouts are used on Linux")
def test_a_timeout_of_none_clears_the_kernels_timeout(socket_pair):
    sock, peer = socket_pair
    stream = _BufferedReadsStream(_InnerOver(sock))
    peer.sendall(b"a")
    stream.read(16, timeout=2)
    peer.sendall(b"b")
    stream.read(16, timeout=None)
    assert struct.unpack("@ll", sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)) == (0, 0)


def test_without_kernel_timeouts_the_sockets_own_timeout_is_set_when_it_changes(socket_pair, monkeypatch):
    monkeypatch.setattr("satellite.http_socket_reads._KERNEL_TIMEOUTS", False)  # as a TLS socket, or not Linux
    sock, peer = socket_pair
    stream = _BufferedReadsStream(_InnerOver(sock))
    _exchange(stream, peer, 2)
    peer.sendall(b"more")
    stream.read(1024, timeout=3)
    assert sock.timeouts == [("settimeout", 5), ("settimeout", 3)]  # reads and writes share it
    assert sock.gettimeout() == 3

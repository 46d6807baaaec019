"""Socket reads into one buffer per connection, for the connections of a long collection.

    pool._network_backend = BufferedReadsBackend()   # what ``http_clients`` does for each lane

httpcore reads an answer with ``sock.recv(65536)``: each read allocates 64 KiB and shrinks the block in
place to the bytes that came. Thousands of answers a minute, read on many threads between longer-lived
blocks (parsed pages, records), leave glibc's arenas holding free chunks that cannot be given back: in
a sync of the large world (20 min) their free bytes grew from 3 to 17 MiB, most of the growth of its
peak RSS over the medium world's (``benchmarks/memory_probe.py``). Reading into a buffer the
connection keeps (``recv_into``) and copying out exactly the bytes read allocates only what is kept:
the arenas' free bytes stayed at 2-6 MiB, and the peak of the large sync fell by about 3 MiB. A
concurrency-16 backfill of the medium world costs about as much CPU (three alternating runs: 100,
106, 103 satellite CPU s against 100, 96, 100).

The buffer is used for reads straight from a socket: a plain one, or TLS over it. A stream that is
TLS inside TLS (an HTTPS proxy) is httpcore's own and reads as it does.
"""

from __future__ import annotations

import socket
import ssl
import typing

import httpcore

__all__ = ["BufferedReadsBackend", "READ_BUFFER_BYTES"]

READ_BUFFER_BYTES = 64 * 1024  # httpcore's read size (HTTP11Connection.READ_NUM_BYTES)


class BufferedReadsBackend(httpcore.SyncBackend):
    """httpcore's synchronous backend whose TCP streams read into a buffer of their own."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        return _BufferedReadsStream(super().connect_tcp(host, port, timeout, local_address, socket_options))


class _BufferedReadsStream(httpcore.NetworkStream):
    """``inner`` (httpcore's stream over ``socket``), its reads into one buffer and copied out."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket = inner.get_extra_info("socket")
        self._buffer: memoryview | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        buffer = self._buffer
        if buffer is None or len(buffer) < max_bytes:
            buffer = self._buffer = memoryview(bytearray(max(max_bytes, READ_BUFFER_BYTES)))
        try:
            self._socket.settimeout(timeout)
            count = self._socket.recv_into(buffer, max_bytes)
        except socket.timeout as exc:  # as httpcore maps them (its SyncStream.read)
            raise httpcore.ReadTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ReadError(exc) from exc
        return bytes(buffer[:count])

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._buffer = None
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, timeout)
        if isinstance(self._socket, ssl.SSLSocket):  # TLS inside TLS: reads go through an SSLObject, not a socket
            return tls
        return _BufferedReadsStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)

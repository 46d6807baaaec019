"""Socket reads into one buffer per connection, for the connections of a long collection.

    pool._network_backend = BufferedReadsBackend()   # what ``http_clients`` does for each lane

httpcore reads an answer with ``sock.recv(65536)``: each read allocates 64 KiB and shrinks the block in
place to the bytes that came. Thousands of answers a minute, read on many threads between longer-lived
blocks (parsed pages, records), leave glibc's arenas holding free chunks that cannot be given back: in
a sync of the large world (20 min) their free bytes grew from 3 to 17 MiB, most of the growth of its
peak RSS over the medium world's (``benchmarks/memory_probe.py``). Reading into a buffer the
connection keeps (``recv_into``) and copying out exactly the bytes read allocates only what is kept:
the arenas' free bytes stayed at 2-6 MiB, and the peak of the large sync fell by about 3 MiB.

A read or a write is one socket call. httpcore's makes three, each letting the GIL go and waiting to
take it back (``_BufferedReadsStream``). A concurrency-16 backfill of the medium world: 136.8 and
136.0 s against 139.6 and 139.5 (alternating), satellite CPU 101 and 100 s against 105 and 104, mean
request 24.9 ms against 25.5 (``benchmarks/satellite_bench.py --backfill 16``).

The buffer is used for reads straight from a socket: a plain one, or TLS over it. A stream that is
TLS inside TLS (an HTTPS proxy) is httpcore's own and reads as it does.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
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
    """``inner`` (httpcore's stream over ``socket``), its reads into one buffer and copied out.

    Each socket call that blocks lets the GIL go and takes it back, and under load taking it back waits
    for whichever thread holds it. httpcore's stream makes three such calls per read or write
    (``settimeout``'s ioctl, a ``poll`` for the timeout, the ``recv`` or ``send``). Here a timeout is
    set only when it changes, and a plain socket (Linux) stays blocking with the timeout in the kernel
    (``SO_RCVTIMEO``/``SO_SNDTIMEO``), so a read or a write is the one call."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket = inner.get_extra_info("socket")
        self._buffer: memoryview | None = None
        self._kernel_timeouts = _KERNEL_TIMEOUTS and not isinstance(self._socket, ssl.SSLSocket)
        self._timeouts: dict[int, float | None] = {}  # the option (_OWN_TIMEOUT: the socket's own) -> seconds
        if self._kernel_timeouts:
            self._socket.settimeout(None)

    def _use_timeout(self, option: int, timeout: float | None) -> None:
        """``timeout`` for the reads (``SO_RCVTIMEO``) or the writes (``SO_SNDTIMEO``), set when it changes."""
        if not self._kernel_timeouts:
            option = _OWN_TIMEOUT  # one timeout for both ways
        if self._timeouts.get(option, _UNSET) == timeout:
            return
        if option == _OWN_TIMEOUT:
            self._socket.settimeout(timeout)
        else:
            self._socket.setsockopt(socket.SOL_SOCKET, option, _timeval(timeout))
        self._timeouts[option] = timeout

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        buffer = self._buffer
        if buffer is None or len(buffer) < max_bytes:
            buffer = self._buffer = memoryview(bytearray(max(max_bytes, READ_BUFFER_BYTES)))
        try:
            self._use_timeout(socket.SO_RCVTIMEO, timeout)
            count = self._socket.recv_into(buffer, max_bytes)
        except (socket.timeout, BlockingIOError) as exc:  # as httpcore maps them (its SyncStream.read)
            raise httpcore.ReadTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.ReadError(exc) from exc
        return bytes(buffer[:count])

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._use_timeout(socket.SO_SNDTIMEO, timeout)
            self._socket.sendall(buffer)
        except (socket.timeout, BlockingIOError) as exc:
            raise httpcore.WriteTimeout(exc) from exc
        except OSError as exc:
            raise httpcore.WriteError(exc) from exc

    def close(self) -> None:
        self._buffer = None
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        if self._kernel_timeouts:  # the handshake runs with the socket's own timeout, as httpcore's
            self._kernel_timeouts = False
            for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
                self._socket.setsockopt(socket.SOL_SOCKET, option, _timeval(None))
        tls = self._inner.start_tls(ssl_context, server_hostname, timeout)
        if isinstance(self._socket, ssl.SSLSocket):  # TLS inside TLS: reads go through an SSLObject, not a socket
            return tls
        return _BufferedReadsStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


_KERNEL_TIMEOUTS = sys.platform == "linux"
_OWN_TIMEOUT = -1  # not a socket option: the socket's own timeout (TLS, not Linux)
_UNSET = object()


def _timeval(timeout: float | None) -> bytes:
    """``struct timeval`` of ``timeout`` seconds; None (no timeout) is zero, the kernel's "never"."""
    if timeout is None:
        return struct.pack("@ll", 0, 0)
    micros = max(1, round(timeout * 1_000_000))  # zero would be "never"
    return struct.pack("@ll", *divmod(micros, 1_000_000))

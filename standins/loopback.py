"""Run an ASGI app (receiver, simulator) on a loopback socket in a background thread.

The socket is bound before the server starts, so the port is known and free of races:

    with serve_in_thread(app) as server:
        httpx.get(server.url + "/v1/satellite/stats")
"""

from __future__ import annotations

import asyncio
import select
import selectors
import socket
import threading
from dataclasses import dataclass

import uvicorn

__all__ = ["RunningServer", "serve_in_thread", "serve_forever", "bind_socket", "punctual_event_loop"]


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP, and
    # without it every kept-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


_FD_SETSIZE = 1024  # select() takes descriptors below it


class PunctualEpollSelector(selectors.EpollSelector):
    """epoll, waiting the exact timeout. ``epoll_wait`` takes whole milliseconds and Python rounds a
    timeout up, so a timer due in 0.2 ms fires after 1: the simulator's injected latency (20 ms) was
    answered 0.8 ms late at the median of a concurrency-16 backfill. A wait is a ``select()`` on the
    epoll's own descriptor (microseconds; readable when any registered one is), then the events
    without waiting."""

    def select(self, timeout: float | None = None) -> list:
        if timeout is not None and timeout > 0 and self._selector.fileno() < _FD_SETSIZE:
            select.select([self._selector.fileno()], [], [], timeout)
            timeout = 0
        return super().select(timeout)


def punctual_event_loop() -> asyncio.AbstractEventLoop:
    """An asyncio event loop whose timers fire when due, to the microsecond (``PunctualEpollSelector``;
    uvicorn's ``loop`` setting, by import path)."""
    if not hasattr(selectors, "EpollSelector"):  # not Linux
        return asyncio.new_event_loop()
    return asyncio.SelectorEventLoop(PunctualEpollSelector())


def _uvicorn_config(app, log_level: str, ssl_certfile: str | None = None, ssl_keyfile: str | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        server_header=False,
        backlog=2048,
        loop="standins.loopback:punctual_event_loop",
    )


@dataclass
class RunningServer:
    """A server started by ``serve_in_thread``; ``stop()`` ends it and joins its thread."""

    url: str
    port: int
    _server: uvicorn.Server
    _thread: threading.Thread
    _sock: socket.socket

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_in_thread(
    app,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    *,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> RunningServer:
    """Start ``app`` on ``host:port`` in a daemon thread (HTTPS when given a certificate); returns once it accepts connections."""
    sock = bind_socket(host, port)
    server = uvicorn.Server(_uvicorn_config(app, log_level, ssl_certfile, ssl_keyfile))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="asgi-server")
    thread.start()
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError("server thread died during start-up")
        thread.join(0.01)
    actual_port = sock.getsockname()[1]
    scheme = "https" if ssl_certfile else "http"
    return RunningServer(f"{scheme}://{host}:{actual_port}", actual_port, server, thread, sock)


def serve_forever(app, host: str, port: int, log_level: str = "warning", on_ready=None) -> None:
    """Serve ``app`` in the foreground until SIGINT/SIGTERM (for the CLI commands)."""
    sock = bind_socket(host, port)
    server = uvicorn.Server(_uvicorn_config(app, log_level))
    if on_ready is not None:
        on_ready(f"http://{host}:{sock.getsockname()[1]}")
    server.run(sockets=[sock])

"""One HTTP client for many threads, each of its connections used by one thread at a time.

    http = ClientLanes(lambda: httpx.Client(limits=httpx.Limits(max_connections=1)), lanes=8, wait=30.0)
    response = http.request("GET", "https://ado.example/tfs/C/_apis/projects")   # from any thread
    http.close()

Why not one ``httpx.Client`` shared by the threads: httpcore's connection pool (1.0.9; upstream
encode/httpcore#1110) hands an idle kept-alive connection to a waiting request, and the connection
stays "idle" until that request's thread runs. A pass over the pool by another thread in between
finds its keep-alive expired (or the socket readable) and closes it under the request: the request
then meets a closed socket (``ReadError [Errno 9] Bad file descriptor``) or, when the close lands
after it sent the request, waits in ``poll()`` on a socket nobody will answer until its read timeout.

Here each lane is a client with a single connection (an ``httpx.Client``, or the libcurl lane
``satellite.http_clients`` builds for direct connections), lent to one thread for one request (the
response is read whole before the lane goes back), so its connection only ever runs in the thread
holding it and cannot be closed under another thread's request.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import httpx

__all__ = ["ClientLanes", "Lane"]

_CLOSED = "Cannot send a request, as the client has been closed."
_READ = httpx.ByteStream(b"")  # in place of a read response's stream


class Lane(Protocol):
    """One connection's client: an ``httpx.Client`` or anything that sends a request as it does."""

    def request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response: ...

    def close(self) -> None: ...


@dataclass(eq=False, slots=True)
class _Waiter:
    """A request waiting for a lane: ``give_back`` hands it one, first come first served."""

    ready: threading.Event = field(default_factory=threading.Event)
    client: Lane | None = None


class ClientLanes:
    """At most ``lanes`` clients made by ``make_client``, lent one request at a time; thread-safe.

    ``wait``: seconds a request may wait for a free lane before ``httpx.PoolTimeout`` (None: no limit).
    Requests get lanes in the order they asked for one.
    """

    def __init__(self, make_client: Callable[[], Lane], lanes: int, *, wait: float | None) -> None:
        if lanes < 1:
            raise ValueError(f"lanes must be at least 1, not {lanes}")
        self._make_client = make_client
        self._lanes = lanes
        self._wait = wait
        self._idle: list[Lane] = []  # most recently used last: its connection is the warmest
        self._waiting: deque[_Waiter] = deque()
        self._made = 0
        self._closed = False
        self._lock = threading.Lock()

    def request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        """``httpx.Client.request`` on a free lane (waiting for one if all are busy); the body is read."""
        client = self._borrow()
        try:
            response = client.request(method, url, **kwargs)
        finally:
            self._give_back(client)
        # The body is read and the stream closed. httpx's stream refers back to its response (a
        # reference cycle): left as is, every body lived until the cyclic collector came by.
        response.stream = _READ
        return response

    def get(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        """Close the idle lanes now and the busy ones when their request ends; waiting requests fail."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            waiting, self._waiting = list(self._waiting), deque()
        for waiter in waiting:
            waiter.ready.set()
        for client in idle:
            client.close()

    def __enter__(self) -> "ClientLanes":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _borrow(self) -> Lane:
        with self._lock:
            if self._closed:
                raise RuntimeError(_CLOSED)
            if self._idle:
                return self._idle.pop()
            if self._made < self._lanes:
                self._made += 1
                made = True
            else:
                made, waiter = False, _Waiter()
                self._waiting.append(waiter)
        if made:
            try:
                return self._make_client()
            except BaseException:
                with self._lock:
                    self._made -= 1
                raise
        if not waiter.ready.wait(self._wait):
            with self._lock:
                if waiter.client is None:  # not handed one at the last moment
                    self._waiting.remove(waiter)
                    raise httpx.PoolTimeout(f"all {self._lanes} connections stayed busy for {self._wait:g} s")
        if waiter.client is None:
            raise RuntimeError(_CLOSED)
        return waiter.client

    def _give_back(self, client: Lane) -> None:
        with self._lock:
            if not self._closed:
                if self._waiting:
                    waiter = self._waiting.popleft()
                    waiter.client = client
                    waiter.ready.set()
                else:
                    self._idle.append(client)
                return
        client.close()

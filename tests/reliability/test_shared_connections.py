"""Threads sharing one AdoClient never lose a request to another thread closing its connection.

Issue 15, item 9: ``satellite demo`` logged ``ReadError [Errno 9] Bad file descriptor`` retries and,
now and then, a 30 s ``ReadTimeout`` on a cheap route. Cause: one ``httpx.Client`` shared by the
collector's threads. httpcore's pool hands an idle kept-alive connection to a waiting request; until
that request's thread runs, the connection still looks idle, and another thread's pass over the pool
closes it once its keep-alive has expired. The request then reads a closed socket (EBADF) or waits
in poll() on a socket nobody answers (the read timeout). ``satellite.http_lanes`` is the fix.

The window is the time a woken thread waits for the GIL; with the keep-alive expiry cut to half a
millisecond and more threads than connections it is hit dozens of times in 1,600 requests.
"""

from __future__ import annotations

import threading

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import satellite.http_clients
from satellite.ado.client import AdoClient, CollectionTarget
from satellite.errors import AdoTransportError
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from standins.loopback import serve_in_thread

pytestmark = pytest.mark.reliability

THREADS = 32  # four times the client's 8 connections: requests queue for a connection
REQUESTS_PER_THREAD = 50


def tiny_server() -> Starlette:
    async def options(request):
        return JSONResponse({"count": 1, "value": [{"id": "p", "area": "core", "resourceName": "projects", "maxVersion": 7.0}]})

    async def projects(request):
        return JSONResponse({"count": 1, "value": [{"id": "p1", "name": "One"}]})

    return Starlette(routes=[Route("/tfs/C/_apis", options, methods=["OPTIONS"]), Route("/tfs/C/_apis/projects", projects)])


def test_threads_sharing_a_client_lose_no_request_when_kept_alive_connections_expire(monkeypatch):
    monkeypatch.setattr(satellite.http_clients, "KEEPALIVE_EXPIRY_S", 0.0005)
    failures: list[str] = []
    answered = [0] * THREADS
    failed = threading.Event()
    with serve_in_thread(tiny_server()) as server:
        # One attempt, so a lost request shows; a short timeout, so a request left waiting on a closed socket fails fast.
        with AdoClient(CollectionTarget(f"{server.url}/tfs/C", "C"), Secret("pat-value-xyz"), retry=RetryPolicy(max_attempts=1),
                       timeout=5.0, max_connections=8) as client:
            client.api_version()
            start = threading.Barrier(THREADS)

            def work(index: int) -> None:
                start.wait()
                for _ in range(REQUESTS_PER_THREAD):
                    if failed.is_set():
                        return
                    try:
                        client.get("_apis/projects")
                    except AdoTransportError as exc:
                        failures.append(str(exc))
                        failed.set()
                        return
                    answered[index] += 1

            workers = [threading.Thread(target=work, args=(i,), name=f"worker-{i}") for i in range(THREADS)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
    assert failures == []
    assert sum(answered) == THREADS * REQUESTS_PER_THREAD

"""The satellite's CPU per Azure DevOps request, layer by layer (issue 18: what keeps a c16 backfill
from the bound is the client's time per request, not the slots).

    python benchmarks/client_overhead.py            # prints a table; about 30 s
    python benchmarks/client_overhead.py --requests 5000

Against the simulator (``small``, no injected latency, its own process) on one small route
(``_apis/projects``), in this process: CPU microseconds (``process_time``: every thread of this
process) and wall microseconds per request for

1. a bare ``httpx.Client`` get and ``.json()``: the floor any client on httpx pays;
2. ``AdoClient.get`` without a gate (retries, lanes, metrics, the response check);
3. ``AdoClient.get`` with a gate (the slot, the limiter);
4. ``AdoClient.get_many`` at 1, 4 and 16 connections: the thread pool's hand-offs and, above one
   connection, the threads' contention for the GIL;
5. per record, on a page read from the simulator (work item revisions, 200 a page; a repository's
   pull requests): parsing the page (per item), then ``upsert`` of each item (``_links`` trimmed,
   the record built).

With no latency the client is CPU-bound, so wall and CPU agree; in a backfill with latency the
same CPU turns into waiting for the GIL while 16 answers arrive at once.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import satellite_bench as sb  # the simulator, the workspace, the table

ROUTE = "_apis/projects"

__all__ = ["main"]


def per_request(fn: Callable[[], object], requests: int) -> tuple[float, float]:
    """(CPU us, wall us) per request of ``fn`` (one request a call), after one warm-up call."""
    fn()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        fn()
    return (time.process_time() - cpu) / requests * 1e6, (time.perf_counter() - wall) / requests * 1e6


def per_request_many(client, requests: int, batch: int = 300) -> tuple[float, float]:
    """The same for ``get_many`` over batches of ``batch`` paths."""
    rounds = max(1, requests // batch)
    list(client.get_many([ROUTE] * 50))
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        list(client.get_many([ROUTE] * batch))
    done = rounds * batch
    return (time.process_time() - cpu) / done * 1e6, (time.perf_counter() - wall) / done * 1e6


def per_record(raw: bytes, list_key: str, rounds: int = 200) -> tuple[int, float, float]:
    """(items, parse us, upsert us) per item of one page's JSON ``raw``: best of 5."""
    from satellite import json_codec
    from satellite.streams.records import upsert

    items = len(json_codec.loads(raw)[list_key])
    parse = upserts = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        pages = [json_codec.loads(raw) for _ in range(rounds)]
        parse = min(parse, time.perf_counter() - started)
        started = time.perf_counter()
        for page in pages:
            for item in page[list_key]:
                upsert("bench", "key", item)
        upserts = min(upserts, time.perf_counter() - started)
    return items, parse / rounds / items * 1e6, upserts / rounds / items * 1e6


def record_pages(bare: httpx.Client) -> list[tuple[str, bytes, str]]:
    """(what, raw page, list key): a page of work item revisions and of a repository's pull requests."""
    version = {"api-version": "6.0"}
    pages = [("work item revisions", bare.get("_apis/wit/reporting/workitemrevisions",
                                               params={**version, "$expand": "fields", "$maxPageSize": 200}).content, "values")]
    project = bare.get("_apis/projects", params=version).json()["value"][0]["name"]
    for repository in bare.get(f"{project}/_apis/git/repositories", params=version).json()["value"]:
        answer = bare.get(f"{project}/_apis/git/repositories/{repository['id']}/pullrequests",
                          params={**version, "searchCriteria.status": "all", "$top": 100})
        if answer.json()["value"]:
            pages.append(("pull requests", answer.content, "value"))
            break
    return pages


def main(argv: list[str] | None = None) -> int:
    from satellite.ado.client import AdoClient, CollectionTarget
    from satellite.log import configure_logging
    from satellite.politeness.gate import GateSettings, ServerGate, server_of
    from satellite.secret import Secret

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    args = parser.parse_args(argv)
    configure_logging("error", json_output=True, stream=sys.stderr)
    rows: list[list[str]] = []
    with sb.workspace() as (_work, _keys, _receiver, services):
        simulator = sb.start_simulator("small", 0)
        services.append(simulator)
        url = simulator.url
        token = base64.b64encode(f":{sb.PAT}".encode()).decode()

        def add(what: str, figures: tuple[float, float]) -> None:
            rows.append([what, f"{figures[0]:.0f}", f"{figures[1]:.0f}"])
            print(f"{what}: {figures[0]:.0f} us CPU, {figures[1]:.0f} us wall", flush=True)

        with httpx.Client(base_url=url + "/", headers={"Authorization": f"Basic {token}"}) as bare:
            add("httpx.Client get + json", per_request(lambda: bare.get(ROUTE).json(), args.requests))
            pages = record_pages(bare)
        plain = AdoClient(CollectionTarget(url, "bench"), Secret(sb.PAT), max_connections=4)
        add("AdoClient.get, no gate", per_request(lambda: plain.get(ROUTE), args.requests))
        plain.close()
        for connections in (1, 4, 16):
            gate = ServerGate(server_of(url) + f"#{connections}", GateSettings(ceiling=connections, adaptive=False))
            client = AdoClient(CollectionTarget(url, "bench"), Secret(sb.PAT), max_connections=connections, gate=gate)
            if connections == 1:
                add("AdoClient.get, gate", per_request(lambda: client.get(ROUTE), args.requests))
            add(f"AdoClient.get_many, {connections} connection(s), gate", per_request_many(client, args.requests))
            client.close()
    record_rows: list[list[str]] = []
    for what, raw, list_key in pages:
        items, parse, upserts = per_record(raw, list_key)
        record_rows.append([f"{what} ({items} a page, {len(raw) // items:,} bytes each)", f"{parse:.2f}", f"{upserts:.2f}"])
        print(f"{what}: parse {parse:.2f} us, upsert {upserts:.2f} us a record", flush=True)
    print()
    print(f"Machine: {sb.machine()}; route `{ROUTE}` of the small world, no latency; {args.requests:,} requests each.")
    print()
    print(sb.table(["layer", "CPU us per request", "wall us per request"], rows))
    print()
    print(sb.table(["records of a page", "parse us per record", "upsert us per record"], record_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

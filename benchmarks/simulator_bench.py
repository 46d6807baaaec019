"""Simulator benchmark: world generation time and requests per second served.

    python benchmarks/simulator_bench.py [--large] [--seconds 5] [--clients 2] [--connections 4]

Prints (a) the generation time of the ``medium`` world (and ``large`` with ``--large``) with the
peak memory of the generating process, (b) requests/second for small requests
(``GET _apis/projects/{id}`` and a one-commit page of Get Commits) served by ``satellite
simulator`` running in its own process, without injected latency, to client processes that each
keep several HTTP/1.1 keep-alive connections busy, and (c) the machine. Targets: medium < 30 s,
>= 1,500 requests/s.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import platform
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

PAT = "bench-pat"
SCALE = "small"


def generation(scale: str) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of generating ``scale`` in a fresh process."""
    code = (
        "import resource, time\n"
        "from standins.ado_simulator.world.world import generate_world\n"
        "started = time.perf_counter()\n"
        f"generate_world(7, {scale!r})\n"
        "print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def start_simulator(port: int) -> subprocess.Popen:
    """``satellite simulator`` in its own process; returns once it prints its ready line."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from satellite.cli import main; sys.exit(main())",
         "simulator", "--scale", SCALE, "--port", str(port), "--pat", PAT],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "simulator:" not in line:
        process.kill()
        raise RuntimeError(f"simulator did not start: {line!r}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("simulator does not accept connections")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request_bytes(port: int, paths: list[str]) -> list[bytes]:
    auth = base64.b64encode(f":{PAT}".encode()).decode()
    return [
        f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {auth}\r\nAccept: application/json\r\n\r\n".encode()
        for p in paths
    ]


def read_response(sock: socket.socket, buffer: bytearray) -> int:
    """Read one response off a keep-alive connection; returns its status."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        rest += chunk
    del buffer[:]
    buffer += rest[length:]
    return int(head.split(b" ", 2)[1])


def client_process(port: int, paths: list[str], connections: int, seconds: float, results) -> None:
    """Keep ``connections`` keep-alive connections busy for ``seconds``; report (requests, errors)."""
    requests = request_bytes(port, paths)
    counts = [0] * connections
    errors = [0] * connections
    deadline = time.perf_counter() + seconds

    def run(index: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffer = bytearray()
            n = 0
            while time.perf_counter() < deadline:
                sock.sendall(requests[n % len(requests)])
                if read_response(sock, buffer) != 200:
                    errors[index] += 1
                n += 1
            counts[index] = n

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((sum(counts), sum(errors)))


def sample_paths() -> list[str]:
    from standins.ado_simulator.world.world import generate_world

    world = generate_world(7, SCALE)
    project = world.projects[0]
    repo = world.project_repositories(project.id)[0]
    collection = f"/tfs/{world.collection.name}"
    return [
        f"{collection}/_apis/projects/{project.id}?api-version=7.0",
        f"{collection}/{project.id}/_apis/git/repositories/{repo.id}/commits?searchCriteria.$top=1&api-version=7.0",
    ]


def throughput(seconds: float, clients: int, connections: int) -> tuple[float, int, int]:
    """(requests/s, requests, errors) against a simulator in another process."""
    port = free_port()
    server = start_simulator(port)
    try:
        paths = sample_paths()
        context = multiprocessing.get_context("spawn")
        warm = context.Queue()
        client_process(port, paths, 1, 0.5, warm)  # warm-up (fragment caches, auth cache)
        warm.get()
        results = context.Queue()
        workers = [context.Process(target=client_process, args=(port, paths, connections, seconds, results))
                   for _ in range(clients)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        totals = [results.get() for _ in workers]
        elapsed = time.perf_counter() - started
        for worker in workers:
            worker.join()
    finally:
        server.terminate()
        server.wait(10)
    done = sum(t[0] for t in totals)
    return done / max(elapsed, seconds), done, sum(t[1] for t in totals)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), cpu) if Path("/proc/cpuinfo").exists() else cpu
    return f"{os.cpu_count()} cores ({model}), {platform.python_implementation()} {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also time the large world (about 10x medium)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the throughput run (default 5)")
    parser.add_argument("--clients", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections per client (default 4)")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    for scale in ("medium", "large") if args.large else ("medium",):
        seconds, peak = generation(scale)
        target = " (target < 30 s)" if scale == "medium" else ""
        print(f"generation {scale}: {seconds:.2f} s, peak RSS {peak:.0f} MiB{target}")
    rate, done, errors = throughput(args.seconds, args.clients, args.connections)
    print(f"throughput ({SCALE} world, {args.clients} client processes x {args.connections} connections, {args.seconds:g} s):"
          f" {rate:,.0f} requests/s ({done} requests, {errors} non-200) (target >= 1,500)")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

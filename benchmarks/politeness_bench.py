"""Politeness benchmark (issue 18, item 5): the satellite against the simulator's load model.

    python benchmarks/politeness_bench.py            # full run (~9 min on 2 cores): prints, rewrites its section
                                                     # of docs/benchmarks.md in place
    python benchmarks/politeness_bench.py --quick    # smoke run: tiny world, short phases; prints only (unless --out)
    python benchmarks/politeness_bench.py --capacity 12 --service-ms 60 --scale medium --services "[repos]" \\
        --ceiling 32 --fixed 4 16 --budget auto --max-phase-s 120 --changes 6 --interval 10   # the knobs (defaults)
    python benchmarks/politeness_bench.py --tune alpha=1,beta=2      # also an adaptive phase with other
                                                     # limiter settings (a tuning to compare)
    python benchmarks/politeness_bench.py --fixed --only-tuned --tune beta=2 --changes 0 --out /tmp/p.md
                                                     # only that phase (no fixed ones, no freshness)

C = 12 lies between the fixed settings (4 leaves two thirds of the server unused, 16 overloads it),
and C / s = 200 requests/s stays within what the satellite sends on 2 cores shared with the
simulator and the receiver, so that the server, not the client, is the bottleneck; the medium
world's repositories (about 18,000 requests) keep a backfill at C / s near 90 s, past the first minute.

A server of capacity C (``--capacity``: C requests served at full speed at once, each in ``s`` =
``--service-ms``; beyond, ``latency(k) = s * k / C`` for k in flight: at most C / s requests per
second) and a per-identity budget (``--budget``, see ``budget_of``). One simulator process serves
every phase (its load statistics reset between phases); the receiver runs in its own process.

1. Backfills (``satellite sync --once`` in its own process, a fresh data dir each) at fixed
   concurrency 4 and 16 (``limits.adaptive: false``) and adaptive (``limits.concurrency`` =
   ``--ceiling``): throughput as a share of C / s; the p95 latency another client of the server
   saw (the load model's probe, ``latency(k + 1)`` weighed by time, over the whole phase after its
   first minute: the simulator child traces requests in flight, since ``GET /_sim/load`` covers
   only its last 60 s) against the unloaded ``s``; throttled answers (429, and answers held with
   ``X-RateLimit-Delay``) counted by the simulator in the first minute and after it; backfill wall
   time against the bound ``requests x s / C`` (the server cannot answer faster).
2. Freshness: ``satellite run`` (``schedule.interval`` = ``--interval``, no jitter) over the adaptive
   phase's data dir; ``--changes`` times, at random moments (a uniform share of the interval
   apart), one step of server activity (``world.advance(1)``: an hour's pushes and commits); the
   time from that change to the arrival at the receiver of its last new ``git.commit`` and
   ``git.push`` record (the ``received_at`` of the receiver's batch), p50/p95.

Everything lives in a temporary directory; every process started here is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shlex
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import satellite_bench as sb  # (the receiver, the workspace, the report's table and sections)

ROOT = sb.ROOT
PAT = sb.PAT
SECTION = "## Politeness against the load model"
WATCHED = ("git.commit", "git.push")  # the immutable records of a change whose delivery is timed
FIRST_MINUTE = 60.0

__all__ = ["main"]


# -- the simulator child (``--serve-simulator``): the load model with a trace of requests in flight --


def serve_simulator(scale: str, seed: int, capacity: int, service_ms: float, budget: str) -> int:
    """The simulator in this process: ``create_app`` with a load model that traces requests in flight,
    behind two routes of the benchmark's: ``GET /_bench/probe?since=&until=`` (epoch seconds: the
    seconds spent at each count of requests in flight, and the requests that arrived) and ``POST
    /_bench/change`` (one step of activity; answers its new commit and push keys and the time)."""
    from standins.ado_simulator.app import create_app
    from standins.ado_simulator.wire.load import LoadConfig, LoadModel, parse_budget
    from standins.ado_simulator.world.world import generate_world
    from standins.loopback import serve_forever

    class TracedLoad(LoadModel):
        """A ``LoadModel`` that notes (time, requests in flight) at every change of the count."""

        def __init__(self, config: LoadConfig) -> None:
            super().__init__(config)
            self.trace: list[tuple[float, int]] = [(time.time(), 0)]

        def arrive(self, identity: str):
            admission = super().arrive(identity)
            if not admission.blocked:
                self.trace.append((time.time(), self.in_flight))
            return admission

        def depart(self, admission) -> None:
            super().depart(admission)
            if not admission.blocked:
                self.trace.append((time.time(), self.in_flight))

    world = generate_world(seed=seed, scale=scale)
    load = TracedLoad(LoadConfig(capacity=capacity, service_ms=service_ms, budget=parse_budget(budget)))
    app = create_app(world, "2022", {PAT: frozenset({"full"})}, load=load)

    def held(since: float, until: float) -> dict[str, Any]:
        """Seconds at each count in flight within [since, until), and the requests arriving in each second of it."""
        seconds: dict[int, float] = {}
        arrivals: dict[int, int] = {}
        trace = load.trace
        for (at, count), (following, next_count) in zip(trace, [*trace[1:], (until, 0)], strict=True):
            start, end = max(at, since), min(following, until)
            if end > start:
                seconds[count] = seconds.get(count, 0.0) + end - start
            if next_count > count and since <= following < until:
                second = int(following - since)
                arrivals[second] = arrivals.get(second, 0) + 1
        return {"held": seconds, "arrivals": arrivals}

    def watched_keys() -> dict[str, set[str]]:
        """The keys of every commit and push (as the simulator's truth names them)."""
        keys: dict[str, set[str]] = {name: set() for name in WATCHED}
        for repo in world.repositories:
            with world.reading(repo.id) as history:
                keys["git.commit"].update(f"{repo.id}:{sha}" for sha in history.reachable_ids())
                keys["git.push"].update(f"{repo.id}:{n}" for n in range(1, len(history.pushes) + 1))
        return keys

    async def bench(scope, receive, send) -> None:
        path = scope["path"]
        if scope["type"] != "http" or not path.startswith("/_bench/"):
            return await app(scope, receive, send)
        query = dict(part.split("=", 1) for part in scope.get("query_string", b"").decode().split("&") if "=" in part)
        if path == "/_bench/probe":
            body = held(float(query.get("since", 0)), float(query.get("until", time.time())))
        elif path == "/_bench/change":
            before = watched_keys()
            counts = world.advance(1)
            at = time.time()
            after = watched_keys()
            body = {"at": at, "counts": counts, "keys": {name: sorted(after[name] - before[name]) for name in WATCHED}}
        else:
            body = {"error": "unknown"}
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    serve_forever(bench, "127.0.0.1", 0,
                  on_ready=lambda url: print(f"simulator: collection {url}/tfs/{world.collection.name}", flush=True))
    return 0


def start_simulator(args: argparse.Namespace) -> sb.Service:
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-simulator", "--scale", args.scale,
               "--seed", str(args.seed), "--capacity", str(args.capacity), "--service-ms", f"{args.service_ms:g}",
               "--budget", budget_of(args)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "collection " not in line:
        process.kill()
        process.wait()
        raise RuntimeError(f"simulator did not start: {line!r}")
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return sb.Service(process, line.split("collection ", 1)[1].strip())


def budget_of(args: argparse.Namespace) -> str:
    """``--budget``: ``off``, ``T:L:WINDOW_S:MAX_DELAY_S``, or ``auto``: over a 30 s window, a
    threshold of ``--budget-share`` (0.95) of what the server can answer in it (C / s x 30 s) and a
    limit 1.5 x that, delays up to 5 s: a client using the whole server for long is held; one using
    80-95% of it never is."""
    if args.budget != "auto":
        return args.budget
    window = 30.0
    threshold = args.budget_share * args.capacity / (args.service_ms / 1000) * window
    return f"{threshold:.0f}:{1.5 * threshold:.0f}:{window:g}:5"


# -- a phase ------------------------------------------------------------------------------------


def write_config(directory: Path, *, ado_url: str, endpoint: str, keys, services: str, concurrency: int,
                 adaptive: bool, data_dir: Path, interval: float = 300) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pat").write_text(PAT + "\n")
    (directory / "api_key").write_text(sb.API_KEY + "\n")
    path = directory / "satellite.yml"
    path.write_text(f"""\
satellite:
  id: bench-satellite
  tenant: bench
  endpoint: {endpoint}
  api_key: ${{file:{directory / 'api_key'}}}
  encryption:
    recipient_key_id: {keys.recipient_key_id}
    recipient_public_key: ${{file:{keys.recipient_public}}}
    signing_private_key: ${{file:{keys.signing_private}}}
  data_dir: {data_dir}
  http:
    listen: ""
integrations:
  - id: bench
    url: {ado_url}
    pat: ${{file:{directory / 'pat'}}}
    services: {services}
    schedule: {{interval: {interval:g}s, jitter: 0s}}
limits:
  concurrency: {concurrency}
  adaptive: {'true' if adaptive else 'false'}
""")
    return path


@dataclass
class Phase:
    """One backfill: what the server saw."""

    name: str
    concurrency: int
    adaptive: bool
    wall: float = 0.0
    exit: int | None = None
    requests: int = 0  # answered by the server (held ones included, 429s not)
    first_minute: dict = field(default_factory=dict)  # GET /_sim/load at 60 s
    end: dict = field(default_factory=dict)  # GET /_sim/load at the end
    held_after: dict[int, float] = field(default_factory=dict)  # seconds at each count in flight, after the first minute
    held_all: dict[int, float] = field(default_factory=dict)
    data_dir: Path | None = None
    stopped: bool = False  # stopped after --max-phase-s (its wall time estimated from its rate)
    arrivals: dict[int, int] = field(default_factory=dict)  # requests arriving in each second from the start

    def peak_usage(self, window_s: float) -> int:
        """The most requests in any ``window_s`` seconds (whole seconds): the budget's peak usage."""
        width = max(1, int(window_s))
        seconds = [self.arrivals.get(i, 0) for i in range(max(self.arrivals, default=-1) + 1)]
        return max((sum(seconds[i:i + width]) for i in range(max(1, len(seconds) - width + 1))), default=0)

    def throttled(self, after: bool) -> tuple[int, int]:
        """(429s, answers held with X-RateLimit-Delay) in the first minute, or after it."""
        first = (self.first_minute.get("throttled", 0), self.first_minute.get("delayed", 0)) if self.first_minute \
            else (self.end.get("throttled", 0), self.end.get("delayed", 0))
        if not after:
            return first
        return self.end.get("throttled", 0) - first[0], self.end.get("delayed", 0) - first[1]


def probe_percentile(held: dict[int, float], q: float, service_s: float, capacity: int) -> float:
    """What one more request would wait (``latency(k + 1)``), its time-weighted ``q`` quantile."""
    spans = sorted((service_s * max(1.0, (k + 1) / capacity), seconds) for k, seconds in held.items())
    total = sum(seconds for _, seconds in spans)
    if total <= 0:
        return service_s
    covered = 0.0
    for value, seconds in spans:
        covered += seconds
        if covered >= q * total - 1e-12:
            return value
    return spans[-1][0]


def mean_in_flight(held: dict[int, float]) -> float:
    total = sum(held.values())
    return sum(k * s for k, s in held.items()) / total if total else 0.0


def sync_command(config: Path, tune: dict[str, float] | None) -> list[str]:
    """``satellite sync --once``; ``tune``: other defaults of the adaptive limit (``AdaptiveLimit``'s
    keyword arguments: alpha, beta, share, quantile, backoff, window, rise, confirm) for this process,
    to try a tuning."""
    if not tune:
        return sb.satellite_command("sync", "-c", str(config), "--once")
    code = ("import sys; from satellite.politeness.limiter import AdaptiveLimit; "
            f"AdaptiveLimit.__init__.__kwdefaults__.update({tune!r}); "
            "from satellite.cli import main; sys.exit(main())")
    return [sys.executable, "-c", code, "sync", "-c", str(config), "--once"]


def limiter_settings() -> dict[str, float]:
    """The adaptive limit's own settings (``AdaptiveLimit``'s keyword-only arguments and their defaults)."""
    from satellite.politeness.limiter import AdaptiveLimit

    return dict(AdaptiveLimit.__init__.__kwdefaults__ or {})


def limiter_defaults() -> str:
    """The adaptive limit's own settings, as the sync processes get them (``alpha 0.5, beta 1.5, ...``)."""
    return ", ".join(f"{name} {value:g}" for name, value in limiter_settings().items())


def parse_tune(text: str) -> dict[str, float]:
    """``alpha=1,beta=2`` -> the keyword arguments (any of ``AdaptiveLimit``'s settings; integers stay integers)."""
    settings = limiter_settings()
    tune: dict[str, float] = {}
    for part in filter(None, text.split(",")):
        name, _, value = (piece.strip() for piece in part.partition("="))
        if name not in settings:
            raise argparse.ArgumentTypeError(f"unknown limiter setting {name!r} (known: {', '.join(settings)})")
        tune[name] = int(value) if isinstance(settings[name], int) else float(value)
    return tune


def run_phase(work: Path, simulator: sb.Service, receiver: sb.Service, keys, args: argparse.Namespace,
              name: str, concurrency: int, adaptive: bool, tune: dict[str, float] | None = None) -> Phase:
    control = httpx.Client(base_url=sb.server_root(simulator.url), timeout=60)
    phase = Phase(name, concurrency, adaptive, data_dir=work / name / "data")
    config = write_config(work / name, ado_url=simulator.url, endpoint=receiver.url, keys=keys, services=args.services,
                          concurrency=concurrency, adaptive=adaptive, data_dir=phase.data_dir)
    control.delete("/_sim/load").raise_for_status()
    started = time.time()
    process = subprocess.Popen(sync_command(config, tune), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True)
    reader.start()
    try:
        process.wait(FIRST_MINUTE)
    except subprocess.TimeoutExpired:
        phase.first_minute = control.get("/_sim/load").json()
    try:
        phase.exit = process.wait(max(1.0, args.max_phase_s - FIRST_MINUTE))
        ended = time.time()
        phase.end = control.get("/_sim/load").json()
    except subprocess.TimeoutExpired:  # long enough to know its rate: stopped, its wall time estimated
        ended = time.time()
        phase.end = control.get("/_sim/load").json()
        phase.stopped = True
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    phase.wall = ended - started
    reader.join(5)
    phase.requests = phase.end["requests"]
    whole = control.get("/_bench/probe", params={"since": started, "until": ended}).json()
    phase.held_all = {int(k): v for k, v in whole["held"].items()}
    phase.arrivals = {int(k): v for k, v in whole["arrivals"].items()}
    if ended - started > FIRST_MINUTE:
        phase.held_after = {int(k): v for k, v in control.get(
            "/_bench/probe", params={"since": started + FIRST_MINUTE, "until": ended}).json()["held"].items()}
    control.close()
    if phase.exit != 0 and not phase.stopped:
        print(f"  sync exited {phase.exit}: {''.join(stderr[-5:])}", flush=True)
    return phase


# -- freshness ----------------------------------------------------------------------------------


@dataclass
class Change:
    at: float
    keys: dict[str, list[str]]
    delivered: float | None = None  # the received_at of the last of its records

    @property
    def records(self) -> int:
        return sum(len(v) for v in self.keys.values())


def delivered_at(db: Path, change: Change) -> float | None:
    """When the receiver had every watched record of ``change`` (the latest received_at of their batches)."""
    latest = 0.0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        for record_type, keys in change.keys.items():
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                rows = conn.execute(
                    f"SELECT r.key, b.received_at FROM records r JOIN batches b ON b.batch_id = r.batch_id "
                    f"WHERE r.type = ? AND r.key IN ({','.join('?' * len(chunk))})", (record_type, *chunk)).fetchall()
                if len(rows) < len(chunk):
                    return None
                latest = max([latest, *(at for _, at in rows)])
    return latest


def freshness(work: Path, simulator: sb.Service, receiver: sb.Service, keys, args: argparse.Namespace,
              data_dir: Path) -> list[Change]:
    """``satellite run`` over a backfilled data dir; ``--changes`` changes at random moments, each timed
    to the arrival of its last record at the receiver."""
    control = httpx.Client(base_url=sb.server_root(simulator.url), timeout=60)
    config = write_config(work / "agent", ado_url=simulator.url, endpoint=receiver.url, keys=keys, services=args.services,
                          concurrency=args.ceiling, adaptive=True, data_dir=data_dir, interval=args.interval)
    db = work / "receiver" / "receiver.db"
    rng = random.Random(args.seed)
    process = subprocess.Popen(sb.satellite_command("run", "-c", str(config)), cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    changes: list[Change] = []
    try:
        time.sleep(args.interval)  # its first run (incremental: the data dir is backfilled)
        for _ in range(args.changes):
            time.sleep(rng.uniform(0.5, 1.5) * args.interval)  # a uniform phase against the schedule
            answer = control.post("/_bench/change").json()
            changes.append(Change(answer["at"], {t: k for t, k in answer["keys"].items() if k}))
            print(f"  change {len(changes)}: {changes[-1].records} records", flush=True)
            for change in changes:
                if change.delivered is None:
                    change.delivered = delivered_at(db, change)
        deadline = time.time() + 3 * args.interval + 30
        while any(c.delivered is None for c in changes) and time.time() < deadline:
            time.sleep(0.5)
            for change in changes:
                if change.delivered is None:
                    change.delivered = delivered_at(db, change)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        control.close()
    return changes


# -- report -------------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile, interpolated between order statistics (values need not be sorted)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def render(args: argparse.Namespace, phases: list[Phase], changes: list[Change], seconds: float, budget: str) -> list[str]:
    service_s = args.service_ms / 1000
    per_second = args.capacity / service_s
    rows = []
    verdicts: dict[str, dict[str, bool]] = {}  # adaptive phase -> target -> met
    total = max((p.requests for p in phases if not p.stopped), default=0)  # a whole backfill's requests
    threshold, window = (float(budget.split(":")[0]), float(budget.split(":")[2])) if budget != "off" else (0.0, 0.0)
    for phase in phases:
        held = phase.held_after or phase.held_all
        p95 = probe_percentile(held, 0.95, service_s, args.capacity)
        rate = phase.requests / phase.wall
        share = rate / per_second
        requests = total if phase.stopped and total else phase.requests
        bound = requests * service_s / args.capacity
        wall = requests / rate if phase.stopped else phase.wall
        (blocked_1, delayed_1), (blocked_2, delayed_2) = phase.throttled(False), phase.throttled(True)
        rows.append([phase.name,
                     f"{wall:.1f} (est.; stopped at {phase.wall:.0f} s)" if phase.stopped else f"{phase.wall:.1f}",
                     f"{phase.requests:,}" + (f" of {total:,}" if phase.stopped else ""), f"{rate:.0f}",
                     f"**{share:.2f}**", f"{mean_in_flight(phase.held_all):.1f}",
                     f"{probe_percentile(held, 0.50, service_s, args.capacity) / service_s:.2f}x",
                     f"**{p95 / service_s:.2f}x**",
                     f"{phase.peak_usage(window) / threshold:.0%}" if threshold else "-",
                     f"{blocked_1} / {delayed_1}", f"**{blocked_2} / {delayed_2}**",
                     f"{bound:.1f}", f"{wall / bound:.2f}x" + (" (est.)" if phase.stopped else ""),
                     "stopped" if phase.stopped else "yes" if phase.exit == 0 else f"NO (exit {phase.exit})"])
        if phase.adaptive:
            verdicts[phase.name] = {"throughput >= 0.8 C": share >= 0.8,
                                    "others' p95 <= 1.25x unloaded": p95 / service_s <= 1.25,
                                    "no throttling after the first minute": blocked_2 == 0 and delayed_2 == 0}
    how_budget = (f"`auto`: a threshold of {args.budget_share:.0%} of what the server can answer in the window"
                  if args.budget == "auto" else "as given")
    intro = (f"The simulator's load model (`--capacity {args.capacity} --service-ms {args.service_ms:g}`, docs/simulator.md): "
             f"C = {args.capacity} requests served at full speed at once, each in s = {args.service_ms:g} ms; beyond, "
             f"k requests in flight each take s x k / C, so the server answers at most C / s = {per_second:.0f} requests/s. "
             f"Per-identity budget `{budget}` (threshold:limit TSTUs over window s, delays up to s; one TSTU a request; "
             f"{how_budget}). C / s is within what the satellite sends on this machine (beside the simulator and the "
             "receiver), so the server, not the client, is the bottleneck. "
             f"World `{args.scale}` (seed {args.seed}), services {args.services}; each backfill "
             "`satellite sync --once` in its own process from a fresh data dir, the receiver in its own. *Throughput*: "
             "requests the server answered / wall time, as a share of C / s. *Others' p50/p95*: what one more request "
             "from another client would have waited (latency(k + 1)), weighed by time over the phase after its first "
             "minute (the whole phase if shorter), over the unloaded s. *Throttled*: 429 / answers held with "
             "`X-RateLimit-Delay`, counted by the simulator. *Peak budget use*: the most requests in any window of the budget "
             "over its threshold (beyond 80% answers carry `X-RateLimit-Remaining`, beyond 90% the adaptive limit "
             "takes it as a signal to shrink, beyond 100% answers are held). *Bound*: requests x s / C, the least time the server needs "
             "to answer them (no chain of dependent requests in these streams comes near it). A backfill still running "
             f"after {args.max_phase_s:g} s is stopped (its rate is known by then): its wall time is estimated as a whole "
             "backfill's requests over its rate."
             + (" A phase with limiter settings in its name ran its sync with those instead of the limiter's defaults "
                "(`--tune`: a tuning to compare, not what the satellite ships)." if args.tune else ""))
    lines = [SECTION, "",
             (f"Written by `{' '.join(['python benchmarks/politeness_bench.py', *args.argv])}` (do not edit by hand; run it "
              "again). Machine: "
              f"{sb.machine()}. Whole run: {seconds / 60:.1f} min."), "", intro, "",
             sb.table(["concurrency", "wall s", "requests", "requests/s", "throughput / C", "mean in flight",
                       "others' p50 / unloaded", "others' p95 / unloaded", "peak budget use",
                       "429 / delayed, first minute",
                       "429 / delayed, after", "bound s", "wall / bound", "all delivered"], rows), ""]
    for name, met in verdicts.items():
        lines.append(f"Targets of issue 18, {name}: " + "; ".join(
            f"{target}: {'met' if ok else '**not met**'}" for target, ok in met.items()) + ".")
        lines.append("")
    delays = [c.delivered - c.at for c in changes if c.delivered is not None]
    lines += ["### Freshness under a running agent", "",
              (f"`satellite run` (schedule interval {args.interval:g} s, no jitter, adaptive limit, ceiling {args.ceiling}) "
               f"over the adaptive backfill's data dir against the same server; {len(changes)} changes at random moments "
               "(0.5-1.5 intervals apart), each one step of server activity (an hour's pushes); its freshness: from the "
               "change to the arrival at the receiver of the last of its new `git.commit` and `git.push` records (the "
               "receiver's `received_at` of their batch; one clock, one machine).")]
    if delays:
        lines += ["", sb.table(["changes", "records per change", "delivered", "p50 s", "p95 s", "max s"],
                               [[str(len(changes)), f"{statistics.mean(c.records for c in changes):.0f}",
                                 f"{len(delays)} / {len(changes)}", f"**{quantile(delays, 0.5):.1f}**",
                                 f"**{quantile(delays, 0.95):.1f}**", f"{max(delays):.1f}"]]),
                  "", (f"Each change waits for the next run (on average half the {args.interval:g} s interval), then "
                       "for that run's reads and its upload.")]
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny world, 2 changes; prints only unless --out")
    parser.add_argument("--out", type=Path, default=None, help="the report whose section is rewritten (default docs/benchmarks.md)")
    parser.add_argument("--scale", default=None, help="simulator world (default medium; tiny with --quick)")
    parser.add_argument("--seed", type=int, default=sb.SEED)
    parser.add_argument("--services", default="[repos]", help="the integration's services (YAML list)")
    parser.add_argument("--capacity", type=int, default=12, help="C: requests the server serves at full speed at once")
    parser.add_argument("--service-ms", type=float, default=60.0, help="s: the unloaded latency")
    parser.add_argument("--budget", default="auto", help="per-identity budget T:L:WINDOW_S:MAX_DELAY_S, off, or auto")
    parser.add_argument("--budget-share", type=float, default=0.95, help="with --budget auto: the threshold's share of C / s")
    parser.add_argument("--ceiling", type=int, default=32, help="limits.concurrency of the adaptive phase")
    parser.add_argument("--fixed", type=int, nargs="*", default=[4, 16], help="the fixed concurrencies (adaptive off)")
    parser.add_argument("--max-phase-s", type=float, default=120.0,
                        help="a backfill still running after this is stopped; its wall time is estimated from its rate")
    parser.add_argument("--changes", type=int, default=None, help="changes timed for freshness (default 6; 2 with --quick)")
    parser.add_argument("--interval", type=float, default=10.0, help="schedule.interval of the running agent, seconds (>= 10)")
    parser.add_argument("--tune", type=parse_tune, action="append", default=[], metavar="alpha=1,beta=2",
                        help="also an adaptive phase with these limiter settings (repeatable)")
    parser.add_argument("--only-tuned", action="store_true", help="no adaptive phase with the limiter's own defaults")
    parser.add_argument("--serve-simulator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    args.argv = [shlex.quote(a) for i, a in enumerate(given)  # the command in the report, without where it went
                 if not a.startswith("--out") and not (i and given[i - 1] == "--out")]
    args.scale = args.scale or ("tiny" if args.quick else "medium")
    if args.serve_simulator:
        return serve_simulator(args.scale, args.seed, args.capacity, args.service_ms, args.budget)
    args.changes = args.changes if args.changes is not None else (2 if args.quick else 6)
    out = args.out if args.out is not None else (None if args.quick else ROOT / "docs" / "benchmarks.md")
    budget = budget_of(args)
    started_all = time.time()
    phases: list[Phase] = []
    with sb.workspace() as (work, keys, receiver, services):
        print(f"simulator {args.scale}, capacity {args.capacity}, s {args.service_ms:g} ms, budget {budget} ...", flush=True)
        simulator = start_simulator(args)
        services.append(simulator)
        plan = [(f"fixed {c}", c, False, None) for c in args.fixed]
        plan += [(f"adaptive (ceiling {args.ceiling}; the limiter's defaults: {limiter_defaults()})", args.ceiling, True, None)] \
            if not args.only_tuned else []
        plan += [(f"adaptive (ceiling {args.ceiling}, {', '.join(f'{k} {v:g}' for k, v in tune.items())})",
                  args.ceiling, True, tune) for tune in args.tune]
        for number, (name, concurrency, adaptive, tune) in enumerate(plan):
            print(f"backfill, {name} ...", flush=True)
            phase = run_phase(work, simulator, receiver, keys, args, f"phase-{number}", concurrency, adaptive, tune)
            phase.name = name
            phases.append(phase)
            print(f"  {phase.wall:.1f} s, {phase.requests} requests, {phase.requests / phase.wall:.0f}/s, "
                  f"mean in flight {mean_in_flight(phase.held_all):.1f}, "
                  f"p95 {probe_percentile(phase.held_after or phase.held_all, 0.95, args.service_ms / 1000, args.capacity) * 1000:.0f} ms, "
                  f"first minute {phase.throttled(False)}, after {phase.throttled(True)}", flush=True)
        changes: list[Change] = []
        if args.changes:
            print(f"freshness: satellite run, interval {args.interval:g} s, {args.changes} changes ...", flush=True)
            changes = freshness(work, simulator, receiver, keys, args, phases[-1].data_dir)
    section = render(args, phases, changes, time.time() - started_all, budget)
    print("\n".join(section))
    if out is not None:
        sb.write_section(out, SECTION, section)
        print(f"written to {out} (section {SECTION!r})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

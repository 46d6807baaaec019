"""Events benchmark (issue 22): freshness with service hook events against polling, and the Azure
DevOps requests an hour costs in a quiet world. Run through ``satellite_bench.py --events``.

* Freshness: the simulator (in this process, events delivered as a server's notification job does)
  advances one step at a time; the satellite (``satellite run`` in a child process, events on,
  ``schedule.sweep_interval: 1h``, so no sweep runs) collects what the events name; for each new
  record of the types events cover, the time from the step's end (the change is on the server) to
  the record stored at the receiver (polled every 50 ms). Polling at ``schedule.interval`` 5 min is
  the model: a change waits uniformly over the interval for the next run, then that run's duration
  (measured: ``satellite sync --once`` over the same data dir after one more step).
* Requests, small world: the simulator's request log of one sync with nothing new (``R``); per hour
  polling every 5 min is 12 R, events in a quiet world one sweep, R (a model).
* Requests, quiet large world (measured): the ``collection`` scale (issue 22's large collection:
  300 projects, 5,000 repositories, 900 teams), every request the simulator answers counted by an
  ASGI wrapper (``CountingApp``). Back-filled once and one quiet ``sync --once`` timed (R, D); time
  compressed with P = max(10 s, 1.4 D) standing for 5 min: ``satellite run`` with events off and
  ``schedule.interval`` P for 4 P, then with events on (subscribed) and ``sweep_interval`` 12 P for
  12 P, nothing happening; per hour = requests in the window x 12 P / window. Everything the agent
  sends counts: the sweep, the event job, any check between sweeps.

``--quick`` (scale tiny): 3 steps; the large part on the tiny world with the sweep every 2 P (a smoke).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import satellite_bench as sb  # the workspace helpers, the report's table and sections

EVENTS_SECTION = "## Events: freshness and requests per hour"
SECRET = "bench-events-secret-0a1b2c3d4e5f"
WAIT_S = 60.0  # a new record not stored by then was named by no event: the sweep's (reported apart)
COVERED = ("git.push", "git.commit", "git.ref", "git.pull_request", "build.build", "pipelines.run",
           "release.deployment", "wit.revision", "tfvc.changeset")


def _config(directory: Path, *, ado_url: str, endpoint: str, keys, port: int) -> Path:
    path = sb.write_config(directory, ado_url=ado_url, endpoint=endpoint, keys=keys, concurrency=None)
    text = path.read_text().replace('  http:\n    listen: ""\n', f"  http:\n    listen: 127.0.0.1:{port}\n")
    text = text.replace(f"    services: {sb.SERVICES}\n", f"""    services: {sb.SERVICES}
    schedule: {{interval: 5m, jitter: 0s, sweep_interval: 1h}}
    events:
      enabled: true
      password: {SECRET}
      public_url: http://127.0.0.1:{port}
""")
    text += "delivery: {initial_backoff: 50ms, max_backoff: 1s}\n"
    path.write_text(text)
    return path


def _keys_at(storage, types) -> dict[str, set[str]]:
    return {t: {r["key"] for r in storage.records(t) if r["op"] == "upsert"} for t in types}


def _wait(condition, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def _no_proxy_env() -> dict[str, str]:
    """This environment without proxy variables: the agent talks to loopback only."""
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_events_bench(scale: str = "small", steps: int = 20) -> dict:
    from satellite.config import load_config
    from satellite.events.command import events_command
    from satellite.sealing.keys import generate_key_files
    from standins.ado_simulator.app import create_app
    from standins.ado_simulator.world.world import generate_world
    from standins.loopback import serve_in_thread
    from standins.sei_receiver import ReceiverStorage, create_receiver_app
    from tests.support import free_port, receiver_keys, truth

    work = Path(tempfile.mkdtemp(prefix="satellite-events-bench-"))
    keys = generate_key_files(work / "keys")
    storage = ReceiverStorage(work / "receiver")
    receiver = serve_in_thread(create_receiver_app(storage, receiver_keys(keys, api_key=sb.API_KEY)))
    world = generate_world(sb.SEED, scale)
    simulator = serve_in_thread(create_app(world, sb.PROFILE, {sb.PAT: frozenset({"full"})}))
    collection = f"{simulator.url}/tfs/DefaultCollection"
    port = free_port()
    config = _config(work / "sat", ado_url=collection, endpoint=receiver.url, keys=keys, port=port)
    log_path = work / "agent.log"
    agent = None
    try:
        out: list[str] = []
        assert events_command(load_config(config), "subscribe", out=out.append) == 0, out
        with open(log_path, "w") as log:
            agent = subprocess.Popen(sb.satellite_command("run", "-c", str(config)), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=sb.ROOT, env=_no_proxy_env())
        types = [t for t in COVERED if truth(world, sb.PROFILE).get(t)]

        def mirrored() -> bool:
            want = truth(world, sb.PROFILE)
            have = _keys_at(storage, types)
            return all(set(want[t]) <= have[t] for t in types)

        started = time.monotonic()
        _wait(mirrored, 1800, "the first sweep", interval=1.0)
        print(f"  first sweep delivered in {time.monotonic() - started:.0f} s", flush=True)
        http = httpx.Client(base_url=simulator.url, timeout=60)
        http.delete("/_sim/requests")
        samples: list[float] = []
        unannounced: dict[str, int] = {}  # new records no event named within WAIT_S (left to the sweep)
        requests_per_step: list[int] = []
        for _ in range(steps):
            before = truth(world, sb.PROFILE)
            http.post("/_sim/advance", json={"steps": 1}).raise_for_status()
            changed_at = time.monotonic()
            after = truth(world, sb.PROFILE)
            new = {t: set(after[t]) - set(before[t]) for t in types}
            pending = {(t, k) for t, keys_ in new.items() for k in keys_}
            while pending and time.monotonic() - changed_at < WAIT_S:
                have = _keys_at(storage, {t for t, _ in pending})
                arrived = {(t, k) for t, k in pending if k in have[t]}
                samples += [time.monotonic() - changed_at] * len(arrived)
                pending -= arrived
                time.sleep(0.05)
            for record_type, _ in pending:
                unannounced[record_type] = unannounced.get(record_type, 0) + 1
            _wait(lambda: http.get("/_sim/events").json()["pending"] == 0, 60, "the deliveries")
            time.sleep(1.0)  # the event job's last run settles before the requests are counted
            cleared = http.delete("/_sim/requests").json()["cleared"]
            requests_per_step.append(cleared)
        agent.terminate()
        agent.wait(60)
        agent = None
        # polling: one more step, then the duration of a sync that reads it; then one with nothing new
        http.post("/_sim/advance", json={"steps": 1}).raise_for_status()
        began = time.monotonic()
        subprocess.run(sb.satellite_command("sync", "--once", "-c", str(config)), cwd=sb.ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sync_s = time.monotonic() - began
        http.delete("/_sim/requests")
        subprocess.run(sb.satellite_command("sync", "--once", "-c", str(config)), cwd=sb.ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        quiet = http.delete("/_sim/requests").json()["cleared"]
        return {"scale": scale, "steps": steps, "records": len(samples), "samples": samples, "unannounced": unannounced,
                "requests_per_step": requests_per_step, "sync_s": sync_s, "quiet_requests": quiet}
    finally:
        if agent is not None:
            agent.kill()
            agent.wait()
        simulator.stop()
        receiver.stop()
        storage.close()
        shutil.rmtree(work, ignore_errors=True)


class CountingApp:
    """ASGI wrapper: the time, method, path and query of every request the simulator answers (its
    own ``/_sim/requests`` ring holds 10,000, fewer than one quiet sync of the collection world)."""

    def __init__(self, app) -> None:
        self.app = app
        self.log: list[tuple[float, str, str, str]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sim"):
            query = scope.get("query_string", b"").decode("latin-1")
            self.log.append((time.monotonic(), scope["method"], scope["path"], query))
        await self.app(scope, receive, send)

    def between(self, start: float, end: float) -> list[tuple[float, str, str, str]]:
        return [entry for entry in self.log if start <= entry[0] < end]


def _quiet_config(base: Path, directory: Path, *, events: bool, interval_s: int, sweep_s: int) -> Path:
    """``base`` (the events config of the back-fill, same data dir) with the schedule of one phase."""
    text = base.read_text().replace("    schedule: {interval: 5m, jitter: 0s, sweep_interval: 1h}\n",
                                    f"    schedule: {{interval: {interval_s}s, jitter: 0s, sweep_interval: {sweep_s}s}}\n")
    if not events:
        text = text.replace("      enabled: true\n", "      enabled: false\n")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ("events.yml" if events else "polling.yml")
    path.write_text(text)
    return path


_SKIP = re.compile(r"(?:^|&)%24skip=([1-9]\d*)")


def _breakdown(entries, owners: dict[str, set[str]]) -> dict:
    """Requests by what they read (a repository, team or project by the ids in the path, else the
    collection) and by stream; ``follow_up``: offset pages after the first (``$skip`` > 0) by stream."""
    scopes = {s: Counter() for s in ("collection", "project", "repository", "team")}
    follow_up: Counter = Counter()
    for _, method, path, query in entries:
        ids = set(sb._GUID.findall(path.lower()))
        scope = next((s for s in ("repository", "team", "project") if ids & owners[s]), "collection")
        stream = sb.stream_of(sb.route_label(path, "/tfs/DefaultCollection"))
        scopes[scope][stream if method == "GET" else f"{method} {stream}"] += 1
        if _SKIP.search(query):
            follow_up[stream] += 1
    return {"scopes": {s: dict(c.most_common()) for s, c in scopes.items()}, "follow_up": dict(follow_up.most_common())}


def _run_window(config: Path, counter: CountingApp, window_s: float, log_path: Path) -> dict:
    """``satellite run`` for ``window_s`` from its start; the requests the simulator answered meanwhile."""
    started = time.monotonic()
    with open(log_path, "w") as log:
        agent = subprocess.Popen(sb.satellite_command("run", "-c", str(config)), stdout=log, stderr=subprocess.STDOUT,
                                 cwd=sb.ROOT, env=_no_proxy_env())
    try:
        time.sleep(max(0.0, started + window_s - time.monotonic()))
        ended = time.monotonic()
    finally:
        agent.terminate()
        agent.wait(120)
    text = log_path.read_text()
    return {"started": started, "window_s": ended - started, "entries": counter.between(started, ended),
            "jobs": text.count("job_finished"), "event_runs": text.count("events_collected"),
            "failed": text.count("job_failed")}


def _first_burst(entries, gap_s: float) -> list:
    """The requests up to the first silence longer than ``gap_s`` (the sweep at the agent's start)."""
    for index in range(1, len(entries)):
        if entries[index][0] - entries[index - 1][0] > gap_s:
            return entries[:index]
    return list(entries)


def _runs(entries, interval_s: float) -> list[tuple[int, float]]:
    """The window's requests split at the scheduled starts (first request + k P, less P/4 for the
    start's jitter): (requests, seconds) per run."""
    if not entries:
        return []
    first = entries[0][0]
    runs: dict[int, list[float]] = {}
    for at, *_ in entries:
        runs.setdefault(int((at - first + interval_s / 4) // interval_s), []).append(at)
    return [(len(times), times[-1] - times[0]) for _, times in sorted(runs.items())]


def run_quiet_large(scale: str = "collection", sweep_factor: int = 12, polling_runs: int = 4,
                    min_interval_s: int = 10) -> dict:
    """Requests of a quiet world under ``satellite run`` (module docstring): after a back-fill and
    one quiet ``sync --once`` (R, its duration D), P = max(10 s, 1.4 D); polling every P for
    ``polling_runs`` P, then events on with the sweep every ``sweep_factor`` P for ``sweep_factor`` P."""

    from satellite.config import load_config
    from satellite.events.command import events_command
    from satellite.sealing.keys import generate_key_files
    from standins.ado_simulator.app import create_app
    from standins.ado_simulator.world.world import generate_world
    from standins.loopback import serve_in_thread
    from standins.sei_receiver import ReceiverStorage, create_receiver_app
    from tests.support import free_port, receiver_keys, truth

    work = Path(tempfile.mkdtemp(prefix="satellite-events-quiet-"))
    keys = generate_key_files(work / "keys")
    storage = ReceiverStorage(work / "receiver")
    receiver = serve_in_thread(create_receiver_app(storage, receiver_keys(keys, api_key=sb.API_KEY),
                                                   max_batch_bytes=64 * 1024 * 1024))
    began = time.monotonic()
    world = generate_world(sb.SEED, scale)
    generated_s = time.monotonic() - began
    held = truth(world, sb.PROFILE)
    owners = {"project": set(held["core.project"]), "repository": set(held["git.repository"]), "team": set(held["core.team"])}
    sizes = {"projects": len(owners["project"]), "repositories": len(owners["repository"]), "teams": len(owners["team"])}
    counter = CountingApp(create_app(world, sb.PROFILE, {sb.PAT: frozenset({"full"})}))
    simulator = serve_in_thread(counter)
    base = _config(work / "sat", ado_url=f"{simulator.url}/tfs/DefaultCollection", endpoint=receiver.url, keys=keys,
                   port=free_port())
    quiet_env = _no_proxy_env()

    def sync_once() -> tuple[float, list]:
        mark = len(counter.log)
        started = time.monotonic()
        subprocess.run(sb.satellite_command("sync", "--once", "-c", str(base)), cwd=sb.ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=quiet_env)
        return time.monotonic() - started, counter.log[mark:]

    try:
        out: list[str] = []
        assert events_command(load_config(base), "subscribe", out=out.append) == 0, out
        subscribe_requests = len(counter.log)
        backfill_s, backfilled = sync_once()
        print(f"  {scale} world ({sizes['projects']} projects, {sizes['repositories']} repositories, {sizes['teams']} teams)"
              f" generated in {generated_s:.1f} s; back-filled in {backfill_s:.0f} s ({len(backfilled):,} requests)", flush=True)
        quiet_s, quiet = sync_once()
        print(f"  quiet sync --once: {len(quiet):,} requests in {quiet_s:.1f} s", flush=True)
        interval_s = max(min_interval_s, math.ceil(quiet_s * 1.4))
        sweep_s = sweep_factor * interval_s
        counter.log = []  # only the windows from here on
        poll_config = _quiet_config(base, work / "poll", events=False, interval_s=interval_s, sweep_s=sweep_s)
        print(f"  polling every {interval_s} s for {polling_runs * interval_s} s ...", flush=True)
        polling = _run_window(poll_config, counter, polling_runs * interval_s, work / "poll.log")
        print(f"    {len(polling['entries']):,} requests", flush=True)
        event_config = _quiet_config(base, work / "events", events=True, interval_s=interval_s, sweep_s=sweep_s)
        print(f"  events on, sweep every {sweep_s} s, for {sweep_s} s ...", flush=True)
        events = _run_window(event_config, counter, sweep_s, work / "events.log")
        event_runs = _runs(events["entries"], interval_s)
        print(f"    {len(events['entries']):,} requests ({[n for n, _ in event_runs]} per P)", flush=True)
        first_sweep = _first_burst(events["entries"], gap_s=interval_s / 4)

        def window(phase: dict) -> dict:
            return {"window_s": phase["window_s"], "requests": len(phase["entries"]), "jobs": phase["jobs"],
                    "event_runs": phase["event_runs"], "failed": phase["failed"],
                    "runs": _runs(phase["entries"], interval_s)}

        return {"scale": scale, "sizes": sizes, "generated_s": generated_s, "subscribe_requests": subscribe_requests,
                "backfill_s": backfill_s, "backfill_requests": len(backfilled), "quiet_s": quiet_s,
                "quiet_requests": len(quiet), "quiet": _breakdown(quiet, owners), "interval_s": interval_s,
                "sweep_factor": sweep_factor, "polling": window(polling), "events": window(events),
                "sweep": _breakdown(first_sweep, owners)}
    finally:
        simulator.stop()
        receiver.stop()
        storage.close()
        shutil.rmtree(work, ignore_errors=True)


def _per(counts: dict[str, int], owners: int) -> str:
    return ", ".join(f"{stream} {n / owners:.3g}" for stream, n in counts.items())


def render_quiet(large: dict) -> tuple[list[str], list[str]]:
    """The measured large-world paragraphs and its row of the requests-per-hour table."""
    sizes, p, factor = large["sizes"], large["interval_s"], large["sweep_factor"]
    hour = 12 * p  # P stands for 5 min

    def per_hour(phase: dict) -> float:
        return phase["requests"] * hour / phase["window_s"]

    polling, events = large["polling"], large["events"]
    poll_hour, events_hour = per_hour(polling), per_hour(events)
    ratio = poll_hour / events_hour if events_hour else float("inf")
    scopes = {s: sum(c.values()) for s, c in large["quiet"]["scopes"].items()}
    quiet_scopes = large["quiet"]["scopes"]
    sweep_requests = sum(sum(c.values()) for c in large["sweep"]["scopes"].values())
    between = events["requests"] - sweep_requests
    poll_runs = polling["runs"]
    follow = large["quiet"]["follow_up"]
    name = (f"the `{large['scale']}` world ({sizes['projects']:,} projects, {sizes['repositories']:,} repositories,"
            f" {sizes['teams']:,} teams)")
    shape = (", issue 22's large collection as the simulator builds it (`--scale collection`: 10 commits a repository,"
             " little else" if large["scale"] == "collection" else " (a smoke run: not issue 22's large collection")
    text = [
        f"Requests per hour in a quiet large world, measured: {name}{shape}; generated in {large['generated_s']:.1f} s),"
        f" nothing changing. Back-filled once (`sync --once`, {large['backfill_requests']:,} requests in"
        f" {large['backfill_s']:.0f} s), then a quiet `sync --once` cost R = {large['quiet_requests']:,} requests in"
        f" {large['quiet_s']:.0f} s: {scopes['collection']} for the collection, {scopes['project'] / sizes['projects']:.1f}"
        f" per project, {scopes['repository'] / sizes['repositories']:.2f} per repository,"
        f" {scopes['team'] / sizes['teams']:.2f} per team (the earlier formula said 17, 1, 2). Per team:"
        f" {_per(quiet_scopes['team'], sizes['teams'])}; per project: {_per(quiet_scopes['project'], sizes['projects'])}."
        + (" Offset pages after the first (`$skip` > 0) in that sync: "
           + ", ".join(f"{n:,} {s}" for s, n in follow.items())
           + f" (every team list and member list here fits one page of `$top`; the projects take {-(-sizes['projects'] // 100)}"
             " page(s) of 100)." if follow else ""),
        "",
        f"Then `satellite run` over the same data dir, twice, time compressed: P = {p} s stands for 5 minutes (P is"
        f" 1.4x the quiet sync's {large['quiet_s']:.0f} s; 12 P stands for an hour)."
        f" Polling: events off, `schedule.interval` P, for {polling['window_s'] / p:.0f} P from the agent's start:"
        f" {polling['requests']:,} requests in {len(poll_runs)} runs ({', '.join(f'{n:,}' for n, _ in poll_runs)};"
        f" the longest {max((d for _, d in poll_runs), default=0):.0f} s), {polling['failed']} failed jobs."
        f" Events: on, subscribed, `sweep_interval` {factor} P = {factor * p} s (stands for {factor * 5} min), for"
        f" {events['window_s'] / p:.0f} P from the agent's start with nothing happening: {events['requests']:,} requests,"
        f" {sweep_requests:,} of them in the sweep at the start and {between:,} after it (event job runs:"
        f" {events['event_runs']}). Per hour: the requests the simulator answered in the window x 12 P / window."
        f" A run of `satellite run` costs {poll_runs[0][0] if poll_runs else 0:,} against R = {large['quiet_requests']:,}"
        f" for `sync --once`: " + _run_extra(large),
    ]
    row = [f"{name}, measured under `satellite run`", f"{poll_hour:,.0f}", f"{events_hour:,.0f}", f"{ratio:.1f}x",
           f"10x: {sb.verdict(ratio >= 10)}"]
    return text, row


def _run_extra(large: dict) -> str:
    """What a sweep under ``satellite run`` reads beyond ``sync --once`` (by stream)."""
    once, sweep = Counter(), Counter()
    for counts in large["quiet"]["scopes"].values():
        once.update(counts)
    for counts in large["sweep"]["scopes"].values():
        sweep.update(counts)
    more = [(s, sweep[s] - once[s]) for s in sweep if sweep[s] != once[s]]
    if not more:
        return "the same requests."
    return ("the differences by stream: " + ", ".join(f"{s} {d:+,}" for s, d in sorted(more, key=lambda x: -abs(x[1])))
            + " (`satellite run` runs one job per service group, core, repos, tfvc, pipelines and boards, each with its"
              " own version probe; the projects and teams lists are read once and shared: satellite/sync/listings.py).")


def render_events(result: dict, large: dict, how: str, seconds: float) -> list[str]:
    interval = 300.0
    samples = result["samples"]
    p50, p95 = statistics.median(samples), _percentile(samples, 0.95)
    poll_p50, poll_p95 = interval * 0.5 + result["sync_s"], interval * 0.95 + result["sync_s"]
    r = result["quiet_requests"]
    per_step = statistics.mean(result["requests_per_step"])
    intro = (f"The {result['scale']} world advanced {result['steps']} steps one at a time; the satellite (`satellite run`,"
             " events on, `sweep_interval: 1h`: no sweep ran) collected what the events named. Freshness: from the step's"
             " end (the change on the server) to the record stored at the receiver, for each of the"
             f" {result['records']} new records of the types events cover (pushes, commits, refs, pull requests, builds,"
             " runs, deployments, work item revisions, changesets). Polling every 5 min is the model: a change waits"
             f" uniformly over the interval, then a run ({result['sync_s']:.1f} s measured: `sync --once` after one"
             f" step). {how} The whole section (both worlds) took {seconds / 60:.1f} min of wall time.")
    costs = (f"Requests: a sync with nothing new costs R = {r} requests on the {result['scale']} world; each event-driven"
             f" step cost {per_step:.0f} on average (the project and repository lists it needs and the due units).")
    closing = ("With activity, events add what each change costs (the step average above) and polling stays at 12 R; the"
               " target (at least 10x fewer in a quiet world) holds while the sweep interval is at least 10x the polling"
               " interval and nothing but the sweep reads the server in a quiet hour.")
    freshness = sb.table(["", "p50", "p95", "target"], [
        ["events (sweep 1h)", f"{p50:.2f} s", f"{p95:.2f} s", f"p95 < 30 s: {sb.verdict(p95 < 30)}"],
        ["polling every 5 min (model)", f"{poll_p50:.0f} s", f"{poll_p95:.0f} s", ""],
    ])
    large_text, large_row = render_quiet(large)
    hourly = sb.table(["requests per hour, quiet world", "polling every 5 min", "events (sweep 1h)", "ratio", "target"], [
        [f"{result['scale']} world (model: 12 R against one sweep R)", f"{12 * r:,}", f"{r:,}", "12x", ""],
        large_row,
    ])
    left = result.get("unannounced") or {}
    if left:
        closing += (" New records no event named (stored by the sweep, not counted above): "
                    + ", ".join(f"{n} {t}" for t, n in sorted(left.items()))
                    + " (a release deployment in progress: its event comes when it completes; a ref the simulator made with no push event).")
    return [EVENTS_SECTION, "", intro, "", freshness, "", costs, "", *large_text, "", hourly, "", closing]


def events_only(out: Path | None, scale: str) -> int:
    """Both parts; ``scale`` "tiny" (``--quick``) is a smoke: the large part on the tiny world with the sweep every 2 P."""
    print(f"machine: {sb.machine()}", flush=True)
    started = time.monotonic()
    print(f"events: freshness and requests, {scale} world ...", flush=True)
    result = run_events_bench(scale, steps=3 if scale == "tiny" else 20)
    large_scale, factor, runs = ("tiny", 2, 2) if scale == "tiny" else ("collection", 12, 4)
    print(f"events: requests per hour in a quiet {large_scale} world, polling against events ...", flush=True)
    large = run_quiet_large(large_scale, sweep_factor=factor, polling_runs=runs)
    section = render_events(result, large, f"Measured by `python benchmarks/satellite_bench.py --events` on: {sb.machine()}.",
                            time.monotonic() - started)
    print("\n".join(section))
    if out is not None:
        sb.write_section(out, EVENTS_SECTION, section)
        print(f"written to {out} (section {EVENTS_SECTION!r})")
    return 0


if __name__ == "__main__":  # pragma: no cover - a smoke run: python benchmarks/events_bench.py [scale]
    sys.exit(events_only(None, sys.argv[1] if len(sys.argv) > 1 else "tiny"))

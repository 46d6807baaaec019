"""Events benchmark (issue 22): freshness with service hook events against polling, and the Azure
DevOps requests an hour costs in a quiet world. Run through ``satellite_bench.py --events``.

* Freshness: the simulator (in this process, events delivered as a server's notification job does)
  advances one step at a time; the satellite (``satellite run`` in a child process, events on,
  ``schedule.sweep_interval: 1h``, so no sweep runs) collects what the events name; for each new
  record of the types events cover, the time from the step's end (the change is on the server) to
  the record stored at the receiver (polled every 50 ms). Polling at ``schedule.interval`` 5 min is
  the model: a change waits uniformly over the interval for the next run, then that run's duration
  (measured: ``satellite sync --once`` over the same data dir after one more step).
* Requests: the simulator's request log of one sync with nothing new (``R``). Per hour, polling
  every 5 min costs 12 R; with events in a quiet world the sweep costs R (one an hour) and the
  event job nothing; with activity, each event-driven run costs what the freshness phase measured
  per step.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_events_bench(scale: str = "small", steps: int = 20) -> dict:
    import tempfile

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
                                     cwd=sb.ROOT, env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()})
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
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def render_events(result: dict, how: str) -> list[str]:
    interval = 300.0
    samples = result["samples"]
    p50, p95 = statistics.median(samples), _percentile(samples, 0.95)
    poll_p50, poll_p95 = interval * 0.5 + result["sync_s"], interval * 0.95 + result["sync_s"]
    r = result["quiet_requests"]
    per_step = statistics.mean(result["requests_per_step"])
    large = 17 * 300 + 5000 + 2 * 1000  # issue 22's large collection: 300 projects, 5,000 repositories, 1,000 teams
    intro = (f"The {result['scale']} world advanced {result['steps']} steps one at a time; the satellite (`satellite run`,"
             " events on, `sweep_interval: 1h`: no sweep ran) collected what the events named. Freshness: from the step's"
             " end (the change on the server) to the record stored at the receiver, for each of the"
             f" {result['records']} new records of the types events cover (pushes, commits, refs, pull requests, builds,"
             " runs, deployments, work item revisions, changesets). Polling every 5 min is the model: a change waits"
             f" uniformly over the interval, then a run ({result['sync_s']:.1f} s measured: `sync --once` after one"
             f" step). {how}")
    costs = (f"Requests: a sync with nothing new costs R = {r} requests on this world; each event-driven step cost"
             f" {per_step:.0f} on average (the project and repository lists it needs and the due units).")
    closing = ("With activity, events add what each change costs (the step average above) and polling stays at 12 R; the"
               " target (at least 10x fewer in a quiet world) holds while the sweep interval is at least 10x the polling"
               " interval.")
    large_label = "issue 22's large collection (R = 17 per project, 1 per repository, 2 per team)"
    freshness = sb.table(["", "p50", "p95", "target"], [
        ["events (sweep 1h)", f"{p50:.2f} s", f"{p95:.2f} s", f"p95 < 30 s: {sb.verdict(p95 < 30)}"],
        ["polling every 5 min (model)", f"{poll_p50:.0f} s", f"{poll_p95:.0f} s", ""],
    ])
    hourly = sb.table(["requests per hour", "polling every 5 min", "events, quiet (one sweep)", "ratio"], [
        [f"{result['scale']} world (measured R)", f"{12 * r:,}", f"{r:,}", "12x"],
        [large_label, f"{12 * large:,}", f"{large:,}", "12x"],
    ])
    left = result.get("unannounced") or {}
    if left:
        closing += (" New records no event named (stored by the sweep, not counted above): "
                    + ", ".join(f"{n} {t}" for t, n in sorted(left.items()))
                    + " (a release deployment in progress: its event comes when it completes; a ref the simulator made with no push event).")
    lines = [EVENTS_SECTION, "", intro, "", freshness, "", costs, "", hourly, "", closing]
    return lines


def events_only(out: Path | None, scale: str) -> int:
    print(f"machine: {sb.machine()}", flush=True)
    print(f"events: freshness and requests, {scale} world ...", flush=True)
    result = run_events_bench(scale)
    section = render_events(result, f"Measured by `python benchmarks/satellite_bench.py --events` on: {sb.machine()}.")
    print("\n".join(section))
    if out is not None:
        sb.write_section(out, EVENTS_SECTION, section)
        print(f"written to {out} (section {EVENTS_SECTION!r})")
    return 0


if __name__ == "__main__":  # pragma: no cover - a smoke run: python benchmarks/events_bench.py [scale]
    sys.exit(events_only(None, sys.argv[1] if len(sys.argv) > 1 else "tiny"))

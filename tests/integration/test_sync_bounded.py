"""``sync --once`` is bounded: Ctrl-C stops it at once, and an unreachable SEI ends it with 75.

Both with the SEI endpoint down (a port nothing listens on): before, the run retried uploads
forever and ignored SIGINT. The sealed batches stay in the outbox for the next run.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from standins.ado_simulator.world.world import generate_world

from tests.support import REPO, free_port, run_cli, satellite_env, start_simulator, wait_until, write_config

pytestmark = pytest.mark.integration


def outbox_batches(data_dir) -> int:
    """Batches in the outbox; 0 while the store is not there yet (created or mid-migration)."""
    try:
        with sqlite3.connect(f"file:{data_dir / 'satellite.db'}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def down_config(tmp_path, simulator, key_files, **delivery):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return write_config(tmp_path, ado_url=simulator.collection_url, endpoint=endpoint, key_files=key_files,
                        delivery={"initial_backoff": "50ms", "max_backoff": "200ms", **delivery})


def signalled_sync(tmp_path, config, signum: int, ready, what: str) -> tuple[int, float, str]:
    """``sync --once`` sent ``signum`` once ``ready()``: (its exit code, seconds from the signal to its
    end, its output). It must still be running then."""
    log = open(tmp_path / "sync.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "satellite", "sync", "--once", "-c", str(config)],
                               stdout=log, stderr=subprocess.STDOUT, env=satellite_env(), cwd=REPO)
    try:
        wait_until(ready, 60, what)
        assert process.poll() is None
        sent = time.monotonic()
        process.send_signal(signum)
        code = process.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    return code, took, (tmp_path / "sync.log").read_text()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_sync_once_within_5s_with_the_endpoint_down(tmp_path, key_files, signum):
    world = generate_world(seed=3, scale="tiny")
    with start_simulator(world) as simulator:
        config = down_config(tmp_path, simulator, key_files)
        code, took, output = signalled_sync(tmp_path, config, signum, lambda: (tmp_path / "data" / "satellite.db").exists()
                                            and outbox_batches(tmp_path / "data") > 0, "sealed batches waiting for the unreachable endpoint")
    assert code == 130, output[-2000:]
    assert took < 5, f"took {took:.1f}s to stop"
    assert f"interrupted by {signal.Signals(signum).name}" in output and "Traceback" not in output
    assert outbox_batches(tmp_path / "data") > 0  # nothing lost: kept for the next run


def test_sync_once_gives_up_at_the_delivery_deadline_with_exit_75_and_keeps_the_outbox(tmp_path, key_files):
    world = generate_world(seed=3, scale="tiny")
    with start_simulator(world) as simulator:
        config = down_config(tmp_path, simulator, key_files)
        started = time.monotonic()
        done = run_cli("sync", "--once", "-c", str(config), "--delivery-deadline", "2s", timeout=120)
    assert done.returncode == 75, done.stderr[-3000:]
    assert time.monotonic() - started < 60
    reason = [line for line in done.stderr.splitlines() if line.startswith("sync: gave up delivering")]
    assert len(reason) == 1 and "kept in the outbox" in reason[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    kept = outbox_batches(tmp_path / "data")
    assert kept > 0 and f"{kept} batch(es) kept" in reason[0]


def test_the_deadline_comes_from_the_config_too(tmp_path, key_files):
    world = generate_world(seed=3, scale="tiny")
    with start_simulator(world) as simulator:
        config = down_config(tmp_path, simulator, key_files, once_deadline="1s")
        done = run_cli("sync", "--once", "-c", str(config), timeout=120)
    assert done.returncode == 75, done.stderr[-3000:]


def test_sigterm_stops_sync_once_while_the_server_throttles_with_a_long_retry_after(tmp_path, key_files, receiver):
    """The commits answer 503 with a Retry-After of 5 minutes: the request waiting to try again and the
    requests held by the server's pause at its gate give up at the signal (``Stopping``); the run ends
    as at a record boundary (exit 130), what it stored stays."""
    from standins.ado_simulator.wire.faults import FaultPlan, FaultRule

    world = generate_world(seed=3, scale="tiny")
    rule = FaultRule("503", path=r"/_apis/git/repositories/[^/]+/commits$", retry_after=300)
    with start_simulator(world, faults=FaultPlan(rules=(rule,))) as simulator:
        config = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
        code, took, output = signalled_sync(tmp_path, config, signal.SIGTERM, lambda: "retrying" in (tmp_path / "sync.log").read_text(),
                                            "a request waiting out the Retry-After")
    assert code == 130, output[-2000:]
    assert took < 5, f"took {took:.1f}s to stop"
    assert "Traceback" not in output and "interrupted by SIGTERM" in output


def test_sync_once_stopped_during_a_retry_after_returns_its_result(tmp_path, key_files, receiver, env):
    """In process: the stop ends the back-off of the 503 (``Stopping``); ``sync_once`` takes it as the
    stop, delivers what it sealed and returns its result instead of raising."""
    import threading

    import httpx

    from satellite.config import load_config
    from satellite.sync.once import sync_once
    from standins.ado_simulator.wire.faults import FaultPlan, FaultRule

    world = generate_world(seed=3, scale="tiny")
    rule = FaultRule("503", path=r"/_apis/git/repositories/[^/]+/commits$", retry_after=300)
    with start_simulator(world, faults=FaultPlan(rules=(rule,))) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files),
                             env=env)
        stop, outcome = threading.Event(), {}

        def run() -> None:
            try:
                outcome["result"] = sync_once(config, stop=stop)
            except BaseException as exc:  # noqa: BLE001 - the test looks at what it was
                outcome["error"] = exc

        worker = threading.Thread(target=run, daemon=True)  # a failure must not hold the run for 300 s
        worker.start()
        wait_until(lambda: any(r["status"] == 503 for r in httpx.get(f"{simulator.url}/_sim/requests").json()["requests"]), 60,
                   "a commits request answered 503 with a Retry-After of 5 minutes")
        stop.set()
        worker.join(30)
    assert not worker.is_alive(), "the stop did not end the back-off"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].outbox.dead_letters == 0

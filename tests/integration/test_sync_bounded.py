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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_sync_once_within_5s_with_the_endpoint_down(tmp_path, key_files, signum):
    world = generate_world(seed=3, scale="tiny")
    with start_simulator(world) as simulator:
        config = down_config(tmp_path, simulator, key_files)
        log = open(tmp_path / "sync.log", "w")
        process = subprocess.Popen([sys.executable, "-m", "satellite", "sync", "--once", "-c", str(config)],
                                   stdout=log, stderr=subprocess.STDOUT, env=satellite_env(), cwd=REPO)
        try:
            wait_until(lambda: (tmp_path / "data" / "satellite.db").exists() and outbox_batches(tmp_path / "data") > 0, 60,
                       "sealed batches waiting for the unreachable endpoint")
            assert process.poll() is None  # still trying to deliver
            sent = time.monotonic()
            process.send_signal(signum)
            code = process.wait(timeout=30)
            took = time.monotonic() - sent
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
    output = (tmp_path / "sync.log").read_text()
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

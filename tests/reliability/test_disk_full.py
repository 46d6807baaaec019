"""Disk-full test: the satellite's data_dir on a small tmpfs the test mounts, filled nearly full.

``satellite sync --once`` must fail cleanly: a non-zero exit, one clear error naming the store
and the full disk, no traceback, no secret. The database stays sound (``PRAGMA
integrity_check``), and once space returns the next run delivers everything.
Needs root (mount); without it the test is skipped, saying why.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import warnings

import pytest

from standins.ado_simulator.world.world import generate_world

from tests.support import API_KEY, PAT, assert_mirrors_truth

from .conftest import assert_sent_once, make_receiver, write_config

pytestmark = pytest.mark.reliability

DISK = 16 * 1024 * 1024  # room for a WAL of 1000 pages (the auto-checkpoint) and the database
FREE = 1500 * 1024  # left free: the store opens, collects and delivers a little, then runs out of space


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        reason = f"DISK-FULL TEST NOT RUN: cannot mount a tmpfs (needs root): {(done.stderr or done.stdout).strip()}"
        warnings.warn(reason)
        pytest.skip(reason)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(mount_point, leave: int):
    filler = mount_point / "filler"
    stat = os.statvfs(mount_point)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "wb") as out:
        out.write(b"\0" * max(0, free - leave))
    return filler


def test_a_full_disk_fails_the_run_cleanly_and_the_next_run_delivers_everything(tmp_path, small_disk, key_files, receivers, simulators, processes):
    world = generate_world(seed=5, scale="tiny")
    simulator = simulators(world)
    receiver = make_receiver(tmp_path / "receiver", key_files).start()
    receivers.append(receiver)
    data_dir = small_disk / "data"
    config = write_config(tmp_path / "satellite", ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files,
                          data_dir=str(data_dir))
    filler = fill(small_disk, FREE)

    full = processes.start(config, tmp_path / "full")
    code = full.wait(60)
    out, err = full.out_path.read_text(), full.stderr()
    print(f"\ndisk full: exit {code}\nstderr: {err[-2000:]}\nlast log lines: {out.splitlines()[-3:]}")
    assert code != 0
    assert "Traceback" not in err and "Traceback" not in out
    assert "store" in err and "full" in err, err
    assert PAT not in out + err and API_KEY not in out + err
    db = data_dir / "satellite.db"
    assert db.exists()
    conn = sqlite3.connect(db)  # read-write: recovers the WAL like the next run would
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()

    filler.unlink()
    after = processes.start(config, tmp_path / "after")
    assert after.wait(60) == 0, after.stderr()[-3000:]
    assert_mirrors_truth(receiver, world)
    assert_sent_once(receiver)

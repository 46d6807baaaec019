"""One satellite process per data directory: a second ``sync``/``run`` refuses at once, naming the holder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from satellite.errors import DataDirInUse
from satellite.store import DataDirLock
from tests.support import REPO, run_cli, write_config

HOLD = "import sys; from satellite.store import DataDirLock; DataDirLock(sys.argv[1]).acquire(); print('locked', flush=True); sys.stdin.read()"


def test_a_second_holder_is_refused_with_the_first_ones_pid_and_host(tmp_path):
    with DataDirLock(tmp_path / "data"):
        with pytest.raises(DataDirInUse) as refused:
            DataDirLock(tmp_path / "data").acquire()
    assert f"is in use by pid {os.getpid()} on host {socket.gethostname()}" in str(refused.value)
    DataDirLock(tmp_path / "data").acquire().release()  # released: free again


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "data")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DataDirInUse, match=f"pid {holder.pid} "):
            DataDirLock(tmp_path / "data").acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    DataDirLock(tmp_path / "data").acquire().release()


def test_sync_on_a_data_dir_in_use_exits_2_at_once_and_touches_nothing(tmp_path, key_files):
    config = write_config(tmp_path, ado_url="http://127.0.0.1:9/tfs/DefaultCollection", endpoint="http://127.0.0.1:9",
                          key_files=key_files)
    with DataDirLock(tmp_path / "data"):
        result = run_cli("sync", "--once", "-c", str(config))
    assert result.returncode == 2, result.stderr
    assert f"data dir {tmp_path / 'data'} is in use by pid {os.getpid()}" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["satellite.lock"]  # no database opened

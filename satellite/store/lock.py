"""One process per data directory: an OS lock held for the life of ``sync --once`` or ``run``.

    with DataDirLock(config.satellite.data_dir):
        ...                                  # a second sync/run on this data dir: DataDirInUse

Two processes on one data dir (an overlapping cron run, two pods on one volume) would both
collect and deliver everything twice. ``flock`` is released by the kernel when its holder dies,
so a lock left by a killed process is taken over without help. The lock file names the holder
(pid and host) for the message the second process prints. ``status`` and ``outbox`` need no lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from satellite.errors import DataDirInUse, StoreError
from satellite.store.access import data_dir_hint

__all__ = ["DataDirLock", "LOCK_FILE"]

LOCK_FILE = "satellite.lock"


class DataDirLock:
    """The exclusive lock of a data directory (created if missing)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> "DataDirLock":
        """Take the lock now, or raise DataDirInUse naming its holder."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            hint = data_dir_hint(self.path.parent)
            raise StoreError(f"cannot open the lock file {self.path}: {exc.strerror or exc}{hint}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").split()
            os.close(fd)
            pid, host = (holder + ["?", "?"])[:2]
            raise DataDirInUse(f"data dir {self.path.parent} is in use by pid {pid} on host {host}: one satellite process"
                               " per data dir (wait for it to end, or give this one its own satellite.data_dir)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "DataDirLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

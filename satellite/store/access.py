"""Why the data directory cannot be written, and the command that fixes it.

SQLite says only "unable to open database file" when the data dir is, say, a volume created by
root; the store and the data-dir lock add what this module finds: which uid needs write access,
who owns the directory now, and the ``chown`` to run (or that the filesystem is read-only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataDirAccess", "data_dir_hint", "find_blocked"]

# The files the satellite keeps in its data dir (the database with its WAL and shared memory, the
# store key, the lock): one of them left owned by another user blocks it as well as the directory.
_FILES = ("satellite.db", "satellite.db-wal", "satellite.db-shm", "store.key", "satellite.lock")


@dataclass(frozen=True)
class DataDirAccess:
    """What blocks writing under a data dir: the path, its owner, and whether its filesystem is read-only."""

    data_dir: Path
    blocked: Path
    owner_uid: int
    read_only_fs: bool

    def hint(self, uid: int, gid: int) -> str:
        if self.read_only_fs:
            return (f"{self.blocked} is on a read-only filesystem: mount a writable volume at {self.data_dir}"
                    f" (with the image's --read-only root, the data dir must be a volume)")
        return (f"{self.blocked} is owned by uid {self.owner_uid} and not writable by uid {uid}, which this satellite runs as:"
                f" give uid {uid} write access, e.g. as root `chown -R {uid}:{gid} {self.data_dir}`"
                " (for a bind mount, on the host directory mounted there; on Kubernetes, the pod's fsGroup)")


def _existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (where ``mkdir`` would fail)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def find_blocked(data_dir: Path) -> DataDirAccess | None:
    """The first place under ``data_dir`` this process cannot write, or None when all is writable."""
    data_dir = Path(data_dir)
    directory = _existing(data_dir)
    candidates = [directory] + [directory / name for name in _FILES if directory == data_dir]
    for path in candidates:
        if not path.exists():
            continue
        writable = os.access(path, os.W_OK | os.X_OK) if path.is_dir() else os.access(path, os.W_OK)
        if not writable:
            return DataDirAccess(data_dir, path, path.stat().st_uid, _read_only_fs(path))
    return None


def data_dir_hint(data_dir: Path) -> str:
    """``": <why and the fix>"`` to append to an error about ``data_dir``, or ``""`` when it is writable."""
    blocked = find_blocked(data_dir)
    return f": {blocked.hint(os.getuid(), os.getgid())}" if blocked else ""

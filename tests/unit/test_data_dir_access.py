"""A data dir the satellite cannot write: the error names the uid that needs write access and the chown.

The tests run as root, for whom every directory is writable, so the permission check is replaced by
one that refuses the given paths; tests/deploy/test_image_contents.py shows the same message from the
real image on a root-owned volume.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from satellite.errors import StoreError
from satellite.store import access
from satellite.store.database import Store
from satellite.store.lock import DataDirLock


@pytest.fixture
def refuse(monkeypatch):
    """Make os.access (as the store module sees it) refuse writing to the paths given."""
    refused: set[Path] = set()
    real = os.access
    monkeypatch.setattr(access.os, "access", lambda path, mode: Path(path) not in refused and real(path, mode))
    return refused


def test_a_writable_data_dir_has_no_hint(tmp_path):
    assert access.find_blocked(tmp_path) is None and access.data_dir_hint(tmp_path) == ""


def test_the_hint_names_the_uid_the_owner_and_the_chown(tmp_path, refuse):
    refuse.add(tmp_path)
    blocked = access.find_blocked(tmp_path)
    assert blocked is not None and blocked.blocked == tmp_path and blocked.owner_uid == tmp_path.stat().st_uid
    hint = blocked.hint(10001, 10001)
    assert f"owned by uid {tmp_path.stat().st_uid} and not writable by uid 10001" in hint
    assert f"`chown -R 10001:10001 {tmp_path}`" in hint


def test_a_missing_data_dir_is_judged_by_the_parent_it_would_be_made_in(tmp_path, refuse):
    refuse.add(tmp_path)
    blocked = access.find_blocked(tmp_path / "data" / "deeper")
    assert blocked is not None and blocked.blocked == tmp_path
    assert f"chown -R {os.getuid()}:{os.getgid()} {tmp_path / 'data' / 'deeper'}" in access.data_dir_hint(tmp_path / "data" / "deeper")


def test_a_file_left_owned_by_another_user_blocks_too(tmp_path, refuse):
    (tmp_path / "satellite.db").write_bytes(b"")
    refuse.add(tmp_path / "satellite.db")
    assert access.find_blocked(tmp_path).blocked == tmp_path / "satellite.db"


def test_the_store_says_which_uid_needs_write_access(tmp_path, refuse, monkeypatch):
    """What SQLite says on a root-owned volume, and what the satellite now adds to it."""
    refuse.add(tmp_path)

    def unable(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(sqlite3, "connect", unable)
    with pytest.raises(StoreError) as raised:
        Store(tmp_path)
    message = str(raised.value)
    assert message.startswith(f"cannot open the store in {tmp_path}: unable to open database file: ")
    assert f"not writable by uid {os.getuid()}" in message and f"`chown -R {os.getuid()}:{os.getgid()} {tmp_path}`" in message


def test_the_data_dir_lock_says_it_too(tmp_path, refuse, monkeypatch):
    refuse.add(tmp_path)
    monkeypatch.setattr(os, "open", lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(StoreError, match=rf"satellite\.lock: Permission denied: .*chown -R {os.getuid()}:{os.getgid()} "):
        DataDirLock(tmp_path).acquire()


def test_a_read_only_filesystem_is_named_as_such(tmp_path, refuse, monkeypatch):
    refuse.add(tmp_path)
    monkeypatch.setattr(access, "_read_only_fs", lambda path: True)
    assert "read-only filesystem: mount a writable volume at" in access.data_dir_hint(tmp_path)

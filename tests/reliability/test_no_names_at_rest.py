"""No names in the store (issue 15, item 7): after syncing a world, the satellite's database holds
none of its project, repository, branch or TFVC path names, in any table, in any column; and what
it holds still works (the second sync reads nothing again)."""

from __future__ import annotations

import sqlite3

import pytest

from satellite.config import load_config
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world

from tests.support import start_simulator, write_config

pytestmark = pytest.mark.reliability


def world_names(world) -> set[str]:
    names = {p.name for p in world.projects} | {r.name for r in world.repositories}
    truth = world.truth()
    for key in truth["git.ref"]:
        ref = key.split(":", 1)[1]
        names |= {ref, ref.removeprefix("refs/heads/").removeprefix("refs/tags/")}
    for key in truth["tfvc.branch"]:
        path = key.split(":", 1)[1]
        names |= {path, path.removeprefix("$/")}
    return {n for n in names if len(n) >= 5}  # "main", "dev": too short to tell from other words


def test_the_database_holds_no_project_repository_branch_or_path_name(tmp_path, receiver, key_files, env):
    world = generate_world(seed=3, scale="tiny")
    names = world_names(world)
    assert any("/" in n for n in names) and any(n.startswith("$/") for n in names)  # branches and paths are in it
    with start_simulator(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        first = sync_once(config)
        again = sync_once(config)
    assert first.ok and again.ok, (first.errors, again.errors)
    assert sum(o.records for o in again.collection.outcomes) == 0  # the sealed cursors still work
    found = []
    with sqlite3.connect(tmp_path / "data" / "satellite.db") as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            for row in conn.execute(f"SELECT * FROM {table}"):
                for column, value in zip(columns, row):
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    found += [(table, column, n) for n in names if n in text]
    assert tables and not found, f"{len(found)} name(s) in the clear, e.g. {found[:5]}"

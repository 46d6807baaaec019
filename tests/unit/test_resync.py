"""``satellite resync``: what a selection forgets (and only that; the live keys stay), the
selection's checks, and a run that read a cursor before it was forgotten not bringing it back."""

from __future__ import annotations

import pytest

from satellite.config import load_config
from satellite.store import CursorKey, Forgotten, OutboxEntry, Store
from satellite.streams.base import Checkpoint, Record
from satellite.sync.batching import BatchWriter
from satellite.sync.resync import SelectionError, resync, select

from tests.support import write_config

PARTITIONS = ("DefaultCollection/repo-1", "DefaultCollection/repo-2", "Other/repo-3")


def fill(store: Store) -> None:
    """Two integrations x two streams x three partitions, each with a cursor, two delivered keys and a live key."""
    for integration in ("tfs", "tfs-2"):
        for stream in ("git.commits", "git.pull_requests"):
            for n, partition in enumerate(PARTITIONS):
                key = CursorKey(integration, stream, partition)
                store.commit_batch(OutboxEntry(f"{integration}-{stream}-{n}", integration, stream, n, 1, b"x"), (key, f'{{"n":{n}}}'),
                                   delivered=(key, [f"{partition}:a", f"{partition}:b"]),
                                   live=(key, [("git.pull_request", f"{partition}:1", True)]))


def held(store: Store) -> set[tuple[str, str, str]]:
    """(integration, stream, partition) holding a cursor or a delivered key."""
    return {tuple(row) for row in store._conn.execute(
        "SELECT integration_id, stream, partition FROM cursors UNION SELECT integration_id, stream, partition FROM delivered_keys")}


def every() -> set[tuple[str, str, str]]:
    return {(i, s, p) for i in ("tfs", "tfs-2") for s in ("git.commits", "git.pull_requests") for p in PARTITIONS}


def test_forgetting_a_stream_of_one_integration_forgets_only_that(store):
    fill(store)
    forgotten = store.forget("tfs", ["git.commits"])
    assert forgotten == [Forgotten("tfs", "git.commits", cursors=3, delivered_keys=6)]
    assert held(store) == every() - {("tfs", "git.commits", p) for p in PARTITIONS}
    for partition in PARTITIONS:
        key = CursorKey("tfs", "git.commits", partition)
        assert store.get_cursor(key) is None and store.delivered_among(key, [f"{partition}:a"]) == set()
        assert store.live_keys(key, "git.pull_request") == {f"{partition}:1"}  # the re-read deletes what is gone
        other = CursorKey("tfs-2", "git.commits", partition)
        assert store.get_cursor(other) is not None and store.delivered_among(other, [f"{partition}:a"]) == {f"{partition}:a"}
    assert store.outbox_stats().batches == 12  # batches waiting are still sent


def test_forgetting_partitions_forgets_them_in_every_selected_stream(store):
    fill(store)
    forgotten = store.forget("tfs-2", None, [PARTITIONS[0], PARTITIONS[2], "DefaultCollection/unknown"])
    assert [(f.stream, f.cursors, f.delivered_keys) for f in forgotten] == [("git.commits", 2, 4), ("git.pull_requests", 2, 4)]
    assert held(store) == every() - {("tfs-2", s, p) for s in ("git.commits", "git.pull_requests") for p in (PARTITIONS[0], PARTITIONS[2])}


def test_forgetting_everything_and_an_empty_selection(store):
    fill(store)
    assert store.forget("tfs", ["git.commits"], []) == []  # no partition selected: nothing
    assert held(store) == every()
    assert len(store.forget()) == 4 and held(store) == set()
    assert store.forget() == [] and store.partitions() == every()  # the live keys


def test_a_run_that_read_the_cursor_before_it_was_forgotten_does_not_bring_it_back(tmp_path, store, sealer):
    key = CursorKey("tfs", "git.commits", PARTITIONS[0])
    store.save_cursor(key, '{"at":0}')
    beside = Store(tmp_path / "data")  # satellite resync, another process on the same data dir

    def items():
        yield Record("git.commit", "repo-1:1", "upsert", "2026-01-01T00:00:00Z", {})
        yield Checkpoint('{"at":1}')
        yield Record("git.commit", "repo-1:2", "upsert", "2026-01-01T00:00:00Z", {})
        yield Checkpoint('{"at":2}')  # the batch of repo-1:1 is stored with this cursor...
        assert beside.forget("tfs", ["git.commits"])  # ...then the resync
        yield Record("git.commit", "repo-1:3", "upsert", "2026-01-01T00:00:00Z", {})
        yield Checkpoint('{"at":3}')
        yield Checkpoint('{"at":4}')  # stored on its own at the end, with no batch

    try:
        writer = BatchWriter(store, sealer, cursor_key=key, service="git", max_records=2, max_bytes=1 << 20, remember_keys=True)
        result = writer.write(items())
        assert result.records == 3 and result.batches == 2  # everything read is still sent
        assert beside.get_cursor(key) is None  # the next run reads the partition again from the start
        assert store.delivered_among(key, ["repo-1:1", "repo-1:3"]) == {"repo-1:3"}  # sent after the resync
        # the next run reads the cursor anew (none) and advances it as usual
        writer.write([Record("git.commit", "repo-1:1", "upsert", "2026-01-01T00:00:00Z", {}), Checkpoint('{"at":9}')])
        assert beside.get_cursor(key) == '{"at":9}'
    finally:
        beside.close()


def test_a_reset_by_another_store_of_the_same_process_is_respected_too(tmp_path, store):
    key = CursorKey("tfs", "git.refs", PARTITIONS[0])
    store.save_cursor(key, "a")
    assert store.get_cursor(key) == "a"
    assert store.reset_cursors("tfs") == 1
    store.save_cursor(key, "b")  # a writer that read "a" before the reset
    assert store.get_cursor(key) is None
    store.save_cursor(key, "c")  # the next run, which read none
    assert store.get_cursor(key) == "c"


# --- the selection ------------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path, key_files, env):
    return load_config(write_config(tmp_path, ado_url="http://127.0.0.1:9/tfs/DefaultCollection", endpoint="http://127.0.0.1:9",
                                    key_files=key_files), env=env)


def test_an_unknown_integration_or_stream_is_refused_listing_the_valid_ones(config):
    with pytest.raises(SelectionError, match="unknown integration 'nope'; the integrations are: tfs-main"):
        select(config, "nope", None, None)
    with pytest.raises(SelectionError, match="unknown stream.*git.comits; the streams are: .*git.commits.*wit.revisions"):
        select(config, None, ["git.comits"], None)
    with pytest.raises(SelectionError, match="wit.revisions are collection-wide.*: .*git.commits"):
        select(config, None, ["wit.revisions", "git.commits"], ["Fabrikam"])


def test_a_selection_by_project_covers_the_streams_below_projects(config):
    selection = select(config, None, None, ["Fabrikam", "Fabrikam"])
    assert selection.integrations == ("tfs-main",) and selection.projects == ("Fabrikam",) and selection.every_stream
    assert {"git.commits", "git.refs", "core.teams", "work.team_iterations", "build.builds"} <= set(selection.streams)
    assert not {"core.projects", "wit.revisions", "tfvc.changesets", "core.identities"} & set(selection.streams)
    assert select(config, "tfs-main", ["git.commits"], None).streams == ("git.commits",)
    assert select(config, None, None, None).streams is None


def test_the_command_says_what_it_forgot_and_refuses_a_bad_selection(config):
    store = Store(config.satellite.data_dir)
    try:
        fill(store)
        store.commit_batch(OutboxEntry("m", "tfs-main", "git.commits", 1, 1, b"x"), (CursorKey("tfs-main", "git.commits", "C/r"), "{}"),
                           delivered=(CursorKey("tfs-main", "git.commits", "C/r"), ["k"]))
    finally:
        store.close()
    out, err = [], []
    assert resync(config, streams=["git.nope"], echo=out.append, complain=err.append) == 2
    assert not out and "the streams are:" in err[0]
    assert resync(config, integration="tfs", echo=out.append, complain=err.append) == 2  # not in this config
    assert "the integrations are: tfs-main" in err[1]
    assert resync(config, streams=["git.commits"], echo=out.append, complain=err.append) == 0
    assert out[0] == "resync: tfs-main git.commits: forgot 1 cursor(s), 1 delivered key(s)"
    assert "reads these again from the start" in out[1]
    out.clear()
    assert resync(config, streams=["git.commits"], echo=out.append, complain=err.append) == 0
    assert out == ["resync: nothing to forget in this selection (nothing of it was collected yet)"]
    store = Store(config.satellite.data_dir)
    try:
        assert ("tfs", "git.commits", PARTITIONS[0]) in held(store)  # another integration's: untouched
    finally:
        store.close()

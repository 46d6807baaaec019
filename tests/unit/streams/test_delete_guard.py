"""The delete guard of snapshot streams (issue 15): a listing that would delete more than
max(10, 20%) of the keys held waits for the next listing to agree before anything is deleted."""

from __future__ import annotations

from satellite.streams.base import snapshot_diff
from satellite.streams.cursors import SnapshotHashes
from satellite.streams.records import Checkpoint, Record


def listing(keys) -> list[tuple[str, dict]]:
    return [(k, {"id": k}) for k in keys]


def run(keys, cursor: str | None) -> tuple[list[Record], str]:
    out = list(snapshot_diff("git.ref", listing(keys), cursor))
    assert isinstance(out[-1], Checkpoint)
    return [r for r in out if isinstance(r, Record)], out[-1].cursor


ALL = [f"r:{i:02d}" for i in range(50)]


def deletes(records: list[Record]) -> list[str]:
    return [r.key for r in records if r.op == "delete"]


def test_a_large_deletion_is_held_once_then_applied_when_the_next_listing_agrees():
    _, cursor = run(ALL, None)
    records, held = run(ALL[:30], cursor)  # 20 of 50 gone: more than max(10, 10)
    assert deletes(records) == []
    assert SnapshotHashes.from_text(held).held == tuple(ALL[30:])
    assert set(SnapshotHashes.from_text(held).hashes) == set(ALL)  # still known: nothing re-sent if they come back
    assert held.startswith('{"deletes_held":')  # what `satellite status` shows first
    records, after = run(ALL[:30], held)
    assert deletes(records) == ALL[30:]
    assert SnapshotHashes.from_text(after).held == () and set(SnapshotHashes.from_text(after).hashes) == set(ALL[:30])


def test_a_held_deletion_the_next_listing_contradicts_deletes_nothing_and_resends_nothing():
    _, cursor = run(ALL, None)
    _, held = run(ALL[:30], cursor)
    records, after = run(ALL, held)  # a partial answer, not a deletion: everything is back
    assert records == []
    assert SnapshotHashes.from_text(after) == SnapshotHashes.from_text(cursor)


def test_small_deletions_apply_at_once():
    _, cursor = run(ALL, None)
    records, _ = run(ALL[:40], cursor)  # 10 of 50: not more than max(10, 20%)
    assert deletes(records) == ALL[40:]
    _, few = run(ALL[:5], None)
    records, _ = run([], few)  # every key of a small listing: 5 <= 10
    assert deletes(records) == ALL[:5]


def test_another_large_deletion_while_one_is_held_is_held_again():
    _, cursor = run(ALL, None)
    _, held = run(ALL[:30], cursor)
    records, again = run(ALL[20:], held)  # now other keys are missing
    assert deletes(records) == []
    assert SnapshotHashes.from_text(again).held == tuple(ALL[:20])

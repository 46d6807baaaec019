"""Typed cursors: every kind parses what the current release stores and encodes it back to the same
text (a store written before the upgrade goes on where it stood), and the tie-break of "since a
time" reads is the one the builds and releases streams always had.

The samples below were stored by the release before typed cursors (commit 573bcf7, a sync of the
simulator at scale small), shortened where long.
"""

from __future__ import annotations

import random
from dataclasses import replace
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from satellite.streams import STREAMS, IncrementalStream, SnapshotStream
from satellite.streams.base import Checkpoint
from satellite.streams.cursors import (
    BranchHeads,
    BuildsCursor,
    ContinuationToken,
    Cursor,
    EnvironmentMark,
    IdHighWater,
    OpenPullRequest,
    OpenRun,
    PipelineRunsCursor,
    PullRequestsCursor,
    PushesCursor,
    ReleasesCursor,
    SnapshotHashes,
    Watermark,
    format_time,
    parse_time,
)

STORED: list[tuple[type[Cursor], str]] = [
    (SnapshotHashes, '{"hashes":{"0ef91267-7a4f-4839-9cbf-c8236b4fb5f8":"09dab1dbb5cea74684ed9d57cbc1c7e1",'
                     '"533d95e8-52ea-414c-8df8-abc92a160be0":"90d2775d50f3f82ca0db9c91728650dd"}}'),
    (SnapshotHashes, '{"hashes":{"f7492838-0221-4985-bd33-9256471fd256:$/Tailspin Analytics/Dev":"a873488e9b6445b7dcddfda181689e68"}}'),
    (SnapshotHashes, '{"hashes":{}}'),
    (ContinuationToken, '{"token":"5000;30;15"}'),
    (ContinuationToken, '{"token":null}'),
    (IdHighWater, '{"last_id":400}'),
    (BranchHeads, '{"heads":{"refs/heads/bugfix/8126-paging":"10a3754f4b4476ecb66e4b451993f4e18413361d",'
                  '"refs/heads/main":"d10255218d3594eaaad11cff441f63012ff51087"}}'),
    (PushesCursor, '{"push_id":70,"refs":"9600a78ddc9a6b64aeae72486d53cf96"}'),
    (PullRequestsCursor, '{"max_id":143,"open":{"142":{"pr":"a0b4875cef2a1ff79fdadc8cd66c3bd6",'
                         '"repo":"a0a36e26-83d8-46b3-bf16-301586207986","threads":"30ff171a820d9845532c1c98a14357ac"},'
                         '"64":{"pr":"14efb59fa663b1ab9dff2ec451c924e0","repo":"a0a36e26-83d8-46b3-bf16-301586207986",'
                         '"threads":"783ae6b98d75de44ce068cffdf126393"}}}'),
    (BuildsCursor, '{"at_finish":[594],"finish":"2024-11-30T19:45:25.7173020Z","open":{}}'),
    (BuildsCursor, '{"at_finish":[17,18],"finish":"2024-11-30T19:45:25.7173020Z","open":{"601":"4c1f0a4c3d2b1a0f9e8d7c6b5a493827"}}'),
    (ReleasesCursor, '{"at_created":[21],"at_modified":[30],"created":"2024-06-10T11:20:27.2990000Z",'
                     '"modified":"2024-06-10T11:33:47.2320000Z"}'),
    (ReleasesCursor, '{"at_created":[],"at_modified":[],"created":null,"modified":null}'),
    (PipelineRunsCursor, '{"activity":"2024-11-30T19:45:25.7173020Z","max":{"4":594,"6":564},"open":{},"seen":["f593","f594"]}'),
    (PipelineRunsCursor, '{"activity":null,"max":{"4":12},"open":{"13":["4","7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"]},"seen":[]}'),
]


# written since the overlap window, the release walk, open deployments and timed activity tags (issue 13)
STORED_SINCE_OVERLAP: list[tuple[type[Cursor], str]] = [
    (BuildsCursor, '{"at_finish":[18],"finish":"2024-11-30T19:45:25.7173020Z","finish_window":{"17":["2024-11-30T19:42:'
                   '01.0000000Z","4c1f0a4c3d2b1a0f9e8d7c6b5a493827"],"18":["2024-11-30T19:45:25.7173020Z",'
                   '"09dab1dbb5cea74684ed9d57cbc1c7e1"]},"open":{}}'),
    (ReleasesCursor, '{"at_created":[21],"at_modified":[30],"created":"2024-06-10T11:20:27.2990000Z","created_window":'
                     '{"21":["2024-06-10T11:20:27.2990000Z","90d2775d50f3f82ca0db9c91728650dd"]},"modified":'
                     '"2024-06-10T11:33:47.2320000Z","modified_window":{"30":["2024-06-10T11:33:47.2320000Z",'
                     '"a873488e9b6445b7dcddfda181689e68"]},"open_deployments":{"31":["2024-06-10T11:30:00.0000000Z",'
                     '"783ae6b98d75de44ce068cffdf126393"]},"sweep":{"read":{"7":"2024-06-10T11:31:00.0000000Z"},'
                     '"since":"2024-06-10T11:28:47.2320000Z","started":"2024-06-10T11:33:47.2320000Z","token":"300"}}'),
    (PipelineRunsCursor, '{"activity":"2024-11-30T19:45:25.7173020Z","max":{"4":594},"open":{},'
                         '"seen":["f594@2024-11-30T19:45:25.7173020Z","q594@2024-11-30T19:30:00.0000000Z"]}'),
]


# written since the bounds for items committed late between two listings, or out of id order
STORED_SINCE_LATE_COMMITS: list[tuple[type[Cursor], str]] = [
    (PushesCursor, '{"floor":69,"push_id":70,"refs":"9600a78ddc9a6b64aeae72486d53cf96"}'),
    (BuildsCursor, '{"at_finish":[18],"finish":"2024-11-30T19:45:25.7173020Z","finish_window":{"18":["2024-11-30T19:45:'
                   '25.7173020Z","09dab1dbb5cea74684ed9d57cbc1c7e1"]},"open":{"601":"4c1f0a4c3d2b1a0f9e8d7c6b5a493827"},'
                   '"visible_at":"2024-11-30T19:44:00.0000000Z"}'),
    (BuildsCursor, '{"at_finish":[],"finish":null,"open":{},"visible_at":"1970-01-01T00:00:00Z"}'),
    (PipelineRunsCursor, '{"activity":"2024-11-30T19:45:25.7173020Z","environments":{"7":[24,{},22,[23,24]],"8":[3,{"3":'
                         '"a873488e9b6445b7dcddfda181689e68"}]},"max":{"4":594},"open":{},"seen":[],'
                         '"visible_at":"2024-11-30T19:40:00.0000000Z"}'),
]


def test_the_late_commit_bounds_read_back():
    assert PushesCursor.from_text(STORED_SINCE_LATE_COMMITS[0][1]).walk_to == 69
    assert PushesCursor.from_text(STORED[7][1]).walk_to == 70  # stored before the floor: down to the last push
    builds = BuildsCursor.from_text(STORED_SINCE_LATE_COMMITS[1][1])
    assert builds.since(timedelta(minutes=5)) == "2024-11-30T19:39:00.0000000Z"  # before visible_at, not the finish
    empty = BuildsCursor.from_text(STORED_SINCE_LATE_COMMITS[2][1])  # no build when first read
    assert empty.since(timedelta(minutes=5)) is None  # nothing finished yet: from the backfill start
    assert replace(empty, finished=builds.finished).since(timedelta(minutes=5)) == "1969-12-31T23:55:00.0000000Z"
    marks = PipelineRunsCursor.from_text(STORED_SINCE_LATE_COMMITS[3][1]).environments
    assert marks["7"] == EnvironmentMark(24, {}, 22, frozenset({23, 24})) and marks["7"].walk_to == 22
    assert [i for i in (21, 22, 23, 24, 25) if not marks["7"].delivered(i)] == [25]
    assert marks["8"] == EnvironmentMark(3, {3: "a873488e9b6445b7dcddfda181689e68"}) and marks["8"].walk_to == 2


@pytest.mark.parametrize("kind, text", STORED + STORED_SINCE_OVERLAP + STORED_SINCE_LATE_COMMITS,
                         ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_a_cursor_stored_by_the_current_release_parses_and_encodes_back_to_the_same_text(kind, text):
    cursor = kind.from_text(text)
    assert cursor.encode() == text
    assert cursor.checkpoint() == Checkpoint(text)
    assert kind.from_text(cursor.encode()) == cursor


def test_what_the_stored_cursors_say():
    assert SnapshotHashes.from_text(STORED[0][1]).hashes["533d95e8-52ea-414c-8df8-abc92a160be0"] == "90d2775d50f3f82ca0db9c91728650dd"
    assert ContinuationToken.from_text('{"token":"5000;30;15"}').token == "5000;30;15"
    assert IdHighWater.from_text('{"last_id":400}').last_id == 400
    assert BranchHeads.from_text(STORED[6][1]).heads["refs/heads/main"] == "d10255218d3594eaaad11cff441f63012ff51087"
    assert PushesCursor.from_text(STORED[7][1]) == PushesCursor(70, "9600a78ddc9a6b64aeae72486d53cf96")
    prs = PullRequestsCursor.from_text(STORED[8][1])
    assert prs.max_id == 143 and set(prs.open) == {"142", "64"}
    assert prs.open["64"] == OpenPullRequest("a0a36e26-83d8-46b3-bf16-301586207986", "14efb59fa663b1ab9dff2ec451c924e0",
                                             "783ae6b98d75de44ce068cffdf126393")
    builds = BuildsCursor.from_text(STORED[10][1])
    assert builds.finished == Watermark("2024-11-30T19:45:25.7173020Z", frozenset({17, 18}))
    assert builds.open == {"601": "4c1f0a4c3d2b1a0f9e8d7c6b5a493827"}
    releases = ReleasesCursor.from_text(STORED[11][1])
    assert releases.created == Watermark("2024-06-10T11:20:27.2990000Z", frozenset({21}))
    assert releases.modified == Watermark("2024-06-10T11:33:47.2320000Z", frozenset({30}))
    runs = PipelineRunsCursor.from_text(STORED[14][1])
    assert runs.max == {"4": 12} and runs.open == {"13": OpenRun("4", "7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a")} and runs.activity is None


def test_a_pipeline_runs_cursor_older_than_activity_and_pipelines_of_open_runs_still_parses():
    """Before the build-activity shortcut a runs cursor held no "activity"/"seen", and an open run only its hash."""
    runs = PipelineRunsCursor.from_text('{"max":{"4":12},"open":{"13":"7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"}}')
    assert runs.activity is None and runs.seen == frozenset()
    assert runs.open == {"13": OpenRun(None, "7d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a")}


@pytest.mark.parametrize("kind", sorted({kind for kind, _ in STORED}, key=lambda k: k.__name__), ids=lambda k: k.__name__)
def test_no_cursor_is_the_start(kind):
    assert kind.from_text(None) == kind() == kind.from_text("")
    assert kind.from_text(kind().encode()) == kind()


def test_the_first_cursors_a_stream_writes_are_the_texts_it_always_wrote():
    assert ContinuationToken("t").encode() == '{"token":"t"}'
    assert IdHighWater(7).encode() == '{"last_id":7}'
    assert PushesCursor(3, "ab").encode() == '{"push_id":3,"refs":"ab"}'
    assert BranchHeads({"refs/heads/b": "2", "refs/heads/a": "1"}).encode() == '{"heads":{"refs/heads/a":"1","refs/heads/b":"2"}}'
    assert BuildsCursor().encode() == '{"at_finish":[],"finish":null,"open":{}}'
    assert PipelineRunsCursor().encode() == '{"activity":null,"max":{},"open":{},"seen":[]}'


def test_every_stream_declares_its_kind_of_cursor():
    for stream in STREAMS:
        assert issubclass(stream.cursor, Cursor) and stream.cursor.summary, stream.name
        assert (stream.cursor is SnapshotHashes) == issubclass(stream, SnapshotStream), stream.name
        assert issubclass(stream, (SnapshotStream, IncrementalStream))


def test_no_stream_touches_cursor_json():
    streams = Path(__file__).resolve().parents[2] / "satellite" / "streams"
    for path in streams.glob("*.py"):
        if path.name != "cursors.py":
            assert not re.search(r"^import json$|json\.(loads|dumps)\(", path.read_text(), re.M), path.name


# -- the watermark: overlap window, de-duplication by id and content hash -----------------------------

FIVE = timedelta(minutes=5)


def test_a_watermark_stored_before_the_window_reads_from_its_time_with_its_old_tie_break():
    mark = BuildsCursor.from_text(STORED[10][1]).finished  # {"at_finish":[17,18],"finish":...} as stored today
    assert mark.window is None and mark.since(FIVE) == "2024-11-30T19:45:25.7173020Z"  # no overlap this once
    assert not mark.admits("2024-11-30T19:45:25.7173020Z", 17, "h")  # met again at its time: delivered
    assert mark.admits("2024-11-30T19:45:25.7173020Z", 19, "h") and mark.admits("2024-11-30T19:50:00Z", 17, "h")
    moved = mark.advanced([("2024-11-30T19:45:25.7173020Z", 17, "a"), ("2024-11-30T19:47:00Z", 20, "b")], FIVE)
    assert moved.window == {17: ("2024-11-30T19:45:25.7173020Z", "a"), 20: ("2024-11-30T19:47:00Z", "b")}
    assert moved.since(FIVE) == "2024-11-30T19:42:00.0000000Z"
    again = BuildsCursor.from_text(BuildsCursor(moved, {}).encode())
    assert again.finished == moved


def test_what_the_cursors_written_since_the_overlap_say():
    builds = BuildsCursor.from_text(STORED_SINCE_OVERLAP[0][1]).finished
    assert builds.since(FIVE) == "2024-11-30T19:40:25.7173020Z" and not builds.admits(None, 17, "4c1f0a4c3d2b1a0f9e8d7c6b5a493827")
    releases = ReleasesCursor.from_text(STORED_SINCE_OVERLAP[1][1])
    assert releases.sweep.token == "300" and releases.sweep.read == {7: "2024-06-10T11:31:00.0000000Z"}
    assert releases.open == {31: ("2024-06-10T11:30:00.0000000Z", "783ae6b98d75de44ce068cffdf126393")}


def test_a_watermark_reads_back_its_overlap_and_admits_only_what_is_new_or_changed():
    mark = Watermark().advanced([("2024-01-01T00:10:00Z", 1, "a"), ("2024-01-01T00:07:00Z", 2, "b")], FIVE)
    assert mark.time == "2024-01-01T00:10:00Z" and mark.ids == {1}
    assert mark.since(FIVE) == "2024-01-01T00:05:00.0000000Z"
    assert not mark.admits("2024-01-01T00:10:00Z", 1, "a") and not mark.admits("2024-01-01T00:07:00Z", 2, "b")
    assert mark.admits("2024-01-01T00:06:00Z", 3, "c")  # visible late, before the latest time: new
    assert mark.admits("2024-01-01T00:12:00Z", 2, "b2")  # finished again (a rerun): changed


def test_a_watermark_keeps_only_the_ids_and_hashes_inside_its_window():
    mark = Watermark().advanced([(f"2024-01-01T00:{m:02d}:00Z", m, "h") for m in range(0, 60)], FIVE)
    assert sorted(mark.window) == list(range(54, 60))  # 00:54 .. 00:59: at or after 00:59 less 5 minutes
    assert Watermark().advanced([], FIVE) == Watermark()
    assert mark.advanced([("2024-01-01T00:58:00Z", 58, "h")], FIVE, move=False).time == mark.time


@pytest.mark.parametrize("seed", range(40))
def test_with_an_overlap_items_visible_late_are_delivered_once_and_nothing_unchanged_again(seed):
    """Items become visible up to the overlap late; each read asks "since" the mark's start, as the APIs
    answer (inclusive, ascending). Every item is delivered, and each content exactly once."""
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    events = []  # (visible at step, time, id)
    for n in range(rng.randrange(1, 30)):
        at = base + timedelta(seconds=rng.randrange(0, 3600))
        step = int((at - base).total_seconds() // 300) + rng.choice([0, 0, 0, 1])  # some commit a step late
        events.append((step, at, 100 + n))
    mark, delivered = Watermark(), []
    for step in range(0, 14):
        visible = sorted((at, i) for s, at, i in events if s <= step)
        since = mark.since(FIVE)
        answer = [(format_time(at), i, f"h{i}") for at, i in visible if since is None or at >= parse_time(since)]
        delivered += [i for t, i, h in answer if mark.admits(t, i, h)]
        mark = mark.advanced(answer, FIVE)
    assert sorted(delivered) == sorted(i for _, _, i in events)

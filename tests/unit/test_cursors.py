"""Typed cursors: every kind parses what the current release stores and encodes it back to the same
text (a store written before the upgrade goes on where it stood), and the tie-break of "since a
time" reads is the one the builds and releases streams always had.

The samples below were stored by the release before typed cursors (commit 573bcf7, a sync of the
simulator at scale small), shortened where long.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from satellite.streams import STREAMS, IncrementalStream, SnapshotStream
from satellite.streams.base import Checkpoint, latest_time
from satellite.streams.cursors import (
    BranchHeads,
    BuildsCursor,
    ContinuationToken,
    Cursor,
    IdHighWater,
    OpenPullRequest,
    OpenRun,
    PipelineRunsCursor,
    PullRequestsCursor,
    PushesCursor,
    ReleasesCursor,
    SnapshotHashes,
    Watermark,
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


@pytest.mark.parametrize("kind, text", STORED, ids=lambda v: v.__name__ if isinstance(v, type) else "")
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


# -- the watermark's tie-break ---------------------------------------------------------------------


def test_a_watermark_admits_what_it_has_not_delivered_at_its_time():
    mark = Watermark("2024-01-01T00:00:05Z", frozenset({7}))
    assert not mark.admits("2024-01-01T00:00:05Z", 7)  # met again: the API's time filter is inclusive
    assert mark.admits("2024-01-01T00:00:05Z", 8)  # same time, not delivered yet
    assert mark.admits("2024-01-01T00:00:06Z", 7)  # changed since


def test_a_watermark_moves_to_the_latest_time_and_keeps_the_ids_at_it():
    mark = Watermark("2024-01-01T00:00:05Z", frozenset({7}))
    assert mark.advanced([]) == mark
    assert mark.advanced([("2024-01-01T00:00:05Z", 8)]) == Watermark("2024-01-01T00:00:05Z", frozenset({7, 8}))
    moved = mark.advanced([("2024-01-01T00:00:06Z", 9), ("2024-01-01T00:00:07.5Z", 11), ("2024-01-01T00:00:07.5Z", 10)])
    assert moved == Watermark("2024-01-01T00:00:07.5Z", frozenset({10, 11}))
    assert Watermark().advanced([("2024-01-01T00:00:05Z", 1)]) == Watermark("2024-01-01T00:00:05Z", frozenset({1}))


def _old_builds(finish, at_finish, pages):
    """The builds stream's tie-break as written before typed cursors (in finish-time order)."""
    at_finish = set(at_finish)
    for page in pages:
        for build_id, time in [(i, t) for i, t in page if not (i in at_finish and t == finish)]:
            if time != finish:
                finish, at_finish = time, set()
            at_finish.add(build_id)
    return finish, at_finish


def _old_releases(moment, at, items):
    """The releases stream's tie-break as written before typed cursors."""
    fresh = [(i, t) for i, t in items if not (i in set(at) and t == moment)]
    newest = latest_time([moment] + [t for _, t in fresh])
    at = set(at) if newest == moment else set()
    return newest, at | {i for i, t in fresh if t == newest}


@pytest.mark.parametrize("seed", range(40))
def test_the_watermark_is_the_tie_break_the_builds_and_releases_streams_had(seed):
    rng = random.Random(seed)
    times = sorted(f"2024-01-01T00:00:{rng.randrange(0, 6):02d}Z" for _ in range(rng.randrange(0, 12)))
    items = [(100 + n, t) for n, t in enumerate(times)]  # ascending, ties at a time, as the APIs are asked
    start = items[: rng.randrange(0, len(items) + 1)]
    finish, at = _old_builds(None, [], [start])
    mark = Watermark().advanced((t, i) for i, t in start)
    assert (mark.time, set(mark.ids)) == (finish, at)
    rest = [(i, t) for i, t in items if t >= (finish or "")]  # what "since finish" answers, the tie included
    split = rng.randrange(0, len(rest) + 1)
    pages = [rest[:split], rest[split:]]
    expected = _old_builds(finish, at, pages)
    for page in pages:
        mark = mark.advanced((t, i) for i, t in page if mark.admits(t, i))
    assert (mark.time, set(mark.ids)) == expected
    assert _old_releases(finish, at, rest) == expected

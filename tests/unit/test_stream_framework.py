"""What the stream framework does for every stream: keys from the declaration, immutable records
sent once, every stream exported."""

from __future__ import annotations

import pytest

from satellite.streams.records import UnreadableItem

import satellite.streams as streams
from satellite.streams import STREAMS, Checkpoint, IncrementalStream, Record, Scope
from satellite.streams.base import KeyFormat, StreamContext, only_new, upsert
from satellite.streams.cursors import IdHighWater

PARENT = {"id": "p-1"}


def test_a_key_is_built_from_its_format():
    assert KeyFormat("{collectionId}:{referenceName}").build("c", {"referenceName": "System.Id"}, None) == "c:System.Id"
    assert KeyFormat("{projectId}", {"projectId": "id"}).build("c", {"id": "x"}, None) == "x"
    members = KeyFormat("{teamId}:{identityId}", {"identityId": "identity.id"}, parent="teamId")
    assert members.build("c", {"identity": {"id": "u-9"}}, {"id": "t-1"}) == "t-1:u-9"
    assert str(members) == "{teamId}:{identityId}"
    for lacking in ({"identity": {}}, {"identity": None}, {"identity": {"id": {"x": 1}}}, {"identity": {"id": True}},
                    {"identity": {"id": ""}}):  # the stream quarantines such an item
        with pytest.raises(UnreadableItem, match="identity.id"):
            members.build("c", lacking, {"id": "t-1"})


def test_every_stream_declares_a_key_format_whose_parent_fits_its_scope():
    for stream in STREAMS:
        key_format = stream.key_format
        assert isinstance(key_format, KeyFormat), stream.name
        if key_format.parent is not None:
            assert f"{{{key_format.parent}}}" in key_format.template, stream.name
            assert stream.scope in (Scope.PROJECT, Scope.REPOSITORY, Scope.TEAM) or stream.name == "wit.comments", stream.name


def test_streams_exports_every_stream():
    assert {cls.__name__ for cls in STREAMS} <= set(streams.__all__)
    assert len(STREAMS) == 26
    for name in streams.__all__:
        assert hasattr(streams, name), name


def _upserts(*keys: str) -> list[Record]:
    return [upsert("t.thing", key, {"k": key}) for key in keys]


def test_only_new_drops_what_was_delivered_before_and_what_came_twice():
    items = [*_upserts("a", "b"), Checkpoint("1"), *_upserts("b", "c", "a", "d"), Checkpoint("2")]
    asked: list[list[str]] = []

    def delivered(keys: list[str]) -> set[str]:
        asked.append(list(keys))
        return {"c"} | (set(keys) & {"a", "b"} if len(asked) > 1 else set())  # a, b stored by the first batch

    out = list(only_new(items, delivered))
    assert [i.key if isinstance(i, Record) else i.cursor for i in out] == ["a", "b", "1", "d", "2"]
    assert asked == [["a", "b"], ["b", "c", "a", "d"]]  # by chunk, ending at each checkpoint


def test_only_new_asks_in_chunks_and_keeps_the_checkpoint_after_its_records():
    items = [*_upserts(*"abcde"), Checkpoint("end")]
    asked: list[int] = []
    out = list(only_new(items, lambda keys: asked.append(len(keys)) or set(), chunk=2))
    assert asked == [2, 2, 1]
    assert isinstance(out[-1], Checkpoint) and len(out) == 6


class _Immutable(IncrementalStream):
    name = "test.things"
    record_type = "t.thing"
    key_format = KeyFormat("{collectionId}:{id}")
    cursor = IdHighWater
    service = "core"
    scope = Scope.COLLECTION
    immutable = True

    def read_since(self, ctx, parent, cursor):
        assert cursor == IdHighWater(3)  # the declared kind, parsed from the stored text
        for n in (4, 5, 4):
            yield upsert(self.record_type, self.key(ctx, {"id": n}, parent), {"id": n})
        yield IdHighWater(5).checkpoint()


def test_an_immutable_stream_gets_its_parsed_cursor_and_sends_a_key_once():
    ctx = StreamContext(None, "c/", '{"last_id":3}', None, collection_id="c",  # type: ignore[arg-type]
                        already_delivered=lambda keys: {"c:5"} & set(keys))
    out = list(_Immutable().read(ctx, None))
    assert [i.key for i in out if isinstance(i, Record)] == ["c:4"]
    assert out[-1] == Checkpoint('{"last_id":5}')

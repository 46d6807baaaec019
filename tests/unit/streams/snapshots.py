"""What every snapshot stream owes, written once.

A test module declares one ``SnapshotCase`` per snapshot stream and a class deriving from
``SnapshotContract`` that holds it; pytest then runs the contract for that stream:

- first run: one upsert per listed item, with the key written out in the case, and a checkpoint;
- nothing new: the checkpoint fed back and the same answer give no record;
- incremental: an added and a changed item are upserted, a removed one deleted, nothing else;
- malformed list (a 200 ``{}``, ``[]``, string, HTML page, cut JSON): the unit fails, with no
  delete and no checkpoint (the stored cursor stays where it was);
- an item without its key: quarantined (skipped, reported), the rest flows, nothing is deleted;
- parent gone (404 on the list route): AdoNotFoundError, nothing emitted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

import pytest

from satellite.errors import AdoNotFoundError
from tests.unit.streams.harness import MALFORMED, Reply, Run, Server, gone, recorded, run_stream

__all__ = ["SnapshotCase", "SnapshotContract", "add_copy", "changed"]

def add_copy(body: dict, **changes: Any) -> dict:
    """Append to a ``{count, value}`` answer a copy of its first item with ``changes``; returns it."""
    item = {**copy.deepcopy(body["value"][0]), **changes}
    body["value"].append(item)
    body["count"] = len(body["value"])
    return item


def changed(item: dict, **changes: Any) -> dict:
    """``item`` with ``changes`` applied in place."""
    item.update(changes)
    return item


def _serve_one(case: "SnapshotCase", server: Server, answer: Any) -> Server:
    return server.get(case.route, answer, case.params)


@dataclass(frozen=True)
class SnapshotCase:
    """One snapshot stream and its recorded list answer.

    ``add``, ``change``, ``remove`` and ``drop_key`` change an answer in place: the first three
    return the key of the item they touched, ``drop_key`` takes the key field out of one item.
    """

    stream: Callable[[], Any]
    record_type: str
    route: str
    fixture: str | Callable[[], Any]  # the recorded file's name, or a function building the answer
    keys: tuple[str, ...]
    add: Callable[[Any], str]
    change: Callable[[Any], str]
    remove: Callable[[Any], str]
    drop_key: Callable[[Any], None]
    parent: dict | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    serve: Callable[["SnapshotCase", Server, Any], Server] = _serve_one
    gone: Reply = field(default_factory=gone)
    version: str = "7.0"

    def answer(self) -> Any:
        return self.fixture() if callable(self.fixture) else recorded(self.fixture)

    def server(self, answer: Any | None = None) -> Server:
        return self.serve(self, Server(self.version), self.answer() if answer is None else answer)

    def run(self, server: Server, **kwargs: Any) -> Run:
        return run_stream(self.stream(), server, parent=self.parent, **kwargs)


class SnapshotContract:
    """Derive ``Test<Stream>`` from it and set ``case``."""

    case: ClassVar[SnapshotCase]

    def test_first_run_upserts_every_item_under_its_key_and_checkpoints(self) -> None:
        run = self.case.run(self.case.server())
        assert sorted(run.keys()) == sorted(self.case.keys)
        assert {(r.type, r.op) for r in run.records} == {(self.case.record_type, "upsert")}
        assert all(isinstance(r.data, dict) and r.data for r in run.records)
        assert run.checkpoint is not None
        assert run.asked(self.case.route, **self.case.params), run.requests

    def test_nothing_new_emits_nothing(self) -> None:
        first = self.case.run(self.case.server())
        again = self.case.run(self.case.server(), cursor=first.checkpoint)
        assert again.records == ()
        assert again.checkpoint is not None

    def test_incremental_run_sends_only_what_changed_and_deletes_what_is_gone(self) -> None:
        first = self.case.run(self.case.server())
        answer = self.case.answer()
        added, changed, removed = self.case.add(answer), self.case.change(answer), self.case.remove(answer)
        assert len({added, changed, removed}) == 3 and added not in self.case.keys
        second = self.case.run(self.case.server(answer), cursor=first.checkpoint)
        assert sorted(second.keys(op="upsert")) == sorted([added, changed])
        assert second.keys(op="delete") == [removed]
        assert second.record(changed).data is not None
        third = self.case.run(self.case.server(answer), cursor=second.checkpoint)
        assert third.records == ()

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_list_fails_the_unit_without_deletes_or_checkpoint(self, kind: str) -> None:
        first = self.case.run(self.case.server())
        reply, error = MALFORMED[kind]
        server = self.case.server().get(self.case.route, reply, self.case.params)
        bad = self.case.run(server, cursor=first.checkpoint, expect=error)
        assert bad.deletes == []
        assert bad.checkpoints == ()

    def test_item_without_its_key_is_quarantined_and_deletes_nothing(self) -> None:
        """The one bad item is skipped and reported; the others flow; since the bad item may be one
        held before, the listing deletes nothing, and once it reads right nothing is lost."""
        first = self.case.run(self.case.server())
        answer = self.case.answer()
        self.case.drop_key(answer)
        bad = self.case.run(self.case.server(answer), cursor=first.checkpoint)
        assert len(bad.quarantined) == 1 and bad.quarantined[0].record_type == self.case.stream().record_type
        assert bad.deletes == [] and bad.checkpoints
        again = self.case.run(self.case.server(), cursor=bad.checkpoint)
        assert again.deletes == [] and again.quarantined == ()

    def test_parent_gone_raises_not_found_and_emits_nothing(self) -> None:
        first = self.case.run(self.case.server())
        server = self.case.server().get(self.case.route, self.case.gone, self.case.params)
        bad = self.case.run(server, cursor=first.checkpoint, expect=AdoNotFoundError)
        assert bad.records == ()
        assert bad.checkpoints == ()

"""TFVC streams as units against recorded answers: changesets with their changes, branches, labels."""

from __future__ import annotations

import copy
import threading

import pytest

from satellite.errors import AdoNotFoundError, AdoResponseError
from satellite.streams import ChangesetsStream, TfvcBranchesStream, TfvcLabelsStream
from tests.unit.streams.harness import MALFORMED, Reply, Request, Server, gone, offset_pages, recorded, run_stream
from tests.unit.streams.parents import CID, PROJECT, PROJECT_ID
from tests.unit.streams.snapshots import SnapshotCase, SnapshotContract, add_copy, changed

CHANGESETS = "_apis/tfvc/changesets"
BRANCHES = f"{PROJECT_ID}/_apis/tfvc/branches"
LABELS = f"{PROJECT_ID}/_apis/tfvc/labels"


def changes_path(changeset_id: int) -> str:
    return f"{CHANGESETS}/{changeset_id}/changes"


class Tfvc:
    """The collection's changesets (recorded: 1, 2, 3) and their changes, as the server pages them."""

    def __init__(self) -> None:
        self.changesets = recorded("tfvc_changesets")["value"]
        self.changes = {int(i): body["value"] for i, body in recorded("tfvc_changes").items()}
        self.ignores_from_id = False
        self.top_first = False

    def check_in(self, changeset_id: int) -> None:
        self.changesets.append({**copy.deepcopy(self.changesets[-1]), "changesetId": changeset_id,
                                "comment": f"changeset {changeset_id}", "createdDate": "2024-08-01T10:00:00.0000000Z"})
        self.changes[changeset_id] = [{**copy.deepcopy(c), "item": {**c["item"], "path": f"{c['item']['path']}.v{changeset_id}"}}
                                      for c in self.changes[3]]

    def answer(self, request: Request) -> Reply:
        """fromId inclusive, toId inclusive; without ``$orderby`` newest first (the newest-id probe);
        ``top_first``: $top cut from the newest-first order, then sorted ascending."""
        top = int(request.params["$top"])
        if "$orderby" not in request.params:
            page = sorted(self.changesets, key=lambda c: -c["changesetId"])[:top]
            return Reply({"count": len(page), "value": page})
        assert request.params["$orderby"] == "id asc"
        start = 1 if self.ignores_from_id else int(request.params["searchCriteria.fromId"])
        end = 10**9 if self.ignores_from_id else int(request.params["searchCriteria.toId"])
        found = [c for c in self.changesets if start <= c["changesetId"] <= end]
        page = sorted(found[::-1][:top], key=lambda c: c["changesetId"]) if self.top_first else found[:top]
        return Reply({"count": len(page), "value": page})

    def server(self) -> Server:
        server = Server().get(CHANGESETS, self.answer)
        for changeset_id in range(1, 10):
            server.get(changes_path(changeset_id), offset_pages(lambda i=changeset_id: self.changes.get(i, [])))
        return server

    def keys(self, *changeset_ids: int) -> list[str]:
        keys = []
        for i in changeset_ids:
            keys.append(f"{CID}:{i}")
            keys.extend(f"{CID}:{i}:{c['item']['path']}" for c in self.changes[i])
        return keys


def from_ids(run) -> list[str]:
    return [r.params["searchCriteria.fromId"] for r in run.requests if r.path == CHANGESETS and "$orderby" in r.params]


def probes(run) -> int:
    return len([r for r in run.requests if r.path == CHANGESETS and "$orderby" not in r.params])


class TestChangesetsStream:
    def test_first_run_sends_each_changeset_then_its_changes_and_checkpoints_after_each(self) -> None:
        tfvc = Tfvc()
        run = run_stream(ChangesetsStream(), tfvc.server())
        assert run.keys() == tfvc.keys(1, 2, 3)
        assert {r.type for r in run.records} == {"tfvc.changeset", "tfvc.change"} and {r.op for r in run.records} == {"upsert"}
        assert run.record(f"{CID}:2:$/Proseware Analytics/Main/build/Schema.xsd").data["changeType"]
        assert len(run.checkpoints) == 3
        assert from_ids(run) == ["0"] and probes(run) == 1
        assert sorted(set(run.paths())) == sorted([CHANGESETS] + [changes_path(i) for i in (1, 2, 3)])
        assert len(run.asked(CHANGESETS)) == 2  # the newest id, then one window

    def test_incremental_run_asks_from_the_next_id_and_sends_only_new_changesets(self) -> None:
        tfvc = Tfvc()
        first = run_stream(ChangesetsStream(), tfvc.server())
        tfvc.check_in(4)
        run = run_stream(ChangesetsStream(), tfvc.server(), cursor=first.checkpoint, delivered=first.keys())
        assert run.keys() == tfvc.keys(4)
        assert from_ids(run) == ["3"]  # the window starts at the last id read: fromId inclusive or exclusive

    def test_nothing_new_is_one_request_and_no_record(self) -> None:
        tfvc = Tfvc()
        first = run_stream(ChangesetsStream(), tfvc.server())
        run = run_stream(ChangesetsStream(), tfvc.server(), cursor=first.checkpoint, delivered=first.keys())
        assert run.records == ()
        assert probes(run) == 1 and len(run.requests) == 1  # the newest id is the one delivered: no window asked

    def test_windows_of_ids_are_asked_with_a_top_as_wide_as_the_window(self) -> None:
        tfvc = Tfvc()
        run = run_stream(ChangesetsStream(), tfvc.server(), page_sizes={"changesets": 2})
        asked = [(r.params["searchCriteria.fromId"], r.params["searchCriteria.toId"], r.params["$top"])
                 for r in run.requests if "$orderby" in r.params]
        assert asked == [("0", "2", "3"), ("2", "3", "2")]
        assert run.keys() == tfvc.keys(1, 2, 3)

    def test_a_server_applying_top_before_the_ascending_sort_skips_nothing(self) -> None:
        """tfvc: "Results are sorted by ID in descending order by default. Use id asc to sort by ID in
        ascending order." No example combines $top with it: a window cannot be cut either way."""
        tfvc = Tfvc()
        tfvc.top_first = True
        for changeset_id in range(4, 10):
            tfvc.check_in(changeset_id)
        run = run_stream(ChangesetsStream(), tfvc.server(), page_sizes={"changesets": 2})
        assert run.keys("tfvc.changeset") == [f"{CID}:{i}" for i in range(1, 10)]

    def test_a_server_ignoring_from_id_is_a_pagination_loop_not_a_resend(self) -> None:
        tfvc = Tfvc()
        tfvc.ignores_from_id = True
        run = run_stream(ChangesetsStream(), tfvc.server(), page_sizes={"changesets": 2}, expect=AdoResponseError)
        assert "pagination loop" in str(run.error) and "ignored the range" in str(run.error)
        assert run.keys("tfvc.changeset") == []  # the first window's answer held ids beyond it: nothing taken from it
        assert run.checkpoints == ()

    def test_the_next_page_of_changesets_is_asked_before_the_changes_of_the_page_before_are_in(self) -> None:
        """A page may hold as few as 20 changesets (a server's cap): reading each page's changes to the last
        before asking the next page made the stream a chain of round trips at the end of a backfill."""
        tfvc = Tfvc()
        for changeset_id in range(4, 7):
            tfvc.check_in(changeset_id)
        second_page_asked = threading.Event()
        server = tfvc.server()

        def windows(request: Request) -> Reply:
            if "$orderby" in request.params and request.params["searchCriteria.fromId"] != "0":
                second_page_asked.set()
            return tfvc.answer(request)

        def held_changes(request: Request) -> Reply:  # changeset 1's changes wait for the second window
            assert second_page_asked.wait(10), "the second page of changesets was not asked while changes were pending"
            return offset_pages(lambda: tfvc.changes[1])(request)

        server.get(CHANGESETS, windows).get(changes_path(1), held_changes)
        run = run_stream(ChangesetsStream(), server, page_sizes={"changesets": 2})
        assert run.keys() == tfvc.keys(1, 2, 3, 4, 5, 6)  # in order, each changeset before its changes
        assert len(run.checkpoints) == 6

    def test_a_failing_window_fails_after_the_changesets_read_before_it(self) -> None:
        tfvc = Tfvc()
        for changeset_id in range(4, 7):
            tfvc.check_in(changeset_id)
        server = tfvc.server()
        server.get(CHANGESETS, lambda r: MALFORMED["html page"][0] if r.params.get("searchCriteria.fromId") == "2" else tfvc.answer(r))
        run = run_stream(ChangesetsStream(), server, page_sizes={"changesets": 2}, expect=AdoResponseError)
        assert run.keys() == tfvc.keys(1, 2)  # the first window's changesets, each with its changes and checkpoint
        assert len(run.checkpoints) == 2

    def test_changes_are_read_page_by_page(self) -> None:
        tfvc = Tfvc()
        run = run_stream(ChangesetsStream(), tfvc.server(), page_sizes={"default": 2})
        assert [r.params["$skip"] for r in run.requests if r.path == changes_path(2)][:2] == ["0", "2"]
        assert run.keys() == tfvc.keys(1, 2, 3)

    def test_after_a_crash_inside_a_changeset_what_was_stored_is_not_sent_again(self) -> None:
        tfvc = Tfvc()
        first = run_stream(ChangesetsStream(), tfvc.server())
        after_one = first.checkpoints[0]  # stored with the batch that ended inside changeset 2
        stored = [f"{CID}:2", f"{CID}:2:$/Proseware Analytics/Main"]
        run = run_stream(ChangesetsStream(), tfvc.server(), cursor=after_one, delivered=stored)
        assert run.keys() == [k for k in tfvc.keys(2, 3) if k not in stored]

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_changesets_answer_fails_without_checkpoint(self, kind: str) -> None:
        tfvc = Tfvc()
        first = run_stream(ChangesetsStream(), tfvc.server())
        reply, error = MALFORMED[kind]
        run = run_stream(ChangesetsStream(), tfvc.server().get(CHANGESETS, reply), cursor=first.checkpoint, expect=error)
        assert run.records == () and run.checkpoints == ()

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_changes_answer_fails_before_the_changeset_is_checkpointed(self, kind: str) -> None:
        tfvc = Tfvc()
        reply, error = MALFORMED[kind]
        run = run_stream(ChangesetsStream(), tfvc.server().get(changes_path(1), reply), expect=error)
        assert run.checkpoints == ()
        assert run.keys() in ([], [f"{CID}:1"])  # the changeset may be out; without a checkpoint it is read again

    def test_changeset_without_its_id_fails_without_checkpoint(self) -> None:
        tfvc = Tfvc()
        del tfvc.changesets[0]["changesetId"]
        run = run_stream(ChangesetsStream(), tfvc.server(), expect=AdoResponseError)
        assert run.records == () and run.checkpoints == ()

    @pytest.mark.parametrize("route", [CHANGESETS, changes_path(1)])
    def test_not_found_raises(self, route: str) -> None:
        tfvc = Tfvc()
        run = run_stream(ChangesetsStream(), tfvc.server().get(route, gone("item", route)), expect=AdoNotFoundError)
        assert run.checkpoints == ()


BRANCH_PARAMS = {"includeChildren": "true", "includeDeleted": "true", "includeParent": "true"}
MAIN, DEV = "$/Proseware Analytics/Main", "$/Proseware Analytics/Dev"


def add_branch(body: dict) -> str:
    child = copy.deepcopy(body["value"][0]["children"][0])
    child.update(path="$/Proseware Analytics/Release", description="Branched from $/Proseware Analytics/Main", children=[])
    body["value"][0]["children"].append(child)
    return f"{CID}:{child['path']}"


class TestTfvcBranchesStream(SnapshotContract):
    case = SnapshotCase(
        stream=TfvcBranchesStream,
        record_type="tfvc.branch",
        route=BRANCHES,
        params=BRANCH_PARAMS,
        fixture="tfvc_branches",
        parent=PROJECT,
        keys=(f"{CID}:{MAIN}", f"{CID}:{DEV}"),
        add=add_branch,
        # a branch's record names its children: adding or removing a child changes the parent too
        change=lambda body: f"{CID}:" + changed(body["value"][0], description="Mainline")["path"],
        remove=lambda body: f"{CID}:" + body["value"][0]["children"].pop(0)["path"],
        drop_key=lambda body: body["value"][0]["children"][0].pop("path"),
    )

    def test_children_are_flattened_and_named_by_path(self) -> None:
        run = self.case.run(self.case.server())
        assert run.record(f"{CID}:{MAIN}").data["children"] == [{"path": DEV}]
        assert run.record(f"{CID}:{DEV}").data["parent"]["path"] == MAIN


class TestTfvcLabelsStream(SnapshotContract):
    case = SnapshotCase(
        stream=TfvcLabelsStream,
        record_type="tfvc.label",
        route=LABELS,
        params={"requestData.labelScope": "$/Proseware Analytics"},
        fixture="tfvc_labels",
        serve=lambda case, server, body: server.get(LABELS, offset_pages(body["value"]) if isinstance(body, dict) else body,
                                                    case.params),
        parent=PROJECT,
        keys=(f"{CID}:1", f"{CID}:2"),
        add=lambda body: f"{CID}:{add_copy(body, id=3, name='Sprint 40')['id']}",
        change=lambda body: f"{CID}:{changed(body['value'][1], description='Release candidate')['id']}",
        remove=lambda body: f"{CID}:{body['value'].pop(0)['id']}",
        drop_key=lambda body: body["value"][1].pop("id"),
    )

    def test_labels_are_read_page_by_page(self) -> None:
        body = recorded("tfvc_labels")
        add_copy(body, id=3, name="Sprint 40")
        run = run_stream(TfvcLabelsStream(), Server().get(LABELS, offset_pages(body["value"])), parent=PROJECT,
                         page_sizes={"default": 2})
        assert [r.params["$skip"] for r in run.requests] == ["0", "2", "3"]  # the cap is unknown: a short page is not the end
        assert sorted(run.keys()) == [f"{CID}:1", f"{CID}:2", f"{CID}:3"]

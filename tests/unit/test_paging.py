"""Paginators alone, against a scripted ``fetch``: what each asks for, what it yields, where it stops,
and that a server paging in circles ends the walk with one error (written once)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest

from satellite.ado.paging import SERVER_CAPS, Answer, IdWindows, NewestFirst, PageCap, TokenBody, TokenHeader, TopSkip
from satellite.errors import AdoResponseError

WHERE = "https://tfs.example.test/tfs/DefaultCollection/_apis/things"


class Script:
    """A fetch answering from a function of the paging params; remembers what was asked."""

    def __init__(self, answer: Callable[[dict], tuple[Any, Mapping[str, str]]], list_key: str = "value") -> None:
        self.asked: list[dict] = []
        self._answer = answer
        self._key = list_key

    def __call__(self, params: Mapping[str, Any]) -> Answer:
        self.asked.append(dict(params))
        body, headers = self._answer(dict(params))
        return Answer(body[self._key], body, headers)


def ids(pages) -> list[list[int]]:
    return [[item["id"] for item in page.items] for page in pages]


def things(*numbers: int) -> list[dict]:
    return [{"id": n} for n in numbers]


# -- continuation token in a header --------------------------------------------------------------


def test_token_header_follows_the_header_until_it_is_gone():
    answers = {None: (things(1, 2), "t1"), "t1": (things(3, 4), "t2"), "t2": (things(5), None)}

    def answer(params):
        found, token = answers[params.get("continuationToken")]
        return {"count": len(found), "value": found}, ({"x-ms-continuationtoken": token} if token else {})

    fetch = Script(answer)
    pages = list(TokenHeader(2).pages(fetch, WHERE))
    assert ids(pages) == [[1, 2], [3, 4], [5]]
    assert [p.resume for p in pages] == ["t1", "t2", None]
    assert fetch.asked == [{"$top": 2}, {"$top": 2, "continuationToken": "t1"}, {"$top": 2, "continuationToken": "t2"}]


def test_token_header_repeated_is_a_loop_found_before_asking_again():
    fetch = Script(lambda params: ({"value": things(1)}, {"x-ms-continuationtoken": "same"}))
    with pytest.raises(AdoResponseError, match=f"pagination loop at {re.escape(WHERE)}: continuation token repeated"):
        list(TokenHeader(1, top_param="searchCriteria.$top").pages(fetch, WHERE))
    assert len(fetch.asked) == 2 and fetch.asked[0] == {"searchCriteria.$top": 1}


# -- continuation token in the body (reporting APIs, comments) ------------------------------------


def reporting(batches: dict[str | None, tuple[list[int], str | None, bool]]) -> Script:
    def answer(params):
        found, token, last = batches[params.get("continuationToken")]
        body: dict[str, Any] = {"values": things(*found), "isLastBatch": last}
        if token is not None:
            body["continuationToken"] = token
        return body, {}

    return Script(answer, "values")


def test_reporting_walk_resumes_from_the_stored_token_and_yields_the_token_after_each_batch():
    fetch = reporting({"w1": ([1, 2], "w2", False), "w2": ([3], "w3", True)})
    walk = TokenBody("values", start="w1", opening={"startDateTime": "2024-01-01T00:00:00Z"}, last_key="isLastBatch")
    pages = list(walk.pages(fetch, WHERE))
    assert ids(pages) == [[1, 2], [3]]
    assert [p.resume for p in pages] == ["w2", "w3"]
    assert fetch.asked == [{"continuationToken": "w1"}, {"continuationToken": "w2"}]  # no start date with a token


def test_reporting_walk_without_a_token_starts_at_the_opening_params():
    fetch = reporting({None: ([1], "w1", True)})
    walk = TokenBody("values", opening={"startDateTime": "2024-01-01T00:00:00Z"}, last_key="isLastBatch")
    assert [p.resume for p in walk.pages(fetch, WHERE)] == ["w1"]
    assert fetch.asked == [{"startDateTime": "2024-01-01T00:00:00Z"}]


def test_reporting_batch_without_a_token_resumes_where_it_started():
    fetch = reporting({"w1": ([], None, True)})
    assert [p.resume for p in TokenBody("values", start="w1", last_key="isLastBatch").pages(fetch, WHERE)] == ["w1"]


def test_a_batch_not_last_but_without_any_token_ends_the_walk():
    fetch = reporting({None: ([1], None, False)})
    assert [p.resume for p in TokenBody("values", last_key="isLastBatch").pages(fetch, WHERE)] == [None]


def test_read_ahead_asks_for_the_next_batch_while_the_caller_handles_this_one():
    asked_second = threading.Event()
    fetch = reporting({None: ([1], "w1", False), "w1": ([2], "w2", True)})

    def watching(params):
        answer = fetch(params)
        if params.get("continuationToken") == "w1":
            asked_second.set()
        return answer

    walk = TokenBody("values", last_key="isLastBatch", read_ahead=True).pages(watching, WHERE)
    next(walk)
    assert asked_second.wait(timeout=10), "the second batch was not asked for while the first was handled"
    assert ids(walk) == [[2]]


def test_reporting_token_repeated_is_a_loop():
    fetch = reporting({None: ([1], "w1", False), "w1": ([2], "w1", False)})
    with pytest.raises(AdoResponseError, match="pagination loop at .*continuation token repeated"):
        list(TokenBody("values", last_key="isLastBatch", read_ahead=True).pages(fetch, WHERE))
    assert len(fetch.asked) == 2


def test_comments_walk_follows_the_body_token_until_it_is_gone_and_detects_a_loop():
    def answer(params):
        token = params.get("continuationToken")
        following = {None: "c1", "c1": "c2", "c2": None}[token]
        return {"comments": things(len(token or "")), **({"continuationToken": following} if following else {})}, {}

    fetch = Script(answer, "comments")
    assert [p.resume for p in TokenBody("comments").pages(fetch, WHERE)] == ["c1", "c2", None]
    looping = Script(lambda params: ({"comments": [], "continuationToken": "again"}, {}), "comments")
    with pytest.raises(AdoResponseError, match="pagination loop"):
        list(TokenBody("comments").pages(looping, WHERE))
    assert len(looping.asked) == 2


# -- $top / $skip ---------------------------------------------------------------------------------


def offsets(total: int, cap: int = 0) -> Callable[[dict], tuple[Any, Mapping[str, str]]]:
    """A $top/$skip list of ``total`` things; ``cap``: the most one page holds whatever is asked."""
    def answer(params):
        top = params.get("$top", params.get("searchCriteria.$top"))
        top = min(top, cap) if cap else top
        skip = params.get("$skip", params.get("searchCriteria.$skip"))
        found = things(*range(skip + 1, min(skip + top, total) + 1))
        return {"count": len(found), "value": found}, {}

    return answer


def test_top_skip_walks_until_an_empty_page_with_the_route_s_param_names_when_the_cap_is_unknown():
    fetch = Script(offsets(5))
    pages = list(TopSkip(2, "searchCriteria.$top", "searchCriteria.$skip").pages(fetch, WHERE))
    assert ids(pages) == [[1, 2], [3, 4], [5]]
    assert [p["searchCriteria.$skip"] for p in fetch.asked] == [0, 2, 4, 5]  # one more: [5] may be a cap of 1


def test_top_skip_ends_on_a_page_shorter_than_a_documented_cap():
    fetch = Script(offsets(5))
    assert ids(TopSkip(2, cap=1000).pages(fetch, WHERE)) == [[1, 2], [3, 4], [5]]
    assert len(fetch.asked) == 3


def test_top_skip_continues_after_short_pages_of_a_server_capping_below_the_top_asked():
    """ado_api.md: "a server may cap a page below the $top asked; 'short page = end' is only safe
    where the cap is known"."""
    fetch = Script(offsets(12, cap=5))
    assert ids(TopSkip(50).pages(fetch, WHERE)) == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]
    assert [p["$skip"] for p in fetch.asked] == [0, 5, 10]  # [11, 12] is shorter than the 5 answered before: the end


def test_top_skip_capped_exactly_at_the_end_costs_one_empty_page():
    fetch = Script(offsets(10, cap=5))
    assert ids(TopSkip(50).pages(fetch, WHERE)) == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    assert [p["$skip"] for p in fetch.asked] == [0, 5, 10]


def test_a_page_cap_shared_by_lists_of_one_route_ends_a_short_list_without_an_extra_request():
    cap = PageCap()
    first, second = Script(offsets(7)), Script(offsets(3))
    assert ids(TopSkip(10, cap=cap).pages(first, WHERE)) == [[1, 2, 3, 4, 5, 6, 7]]
    assert len(first.asked) == 2  # the first short page of the route: one more request
    assert ids(TopSkip(10, cap=cap).pages(second, WHERE)) == [[1, 2, 3]]
    assert len(second.asked) == 1  # 3 < 7 answered before: the end


def test_server_caps_name_a_source_for_every_list():
    assert all(entry.source for entry in SERVER_CAPS.values())
    assert SERVER_CAPS["git.commits"].cap is None and SERVER_CAPS["pipelines.runs"].cap == 10_000


def test_top_skip_does_not_yield_an_empty_last_page():
    fetch = Script(offsets(4))
    assert ids(TopSkip(2).pages(fetch, WHERE)) == [[1, 2], [3, 4]]
    assert len(fetch.asked) == 3


def test_top_skip_ignored_is_a_loop():
    fetch = Script(lambda params: ({"value": things(1, 2)}, {}))
    with pytest.raises(AdoResponseError, match=r"pagination loop at .*: \$skip=2 returned the previous page again"):
        list(TopSkip(2).pages(fetch, WHERE))


# -- fromId..toId windows -------------------------------------------------------------------------


def changesets(total: int, *, cap: int = 0, top_first: bool = False, exclusive: bool = False, missing: tuple[int, ...] = ()) -> Script:
    """TFVC changesets 1..total ascending by fromId/toId/$top. ``cap``: the most a page holds;
    ``top_first``: $top is applied to the newest-first order before the ascending sort;
    ``exclusive``: fromId excludes its own id; ``missing``: ids that do not exist."""
    def answer(params):
        low = params["searchCriteria.fromId"] + (1 if exclusive else 0)
        high = min(params["searchCriteria.toId"], total)
        top = min(params["$top"], cap) if cap else params["$top"]
        found = [n for n in range(low, high + 1) if n not in missing and n >= 1]
        found = sorted(found[::-1][:top]) if top_first else found[:top]
        return {"count": len(found), "value": [{"changesetId": n} for n in found]}, {}

    return Script(answer)


def windows(walk: IdWindows, fetch: Script) -> list[int]:
    return [c["changesetId"] for page in walk.pages(fetch, WHERE) for c in page.items]


@pytest.mark.parametrize("top_first", [False, True])
@pytest.mark.parametrize("exclusive", [False, True])
def test_windows_read_every_id_in_order_whichever_order_top_and_the_sort_apply_in(top_first: bool, exclusive: bool):
    fetch = changesets(23, top_first=top_first, exclusive=exclusive)
    assert windows(IdWindows("changesetId", 10, after=0, upto=23), fetch) == list(range(1, 24))
    assert [(p["searchCriteria.fromId"], p["searchCriteria.toId"], p["$top"]) for p in fetch.asked] == [
        (0, 10, 11), (10, 20, 11), (20, 23, 4)]


@pytest.mark.parametrize("top_first", [False, True])
def test_windows_under_a_cap_narrow_once_and_miss_nothing(top_first: bool):
    fetch = changesets(40, cap=5, top_first=top_first)
    assert windows(IdWindows("changesetId", 10, after=3, upto=40), fetch) == list(range(4, 41))
    assert len(fetch.asked) == 1 + 10  # the window cut once, then windows of 4 new ids (5 with the last read)


def test_windows_with_gaps_miss_nothing_and_trust_a_window_shorter_than_the_cap_learned():
    missing = (5, 6, 7, 15, 30)
    fetch = changesets(40, missing=missing)
    assert windows(IdWindows("changesetId", 10, after=0, upto=40), fetch) == [n for n in range(1, 41) if n not in missing]


def test_windows_end_at_the_newest_id_and_cost_nothing_when_it_was_read():
    fetch = changesets(10)
    assert windows(IdWindows("changesetId", 10, after=10, upto=10), fetch) == [] and fetch.asked == []


# -- newest first until known ---------------------------------------------------------------------


def newest_first(newest: int, shift_after_first_page: int = 0) -> Script:
    state = {"calls": 0}

    def answer(params):
        top = newest + (shift_after_first_page if state["calls"] else 0)
        state["calls"] += 1
        found = [{"id": n} for n in range(top - params["$skip"], max(top - params["$skip"] - params["$top"], 0), -1)]
        return {"value": found}, {}

    return Script(answer)


def test_newest_first_stops_at_the_page_reaching_the_highest_delivered_id():
    fetch = newest_first(10)
    assert ids(NewestFirst(TopSkip(3), "id", known=5).pages(fetch, WHERE)) == [[10, 9, 8], [7, 6]]
    assert len(fetch.asked) == 2


def test_newest_first_yields_each_item_once_when_new_items_shift_the_pages():
    fetch = newest_first(10, shift_after_first_page=2)  # two pushed while the first page was read
    assert ids(NewestFirst(TopSkip(3), "id", known=4).pages(fetch, WHERE)) == [[10, 9, 8], [7], [6, 5]]


def test_newest_first_on_the_first_run_reads_everything():
    assert ids(NewestFirst(TopSkip(4), "id").pages(newest_first(6), WHERE)) == [[6, 5, 4, 3], [2, 1]]


# -- written once -----------------------------------------------------------------------------------


def test_pagination_loop_is_raised_in_one_place():
    package = Path(__file__).resolve().parents[2] / "satellite"
    places = [path.relative_to(package).as_posix() for path in package.rglob("*.py")
              for line in path.read_text().splitlines() if 'f"pagination loop at' in line]
    assert places == ["ado/paging.py"]


def test_a_page_fingerprint_tells_the_same_ends_whatever_the_key_order():
    from satellite.ado.paging import _fingerprint

    first = [{"id": 1, "a": {"x": 1, "y": 2}}, {"id": 2}, {"id": 3}]
    assert _fingerprint(first) == _fingerprint([{"a": {"y": 2, "x": 1}, "id": 1}, {"id": 9}, {"id": 3}])
    assert _fingerprint(first) != _fingerprint([{"id": 1, "a": {"x": 1, "y": 2}}, {"id": 4}])
    assert _fingerprint([{"id": object.__new__(object)}]) != _fingerprint([{"id": 1}])  # not JSON: still a fingerprint

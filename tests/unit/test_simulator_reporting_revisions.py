"""The reporting revisions route's shortcuts answer what a plain replay from revision 1 does.

The route keeps each item's last replayed state between pages (``WorkItemsDomain.replays``), computes
a few short fields alone (``selected_field_values``), writes fields in field order without sorting and
formats dates from a per-day prefix: each is checked here against the plain computation, also after
the world advanced and with walks of different page sizes interleaved."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlencode

import pytest

from standins.ado_simulator.api.wit.wit_bodies import (
    field_values,
    selected_field_values,
    wit_date,
)
from standins.ado_simulator.app import create_app
from standins.ado_simulator.world.boards.wit_process import FIELDS, TYPES
from standins.ado_simulator.world.boards.work_item_history import ReplayCache, replay
from standins.ado_simulator.world.world import generate_world

AUTH = {"authorization": "Basic " + base64.b64encode(b":pat").decode()}
PATH = "/tfs/DefaultCollection/_apis/wit/reporting/workitemrevisions"
FIVE = "System.Id,System.TeamProject,System.CommentCount,System.History,System.IsDeleted"
ORDER = {f.reference_name: i for i, f in enumerate(FIELDS)}


@pytest.fixture(scope="module", params=[False, True], ids=["tidy", "messy"])
def world(request):
    return generate_world(11, "tiny", messy=request.param)


def _revisions(world):
    domain = world.domain("work_items")
    for item in domain.items[1:]:
        count = domain.log.revisions(item.id)
        for state in replay(domain.log, item, TYPES[item.type]):
            revised = domain.log.stamp(domain.log.by_item[item.id][state.rev]) if state.rev < count else None
            yield domain, item, state, revised


def test_field_values_are_in_field_order_and_of_the_type(world):
    for domain, item, state, revised in _revisions(world):
        values = field_values(domain, item, state, revised)
        refs = list(values)
        assert refs == sorted(refs, key=ORDER.__getitem__)
        kind = TYPES[item.type]
        assert all(ref.startswith("System.") or ref in kind.fields for ref in refs)


@pytest.mark.parametrize("wanted", [FIVE, "System.Rev,System.WorkItemType,System.ChangedDate,System.Watermark",
                                    "system.id,System.Title,Microsoft.VSTS.Common.ResolvedReason,System.RevisedDate"])
def test_selected_fields_are_the_full_fields_filtered(world, wanted):
    names = frozenset(name.lower() for name in wanted.split(","))
    for domain, item, state, revised in _revisions(world):
        full = {ref: value for ref, value in field_values(domain, item, state, revised).items() if ref.lower() in names}
        selected = selected_field_values(domain, item, state, revised, names)
        assert list(selected.items()) == list(full.items())


def test_wit_date_matches_strftime():
    def reference(ms: int) -> str:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
        fraction = f"{ms % 1000:03d}".rstrip("0")
        return f"{text}.{fraction}Z" if fraction else text + "Z"

    for ms in (0, 1, 10, 100, 999, 1000, 86_399_999, 86_400_000, 951_782_400_123, 1_709_633_727_503, 1_709_633_727_500,
               4_102_444_799_990, *range(1_700_000_000_000, 1_700_000_000_000 + 90_000_000, 999_983)):
        assert wit_date(ms) == wit_date(ms) == reference(ms)


def _get(app, params: dict) -> bytes:
    response = app.handle("GET", PATH, urlencode({**params, "api-version": "7.0"}).encode(), AUTH, "http://sim")
    assert response.status == 200, response.body[:300]
    return response.body


def _walk(app, params: dict, token: str | None = None) -> tuple[list[bytes], str]:
    pages = []
    while True:
        body = _get(app, {**params, **({"continuationToken": token} if token else {})})
        pages.append(body)
        answer = json.loads(body)
        token = answer["continuationToken"]
        if answer["isLastBatch"]:
            return pages, token


class _Forgetful(ReplayCache):
    def take(self, item_id: int, first: int) -> None:
        return None


def _fresh(app, params: dict, token: str | None = None) -> tuple[list[bytes], str]:
    """The same walk with no kept states: every item replayed from revision 1."""
    domain = app.site.world.domain("work_items")
    kept, domain.replays = domain.replays, _Forgetful()
    try:
        return _walk(app, params, token)
    finally:
        domain.replays = kept


VARIANTS = [
    {"includeDeleted": "true", "includeIdentityRef": "true", "includeTagRef": "true", "$expand": "fields", "$maxPageSize": "7"},
    {"includeDeleted": "true", "fields": FIVE, "$maxPageSize": "13"},
    {"$maxPageSize": "5"},
    {"includeLatestOnly": "true", "$expand": "fields", "$maxPageSize": "3"},
]


def test_kept_states_give_the_same_pages_after_the_world_advanced():
    world = generate_world(5, "tiny")
    app = create_app(world, "2022", {"pat": frozenset({"full"})})
    tokens = []
    for params in VARIANTS:  # interleaved walks leave kept states at other revisions
        pages, token = _walk(app, params)
        assert pages == _fresh(app, params)[0]
        tokens.append(token)
    world.advance(6)  # new revisions (and deletions) of items with kept states
    for params, token in zip(VARIANTS, tokens):
        assert _walk(app, params, token) == _fresh(app, params, token)
        assert _walk(app, params) == _fresh(app, params)

"""The simulator's TFVC routes over real HTTP: changesets, changes, branches and labels page exactly
as the truth says, filters select what they should, profiles differ where the specs do, and
advancing the world adds changesets the routes then show."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.semantics import as_asked
from standins.ado_simulator.world.tfvc import tfvc_of
from standins.ado_simulator.world.world import World, generate_world
from standins.ado_simulator.wire.wire import parse_date

pytestmark = pytest.mark.integration

PAT = "sim-pat"
SUPPRESS = {"X-TFS-FedAuthRedirect": "Suppress"}
V = {"api-version": "7.0"}
TOKEN = "x-ms-continuationtoken"


@contextmanager
def running(world: World, profile: str = "2022", pats=None, pat: str = PAT) -> Iterator[tuple[str, httpx.Client]]:
    with serve_in_thread(create_app(world, profile, pats, semantics=as_asked(world.semantics))) as server:
        base = server.url + "/tfs/DefaultCollection"
        with httpx.Client(base_url=base, auth=("", pat), headers=SUPPRESS, timeout=30) as client:
            yield server.url, client


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[World, str, httpx.Client]]:
    world = generate_world(7, "small")
    with running(world) as (url, client):
        yield world, url, client


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def walk_skip(client: httpx.Client, path: str, params: dict, top: int, version: dict = V) -> list[dict]:
    items, skip = [], 0
    while True:
        body = ok(client.get(path, params={**version, **params, "$top": top, "$skip": skip}))
        assert body["count"] == len(body["value"])
        items += body["value"]
        if len(body["value"]) < top:
            return items
        skip += top


def walk_tokens(client: httpx.Client, path: str, params: dict, version: dict = V) -> list[dict]:
    items, token, seen = [], None, set()
    while True:
        response = client.get(path, params={**version, **params, **({"continuationToken": token} if token else {})})
        items += ok(response)["value"]
        token = response.headers.get(TOKEN)
        if not token:
            return items
        assert token not in seen
        seen.add(token)


def flatten(branches: list[dict]) -> list[dict]:
    return [b for branch in branches for b in [branch, *flatten(branch.get("children", []))]]


# -- data equals the truth -----------------------------------------------------------------


def test_changesets_page_once_each_and_equal_the_truth(small):
    world, _, client = small
    c = world.collection.id
    truth = world.truth()
    newest_first = walk_skip(client, "/_apis/tfvc/changesets", {}, top=37)
    ids = [cs["changesetId"] for cs in newest_first]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids))
    assert sorted(f"{c}:{i}" for i in ids) == truth["tfvc.changeset"]
    oldest_first = walk_skip(client, "/_apis/tfvc/changesets", {"$orderby": "id asc"}, top=50)
    assert [cs["changesetId"] for cs in oldest_first] == ids[::-1]
    dates = [parse_date(cs["createdDate"]) for cs in oldest_first]
    assert dates == sorted(dates), "changeset ids follow creation time"
    per_project = [cs["changesetId"] for p in world.projects for cs in walk_skip(client, f"/{p.name}/_apis/tfvc/changesets", {}, 100)]
    assert sorted(per_project) == sorted(ids)
    first = oldest_first[0]
    assert set(first) >= {"changesetId", "url", "author", "checkedInBy", "createdDate", "comment"}
    assert first["comment"].startswith("Created team project folder $/")


def test_changes_page_by_token_and_skip_and_equal_the_truth(small):
    world, _, client = small
    c = world.collection.id
    keys = []
    for changeset in tfvc_of(world).changesets:
        path = f"/_apis/tfvc/changesets/{changeset.id}/changes"
        by_token = walk_tokens(client, path, {"$top": 3})
        if changeset.id % 50 == 0:
            assert by_token == walk_skip(client, path, {}, top=3)
        paths = [change["item"]["path"] for change in by_token]
        assert len(paths) == len(set(paths))
        assert all(change["item"]["version"] == changeset.id for change in by_token)
        keys += [f"{c}:{changeset.id}:{p}" for p in paths]
    assert sorted(keys) == world.truth()["tfvc.change"]


def test_branches_labels_and_items_equal_the_truth(small):
    world, _, client = small
    c = world.collection.id
    truth = world.truth()
    roots = ok(client.get("/_apis/tfvc/branches", params={**V, "includeChildren": "true"}))["value"]
    tree = flatten(roots)
    assert all(b["path"].count("/") == 2 for b in roots) and all("parent" not in b for b in roots)
    everything = flatten(ok(client.get("/_apis/tfvc/branches",
                                       params={**V, "includeChildren": "true", "includeDeleted": "true"}))["value"])
    assert sorted(f"{c}:{b['path']}" for b in everything) == truth["tfvc.branch"]
    refs = ok(client.get("/_apis/tfvc/branches", params={**V, "scopePath": "$/"}))["value"]
    assert sorted(b["path"] for b in refs) == sorted(b["path"] for b in tree)
    with_deleted = ok(client.get("/_apis/tfvc/branches", params={**V, "scopePath": "$/", "includeDeleted": "true"}))["value"]
    deleted = [b for b in with_deleted if b.get("isDeleted")]
    assert deleted and len(with_deleted) == len(refs) + len(deleted) == len(everything)
    dev = next(b for b in tree if b["path"] == f"$/{world.projects[0].name}/Dev")
    one = ok(client.get(f"/{world.projects[0].id}/_apis/tfvc/branches",
                        params={**V, "path": dev["path"], "includeParent": "true"}))
    assert one["parent"]["path"] == dev["path"].rsplit("/", 1)[0] + "/Main"
    labels = walk_skip(client, "/_apis/tfvc/labels", {}, top=7)
    assert sorted(f"{c}:{label['id']}" for label in labels) == truth["tfvc.label"]
    assert [label["id"] for label in labels] == sorted((label["id"] for label in labels), reverse=True)
    label = labels[0]
    items = walk_skip(client, f"/_apis/tfvc/labels/{label['id']}/items", {}, top=4)
    assert items and len({i["path"] for i in items}) == len(items)
    deep = ok(client.get(f"/_apis/tfvc/labels/{label['id']}", params={**V, "requestData.maxItemCount": 3}))
    assert deep["items"] == items[:3] and deep["name"] == label["name"]


# -- filters -------------------------------------------------------------------------------


def test_changeset_filters_and_details(small):
    world, _, client = small
    domain = tfvc_of(world)
    everything = walk_skip(client, "/_apis/tfvc/changesets", {"maxCommentLength": 1000}, top=100)
    by_id = {cs["changesetId"]: cs for cs in everything}
    window = ok(client.get("/_apis/tfvc/changesets", params={**V, "searchCriteria.fromId": 10, "searchCriteria.toId": 20}))
    assert [cs["changesetId"] for cs in window["value"]] == list(range(20, 9, -1))
    since = by_id[200]["createdDate"]
    dated = walk_skip(client, "/_apis/tfvc/changesets", {"searchCriteria.fromDate": since}, top=100)
    assert min(cs["changesetId"] for cs in dated) == 200
    author = world.people[domain.changesets[5].author]
    mine = walk_skip(client, "/_apis/tfvc/changesets", {"searchCriteria.author": author.unique_name}, top=100)
    assert mine and all(cs["author"]["id"] == author.id for cs in mine)
    assert len(mine) == sum(1 for cs in domain.changesets if cs.author == domain.changesets[5].author)
    dev = f"$/{world.projects[0].name}/Dev"
    on_dev = walk_skip(client, "/_apis/tfvc/changesets", {"searchCriteria.itemPath": dev}, top=100)
    assert on_dev and all(domain.changeset(cs["changesetId"]).branch.startswith(dev) for cs in on_dev)
    long = next(cs for cs in everything if len(cs.get("comment", "")) > 80)
    listed = ok(client.get("/_apis/tfvc/changesets", params={**V, "searchCriteria.fromId": long["changesetId"],
                                                              "searchCriteria.toId": long["changesetId"]}))["value"][0]
    assert len(listed["comment"]) == 80 and listed["commentTruncated"] is True
    linked = next(cs for cs in domain.changesets if cs.work_items)
    detail = ok(client.get(f"/_apis/tfvc/changesets/{linked.id}",
                           params={**V, "includeWorkItems": "true", "includeDetails": "true", "maxChangeCount": 1}))
    assert [w["id"] for w in detail["workItems"]] == list(linked.work_items)
    assert len(detail["changes"]) == 1 and detail["policyOverride"] == {"policyFailures": []}
    work_items = ok(client.get(f"/_apis/tfvc/changesets/{linked.id}/workItems", params=V))["value"]
    assert [w["id"] for w in work_items] == list(linked.work_items)
    batch = ok(client.post("/_apis/tfvc/changesetsbatch", params=V,
                           json={"changesetIds": [7, 3, 99999, 5], "commentLength": 10, "includeLinks": True}))
    assert [cs["changesetId"] for cs in batch["value"]] == [7, 3, 5]
    assert all(len(cs.get("comment", "")) <= 10 and "_links" in cs for cs in batch["value"])
    missing = client.get("/_apis/tfvc/changesets/99999", params=V)
    assert missing.status_code == 404 and missing.json()["typeKey"] == "ChangesetNotFoundException"


# -- profiles and advance -------------------------------------------------------------------


def test_changes_have_no_continuation_token_on_2019():
    world = generate_world(7, "tiny")
    changeset = max(tfvc_of(world).changesets, key=lambda cs: len(tfvc_of(world).changes(cs)))
    path = f"/_apis/tfvc/changesets/{changeset.id}/changes"
    with running(world, "2019") as (_, old):
        first = old.get(path, params={"api-version": "5.0", "$top": 2})
        assert first.status_code == 200 and TOKEN not in first.headers
        assert len(walk_skip(old, path, {}, top=2, version={"api-version": "5.0"})) == len(tfvc_of(world).changes(changeset))
    with running(world, "2020") as (_, newer):
        assert newer.get(path, params={"api-version": "6.0", "$top": 2}).headers[TOKEN] == "2"


def test_advance_adds_changesets_seen_from_the_cursor():
    world = generate_world(7, "tiny")
    c = world.collection.id
    with running(world) as (url, client):
        last = ok(client.get("/_apis/tfvc/changesets", params={**V, "$top": 1}))["value"][0]["changesetId"]
        counts = httpx.post(url + "/_sim/advance", json={"steps": 6}).json()
        assert counts["changesets"] >= 6
        new = walk_skip(client, "/_apis/tfvc/changesets", {"searchCriteria.fromId": last + 1, "$orderby": "id asc"}, top=5)
        assert [cs["changesetId"] for cs in new] == list(range(last + 1, last + 1 + counts["changesets"]))
        truth = world.truth()
        assert truth["tfvc.changeset"] == sorted(f"{c}:{i}" for i in range(1, last + 1 + counts["changesets"]))
        labels = walk_skip(client, "/_apis/tfvc/labels", {}, top=100)
        assert sorted(f"{c}:{label['id']}" for label in labels) == truth["tfvc.label"]


def test_scope_and_locations():
    world = generate_world(7, "tiny")
    with running(world, pats={"builds": frozenset({"vso.build"}), PAT: frozenset({"vso.code"})}) as (_, client):
        assert client.get("/_apis/tfvc/changesets", params=V).status_code == 200
        denied = client.get("/_apis/tfvc/changesets", params=V, auth=("", "builds"))
        assert denied.status_code == 403 and "vso.code" in denied.json()["message"]
        locations = {loc["id"]: loc for loc in ok(client.request("OPTIONS", "/_apis"))["value"]}
        assert locations["0bc8f0a4-6bfb-42a9-ba84-139da7b99c49"]["routeTemplate"] == "{project}/_apis/tfvc/changesets/{id}"
        for location_id in ("f32b86f2-15b9-4fe6-81b1-6f8938617ee5", "64ae0bea-1d71-47c9-a9e5-fe73f5ea0ff4",
                            "b7e7c173-803c-4fea-9ec8-31ee35c5502a", "bc1f417e-239d-42e7-85e1-76e80cb2d6eb",
                            "a5d9bd7f-b661-4d0e-b9be-d9c16affae54", "06166e34-de17-4b60-8cd1-23182a346fda"):
            assert location_id in locations

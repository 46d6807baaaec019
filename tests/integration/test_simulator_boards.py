"""Boards over real HTTP: teams, identities, classification nodes, team iterations, fields, work item
types, WIQL, work items, comments and the reporting streams give back exactly the world's truth,
page by page, per server profile, and follow the world as it advances."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.world.world import World, generate_world

pytestmark = pytest.mark.integration

PAT = "sim-pat"
HEADERS = {"X-TFS-FedAuthRedirect": "Suppress"}
WIQL = ("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Id] > {last}"
        " ORDER BY [System.Id] ASC")


@contextmanager
def running(world: World, profile: str = "2022") -> Iterator[tuple[str, httpx.Client]]:
    with serve_in_thread(create_app(world, profile)) as server:
        base = server.url + "/tfs/DefaultCollection/"
        with httpx.Client(base_url=base, auth=("", PAT), headers=HEADERS, timeout=30) as client:
            yield server.url, client


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[World, str, httpx.Client]]:
    world = generate_world(11, "small")
    with running(world) as (url, client):
        yield world, url, client


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text[:500]
    return response.json()


def v(version: str = "7.0", **params) -> dict:
    return {"api-version": version, **params}


def skip_top(client: httpx.Client, path: str, top: int, version: str = "7.0", **params) -> list[dict]:
    items, skip = [], 0
    while True:
        body = ok(client.get(path, params=v(version, **params, **{"$top": top, "$skip": skip})))
        assert body["count"] == len(body["value"])
        items += body["value"]
        if len(body["value"]) < top:
            return items
        skip += top


def stream(client: httpx.Client, path: str, token: str | None = None, **params) -> tuple[list[dict], str]:
    """Every batch of a reporting stream from ``token`` (or the start) to ``isLastBatch``; the last token."""
    values = []
    while True:
        query = v(**params, **({"continuationToken": token} if token else {}))
        body = ok(client.get(path, params=query))
        values += body["values"]
        assert body["nextLink"].startswith("http") and f"continuationToken={body['continuationToken']}" in body["nextLink"]
        token = body["continuationToken"]
        if body["isLastBatch"]:
            return values, token


def once(keys: list[str]) -> list[str]:
    assert len(keys) == len(set(keys)), "an item came twice"
    return sorted(keys)


# -- teams, identities, nodes, iterations, fields, types -------------------------------------------


def test_teams_members_and_identities_are_the_truth(small):
    world, url, client = small
    truth = world.truth()
    teams, members = [], []
    for project in world.projects:
        for team in skip_top(client, f"_apis/projects/{project.id}/teams", 1):
            assert team["projectId"] == project.id and team["identityUrl"].endswith(team["id"])
            teams.append(team["id"])
            members += [f"{team['id']}:{m['identity']['id']}" for m in skip_top(client, f"_apis/projects/{project.id}/teams/{team['id']}/members", 2)]
    assert once(teams) == truth["core.team"]
    assert once(members) == truth["core.team_member"]
    everyone = skip_top(client, "_apis/teams", 2, "7.0-preview.3")
    assert sorted(t["id"] for t in everyone) == truth["core.team"]
    mine = ok(client.get("_apis/teams", params=v("7.0-preview.3", **{"$mine": "true"})))["value"]
    assert sorted(t["id"] for t in mine) == sorted(k.split(":")[0] for k in members if k.endswith(":" + world.people[0].id))
    assert client.get("_apis/teams", params=v()).json()["typeKey"] == "VssInvalidPreviewVersionException"
    group = ok(client.get("_apis/identities", params=v(searchFilter="General", filterValue="Project Collection Valid Users",
                                                      queryMembership="Expanded")))["value"]
    assert len(group) == 1 and group[0]["isContainer"]
    assert sorted(group[0]["memberIds"]) == truth["core.identity"]
    found = ok(httpx.get(f"{url}/tfs/_apis/identities", auth=("", PAT),
                         params=v(identityIds=",".join(group[0]["memberIds"][:3]) + ",00000000-0000-0000-0000-000000000001")))
    assert [i and i["id"] for i in found["value"]] == group[0]["memberIds"][:3] + [None]


def test_classification_nodes_and_team_iterations_are_the_truth_and_the_sprint_moves_on():
    world = generate_world(7, "tiny")
    with running(world) as (url, client):
        def walk() -> tuple[list[str], list[str], list[str]]:
            nodes, iterations, current = [], [], []
            for project in world.projects:
                def collect(node: dict) -> None:
                    nodes.append(f"{project.id}:{node['identifier']}")
                    assert node["hasChildren"] == bool(node.get("children"))
                    for child in node.get("children", []):
                        assert child["path"].startswith(node["path"] + "\\")
                        collect(child)
                for root in ok(client.get(f"{project.id}/_apis/wit/classificationnodes", params=v(**{"$depth": 9})))["value"]:
                    collect(root)
                for team in ok(client.get(f"_apis/projects/{project.id}/teams", params=v()))["value"]:
                    base = f"{project.id}/{team['id']}/_apis/work/teamsettings/iterations"
                    listed = ok(client.get(base, params=v()))["value"]
                    iterations += [f"{team['id']}:{i['id']}" for i in listed]
                    frames = [i["attributes"]["timeFrame"] for i in listed]
                    assert frames == sorted(frames, key=["past", "current", "future"].index) and frames.count("current") == 1
                    now = ok(client.get(base, params=v(**{"$timeframe": "current"})))["value"]
                    assert len(now) == 1 and now[0]["attributes"]["timeFrame"] == "current"
                    current.append(now[0]["name"])
            return once(nodes), once(iterations), current

        truth = world.truth()
        nodes, iterations, current = walk()
        assert nodes == truth["wit.classification_node"] and iterations == truth["work.team_iteration"]
        assert ok(httpx.post(f"{url}/_sim/advance", json={"steps": 24 * 15}))["sprints"] >= len(world.projects)
        truth = world.truth()
        later_nodes, later_iterations, later = walk()
        assert later_nodes == truth["wit.classification_node"] and later_iterations == truth["work.team_iteration"]
        assert len(later_nodes) > len(nodes) and all(a != b for a, b in zip(current, later))
        sprint = ok(client.get(f"{world.projects[0].id}/_apis/wit/classificationnodes/Iterations/{later[0]}", params=v()))
        assert sprint["attributes"]["startDate"] <= world_now(world) <= sprint["attributes"]["finishDate"][:10] + "T23:59:59Z"


def world_now(world: World) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(world.clock))


def test_fields_and_types_are_the_truth(small):
    world, _, client = small
    truth = world.truth()
    c = world.collection.id
    fields = ok(client.get("_apis/wit/fields", params=v()))["value"]
    assert once([f"{c}:{f['referenceName']}" for f in fields]) == truth["wit.field"]
    assert {f["referenceName"]: f["isIdentity"] for f in fields}["System.AssignedTo"] is True
    types = [f"{p.id}:{t['name']}" for p in world.projects
             for t in ok(client.get(f"{p.name}/_apis/wit/workitemtypes", params=v()))["value"]]
    assert once(types) == truth["wit.work_item_type"]


# -- work items ---------------------------------------------------------------------------------------


def wiql_ids(client: httpx.Client, project: str, top: int) -> list[int]:
    ids: list[int] = []
    while True:
        body = ok(client.post(f"{project}/_apis/wit/wiql", params=v(**{"$top": top}),
                              json={"query": WIQL.format(last=ids[-1] if ids else 0)}))
        page = [w["id"] for w in body["workItems"]]
        assert page == sorted(page)
        ids += page
        if len(page) < top:
            return ids


def test_wiql_keyset_paging_and_batch_reads_give_every_live_item_once(small):
    world, _, client = small
    truth = world.truth()
    c = world.collection.id
    ids = once([f"{c}:{i}" for p in world.projects for i in wiql_ids(client, p.id, 97)])
    assert ids == truth["wit.work_item"]
    numbers = sorted(int(k.split(":")[1]) for k in ids)
    read = []
    for start in range(0, len(numbers), 200):
        batch = ok(client.post("_apis/wit/workitemsbatch", params=v(),
                               json={"ids": numbers[start:start + 200], "fields": ["System.Id", "System.Rev", "System.State"]}))
        read += [item["id"] for item in batch["value"]]
        assert all(set(item["fields"]) <= {"System.Id", "System.Rev", "System.State"} for item in batch["value"])
    assert read == numbers
    too_many = client.post("_apis/wit/workitemsbatch", params=v(), json={"ids": list(range(1, 202))})
    assert too_many.status_code == 400 and too_many.json()["message"].startswith("VS403474")
    assert client.get("_apis/wit/workitems", params=v(ids=",".join(map(str, range(1, 202))))).status_code == 400
    deleted = sorted(set(range(1, len(numbers) + 50)) - set(numbers))[0]
    gone = client.get(f"_apis/wit/workitems/{deleted}", params=v())
    assert gone.status_code == 404 and gone.json()["message"].startswith("TF401232") and gone.json()["eventId"] == 3200
    omitted = ok(client.get("_apis/wit/workitems", params=v(ids=f"{numbers[0]},{deleted}", errorPolicy="omit")))
    assert omitted["value"][1] is None and omitted["value"][0]["id"] == numbers[0]


def test_work_item_history_routes_agree(small):
    world, _, client = small
    domain = world.domain("work_items")
    item_id = max(range(1, 60), key=lambda i: domain.log.revisions(i) if not domain.current.deleted[i] else 0)
    item = ok(client.get(f"_apis/wit/workitems/{item_id}", params=v(**{"$expand": "all"})))
    revisions = skip_top(client, f"_apis/wit/workItems/{item_id}/revisions", 3)
    updates = skip_top(client, f"_apis/wit/workItems/{item_id}/updates", 4)
    assert [r["rev"] for r in revisions] == [u["rev"] for u in updates] == list(range(1, item["rev"] + 1))
    changed = [r["fields"]["System.ChangedDate"] for r in revisions]
    assert changed == sorted(changed) and len(set(changed)) == len(changed)
    assert revisions[-1]["fields"]["System.State"] == item["fields"]["System.State"]
    for before, after, update in zip(revisions, revisions[1:], updates[1:]):
        if before["fields"]["System.State"] != after["fields"]["System.State"]:
            assert update["fields"]["System.State"] == {"oldValue": before["fields"]["System.State"],
                                                        "newValue": after["fields"]["System.State"]}
        assert update["revisedBy"]["id"] == after["fields"]["System.ChangedBy"]["id"]
    first = ok(client.get(f"_apis/wit/workitems/{item_id}", params=v(asOf=changed[0])))
    assert first["rev"] == 1
    parents = [r for r in item.get("relations", []) if r["rel"] == "System.LinkTypes.Hierarchy-Reverse"]
    for parent in parents:
        other = ok(client.get(parent["url"], params=v(**{"$expand": "relations"})))
        assert any(r["rel"] == "System.LinkTypes.Hierarchy-Forward" and r["url"].endswith(f"/{item_id}") for r in other["relations"])


def test_comments_page_to_the_truth_and_2019_lists_them_by_revision(small):
    world, _, client = small
    truth = world.truth()
    domain = world.domain("work_items")
    c = world.collection.id
    keys = []
    for item_id in (int(k.split(":")[1]) for k in truth["wit.work_item"]):
        if not domain.current.comments[item_id]:
            continue
        project = domain.project(domain.items[item_id]).id
        token = None
        while True:
            params = v("7.0-preview.3", **{"$top": 2}, **({"continuationToken": token} if token else {}))
            body = ok(client.get(f"{project}/_apis/wit/workItems/{item_id}/comments", params=params))
            keys += [f"{c}:{item_id}:{comment['id']}" for comment in body["comments"]]
            token = body.get("continuationToken")
            if token is None:
                break
    assert once(keys) == truth["wit.comment"]
    with running(world, "2019") as (_, old):
        item_id = int(truth["wit.comment"][0].split(":")[1])
        project = domain.project(domain.items[item_id]).id
        body = ok(old.get(f"{project}/_apis/wit/workItems/{item_id}/comments", params=v("5.0-preview.2")))
        assert body["totalCount"] == domain.current.comments[item_id] and all("revision" in x for x in body["comments"])
        assert old.get("_apis/identities", params=v("5.0", searchFilter="General", filterValue="a")).headers[
            "content-type"].startswith("text/html")
        node = ok(old.get(f"{project}/_apis/wit/classificationnodes", params=v("5.0")))["value"][0]
        assert "path" not in node


# -- reporting streams ---------------------------------------------------------------------------------


def revision_keys(world: World, values: list[dict]) -> list[str]:
    return [f"{world.collection.id}:{x['id']}:{x['rev']}" for x in values]


def active_links(world: World, events: list[dict]) -> list[str]:
    state: dict[str, bool] = {}
    for event in events:
        state[f"{world.collection.id}:{event['sourceId']}:{event['rel']}:{event['targetId']}"] = event["isActive"]
    return sorted(k for k, active in state.items() if active)


def test_reporting_streams_resume_from_a_token_with_exactly_what_changed(small):
    world, url, client = small
    revisions_path, links_path = "_apis/wit/reporting/workitemrevisions", "_apis/wit/reporting/workitemlinks"
    truth = world.truth()
    values, token = stream(client, revisions_path, includeDeleted="true", **{"$maxPageSize": 333})
    assert once(revision_keys(world, values)) == truth["wit.work_item_revision"]
    assert all(isinstance(x["fields"]["System.ChangedBy"], str) and "<" in x["fields"]["System.ChangedBy"] for x in values)
    assert all("System.Description" not in x["fields"] for x in values)
    live, _ = stream(client, revisions_path, **{"$maxPageSize": 1000})
    assert {k.rsplit(":", 1)[0] for k in revision_keys(world, live)} == set(truth["wit.work_item"])
    events, link_token = stream(client, links_path)
    assert active_links(world, events) == truth["wit.work_item_link"]

    ok(httpx.post(f"{url}/_sim/advance", json={"steps": 30}))
    later = world.truth()
    new, _ = stream(client, revisions_path, token, includeDeleted="true", includeIdentityRef="true")
    assert once(revision_keys(world, new)) == sorted(set(later["wit.work_item_revision"]) - set(truth["wit.work_item_revision"]))
    assert all(isinstance(x["fields"]["System.ChangedBy"], dict) for x in new)
    more, _ = stream(client, links_path, link_token)
    assert active_links(world, events + more) == later["wit.work_item_link"]
    assert any(not e["isActive"] for e in events + more)
    latest, _ = stream(client, revisions_path, includeLatestOnly="true", includeDeleted="true", fields="System.Rev")
    assert sorted(f"{world.collection.id}:{x['id']}" for x in latest) == sorted(
        {k.rsplit(":", 1)[0] for k in later["wit.work_item_revision"]})
    assert all(set(x["fields"]) == {"System.Rev"} for x in latest)


def test_wiql_changed_since_as_of_finds_what_advance_changed(small):
    world, url, client = small
    project = world.projects[0]
    query = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.ChangedDate] >= '{since}'"
    as_of = ok(client.post(f"{project.id}/_apis/wit/wiql", params=v(timePrecision="true"),
                           json={"query": query.format(since="2024-01-01T00:00:00Z")}))["asOf"]
    day_only = client.post(f"{project.id}/_apis/wit/wiql", params=v(), json={"query": query.format(since=as_of)})
    assert day_only.status_code == 400 and "date precision" in day_only.json()["message"]
    before = world.truth()["wit.work_item_revision"]
    ok(httpx.post(f"{url}/_sim/advance", json={"steps": 5}))
    changed = {int(k.split(":")[1]) for k in set(world.truth()["wit.work_item_revision"]) - set(before)}
    domain = world.domain("work_items")
    expected = sorted(i for i in changed if domain.items[i].project == 0 and not domain.current.deleted[i])
    found = ok(client.post(f"{project.id}/_apis/wit/wiql", params=v(timePrecision="true"),
                           json={"query": query.format(since=as_of)}))["workItems"]
    assert [w["id"] for w in found] == expected
    bad = client.post("_apis/wit/wiql", params=v(), json={"query": "SELECT TOP 5 [System.Id] FROM WorkItems"})
    assert bad.status_code == 400 and bad.json()["message"].startswith("TF51006")
    unknown = client.post("_apis/wit/wiql", params=v(), json={"query": "SELECT [Custom.Nope] FROM WorkItems"})
    assert unknown.status_code == 400 and unknown.json()["message"].startswith("TF51005")


def test_wiql_refuses_more_than_20000_results_unless_top_truncates():
    world = generate_world(3, "medium")
    world.advance(100)
    live = len(world.truth()["wit.work_item"])
    assert live > 20_000
    with running(world) as (_, client):
        query = {"query": "SELECT [System.Id] FROM WorkItems ORDER BY [System.Id]"}
        refused = client.post("_apis/wit/wiql", params=v(), json=query)
        assert refused.status_code == 400
        assert refused.json()["message"].startswith("VS402337") and refused.json()["eventId"] == 3200
        assert client.post("_apis/wit/wiql", params=v(**{"$top": 25_000}), json=query).status_code == 400
        capped = ok(client.post("_apis/wit/wiql", params=v(**{"$top": 20_000}), json=query))["workItems"]
        assert len(capped) == 20_000 and capped[0]["id"] == 1

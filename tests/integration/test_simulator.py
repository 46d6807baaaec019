"""The simulator over real HTTP: what its routes return matches its world's truth, and it behaves
like an on-prem Azure DevOps Server (api-version rules, auth, paging, errors, profiles)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import World, generate_world

pytestmark = pytest.mark.integration

PAT = "sim-pat"
SUPPRESS = {"X-TFS-FedAuthRedirect": "Suppress"}
V = {"api-version": "7.0"}
TOKEN = "x-ms-continuationtoken"


@contextmanager
def running(world: World, profile: str = "2022", pats=None, pat: str = PAT) -> Iterator[tuple[str, httpx.Client]]:
    """(server url, client on the collection) for a fresh server; stopped on exit."""
    with serve_in_thread(create_app(world, profile, pats)) as server:
        with httpx.Client(base_url=server.url + "/tfs/DefaultCollection", auth=("", pat), headers=SUPPRESS, timeout=10) as client:
            yield server.url, client


@pytest.fixture(scope="module")
def tiny() -> Iterator[tuple[World, str, httpx.Client]]:
    world = generate_world(7, "tiny")
    with running(world) as (url, client):
        yield world, url, client


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json; charset=utf-8")
    return response.json()


def walk_tokens(client: httpx.Client, path: str, params: dict) -> list[dict]:
    items, token, tokens = [], None, set()
    while True:
        body = ok(response := client.get(path, params={**V, **params, **({"continuationToken": token} if token else {})}))
        assert body["count"] == len(body["value"])
        items += body["value"]
        token = response.headers.get(TOKEN)
        if not token:
            return items
        assert token not in tokens
        tokens.add(token)


def walk_commits(client: httpx.Client, path: str, params: dict, top: int = 7) -> list[dict]:
    items, skip = [], 0
    while True:
        page = ok(client.get(path, params={**V, **params, "searchCriteria.$top": top, "searchCriteria.$skip": skip}))["value"]
        items += page
        if len(page) < top:
            return items
        skip += top


def branch_heads(client: httpx.Client, repo_path: str) -> dict[str, str]:
    return {r["name"]: r["objectId"] for r in walk_tokens(client, f"{repo_path}/refs", {"filter": "heads/", "$top": 2})}


def repo_path(repo: dict) -> str:
    return f"/{repo['project']['id']}/_apis/git/repositories/{repo['id']}"


def collected_truth(client: httpx.Client) -> dict[str, list[str]]:
    """Everything reachable through the routes: projects (token pages), repos, commits of every branch."""
    projects = walk_tokens(client, "/_apis/projects", {"$top": 1})
    commits: list[str] = []
    repositories: list[str] = []
    for project in projects:
        repos = ok(client.get(f"/{project['name']}/_apis/git/repositories", params={**V, "includeHidden": "true"}))["value"]
        for repo in repos:
            repositories.append(repo["id"])
            for branch in branch_heads(client, repo_path(repo)):
                walked = walk_commits(client, f"{repo_path(repo)}/commits", {"searchCriteria.itemVersion.version": branch[len("refs/heads/"):]})
                ids = [c["commitId"] for c in walked]
                assert len(ids) == len(set(ids)), "a commit came twice in one branch walk"
                dates = [c["committer"]["date"] for c in walked]
                assert dates == sorted(dates, reverse=True), "not newest first"
                commits += [f"{repo['id']}:{sha}" for sha in ids]
    return {
        "core.project": sorted(p["id"] for p in projects),
        "git.repository": sorted(repositories),
        "git.commit": sorted(set(commits)),
    }


# -- data ----------------------------------------------------------------------------------


def test_routes_return_exactly_the_truth(tiny):
    world, url, client = tiny
    truth = world.truth()
    base_types = ("core.project", "git.repository", "git.commit")  # the other areas have their own tests
    assert collected_truth(client) == {t: truth[t] for t in base_types}
    control = httpx.get(url + "/_sim/truth").json()["types"]
    assert {t: v["keys"] for t, v in control.items()} == truth
    assert control["git.commit"]["count"] == 60


def test_compare_version_is_git_log_compare_dot_dot_item(tiny):
    world, _, client = tiny
    repo = ok(client.get(f"/_apis/git/repositories/{world.repositories[0].id}", params=V))
    path = f"{repo_path(repo)}/commits"
    heads = branch_heads(client, repo_path(repo))
    feature = next(name for name in heads if name != "refs/heads/main")
    on_feature = {c["commitId"] for c in walk_commits(client, path, {"searchCriteria.itemVersion.version": feature[11:]})}
    on_main = {c["commitId"] for c in walk_commits(client, path, {})}  # no itemVersion: the default branch
    between = walk_commits(client, path, {
        "searchCriteria.itemVersion.version": heads[feature], "searchCriteria.itemVersion.versionType": "commit",
        "searchCriteria.compareVersion.version": "main", "searchCriteria.compareVersion.versionType": "branch",
    }, top=3)
    assert [c["commitId"] for c in between] and {c["commitId"] for c in between} == on_feature - on_main
    same = ok(client.get(path, params={**V, "itemVersion.version": "main", "compareVersion.version": "main"}))
    assert same == {"count": 0, "value": []}


def test_commit_bodies_and_aliases(tiny):
    world, _, client = tiny
    repo = world.repositories[0]
    path = f"/_apis/git/repositories/{repo.id}/commits"
    listed = ok(client.get(path, params={**V, "$top": 5}))["value"]
    assert len(listed) == 5
    first = listed[0]
    assert set(first) >= {"commitId", "author", "committer", "comment", "changeCounts", "url", "remoteUrl"}
    assert set(first["changeCounts"]) == {"Add", "Edit", "Delete"}
    assert first["url"].startswith(str(client.base_url))
    assert ok(client.get(f"{path}?api-version=7.0&%24top=2&%24skip=1"))["value"] == listed[1:3]
    assert ok(client.get(path, params={**V, "top": 2, "skip": 3}))["value"] == listed[3:5]
    ids = ",".join(c["commitId"] for c in listed[:2])
    assert [c["commitId"] for c in ok(client.get(path, params={**V, "searchCriteria.ids": ids}))["value"]] == ids.split(",")
    one = ok(client.get(f"{path}/{first['commitId']}", params=V))
    assert one["commitId"] == first["commitId"] and one["parents"] and one["push"]["pushId"] >= 1
    since = listed[2]["committer"]["date"]
    dated = ok(client.get(path, params={**V, "searchCriteria.fromDate": since}))["value"]
    assert dated == listed[:3]


def test_pushes_and_refs_page_each_item_once(tiny):
    world, _, client = tiny
    repo = world.repositories[1]
    path = f"/_apis/git/repositories/{repo.id}"
    project = world.project(repo.project_id)
    pushes, skip = [], 0
    while page := ok(client.get(f"/{project.name}{path}/pushes", params={**V, "$top": 4, "$skip": skip}))["value"]:
        pushes += page
        skip += 4
    numbers = [p["pushId"] for p in pushes]
    assert numbers == list(range(len(numbers), 0, -1))
    first = ok(client.get(f"{path}/pushes/1", params={**V, "includeRefUpdates": "true", "includeCommits": 10}))
    assert first["refUpdates"][0]["oldObjectId"] == "0" * 40 and first["commits"]
    assert {"pushId", "date", "pushedBy", "repository", "url"} <= set(first)
    with_updates = ok(client.get(f"{path}/pushes", params={**V, "searchCriteria.includeRefUpdates": "true", "$top": 1}))
    assert with_updates["value"][0]["refUpdates"]
    refs = walk_tokens(client, f"{path}/refs", {"$top": 1})
    names = [r["name"] for r in refs]
    assert names == sorted(set(names)) and "refs/heads/main" in names
    assert all({"name", "objectId", "creator", "url"} <= set(r) for r in refs)


def test_projects_page_by_skip_and_by_token(tiny):
    world, _, client = tiny
    by_skip = [ok(client.get("/_apis/projects", params={**V, "$top": 1, "$skip": i}))["value"][0]["id"] for i in range(2)]
    by_token = [p["id"] for p in walk_tokens(client, "/_apis/projects", {"$top": 1})]
    assert by_skip == by_token and sorted(by_token) == sorted(p.id for p in world.projects)
    last = client.get("/_apis/projects", params={**V, "$top": 1, "$skip": 1})
    assert TOKEN not in last.headers
    project = world.projects[0]
    assert ok(client.get(f"/_apis/projects/{project.name}", params=V))["id"] == project.id


def test_advance_adds_commits_visible_through_the_routes():
    world = generate_world(7, "tiny")
    with running(world) as (url, client):
        projects = client.get("/_apis/projects", params=V).json()
        repos = client.get("/_apis/git/repositories", params=V).json()
        before_heads = {r["id"]: branch_heads(client, repo_path(r)) for r in repos["value"]}
        before = world.truth()
        counts = httpx.post(url + "/_sim/advance", json={"steps": 4}).json()
        assert counts["pushes"] >= 4 and counts["commits"] >= counts["pushes"]
        assert client.get("/_apis/projects", params=V).json() == projects
        assert client.get("/_apis/git/repositories", params=V).json() == repos
        found = set(before["git.commit"])
        for repo in repos["value"]:
            old = before_heads[repo["id"]]
            for branch, head in branch_heads(client, repo_path(repo)).items():
                compare = old.get(branch) or old["refs/heads/main"]
                if head == compare:
                    continue
                new = walk_commits(client, f"{repo_path(repo)}/commits", {
                    "searchCriteria.itemVersion.version": head, "searchCriteria.itemVersion.versionType": "commit",
                    "searchCriteria.compareVersion.version": compare, "searchCriteria.compareVersion.versionType": "commit",
                })
                found |= {f"{repo['id']}:{c['commitId']}" for c in new}
        after = world.truth()
        assert sorted(found) == after["git.commit"]
        assert len(after["git.commit"]) - len(before["git.commit"]) == counts["commits"]


def test_request_log_counts_non_control_requests(tiny):
    _, url, client = tiny
    assert httpx.delete(url + "/_sim/requests").status_code == 200
    client.get("/_apis/projects", params=V)
    client.get("/_apis/nowhere", params=V)
    httpx.get(url + "/_sim/truth")
    logged = httpx.get(url + "/_sim/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in logged] == [
        ("GET", "/tfs/DefaultCollection/_apis/projects", 200),
        ("GET", "/tfs/DefaultCollection/_apis/nowhere", 404),
    ]


# -- server behaviour ----------------------------------------------------------------------


def test_api_version_rules(tiny):
    world, url, client = tiny
    missing = client.get("/_apis/projects")
    assert missing.status_code == 400 and missing.json()["typeKey"] == "VssVersionNotSpecifiedException"
    assert missing.json()["message"].startswith('No api-version was supplied for the "GET" request.')
    assert set(missing.json()) == {"$id", "innerException", "message", "typeName", "typeKey", "errorCode", "eventId"}
    by_header = client.get("/_apis/projects", headers={"Accept": "application/json;api-version=5.0"})
    assert by_header.status_code == 200 and by_header.headers["content-type"].endswith("api-version=5.0")
    plain = client.get("/_apis/connectionData", params=V)
    assert plain.status_code == 400 and plain.json()["typeKey"] == "VssInvalidPreviewVersionException"
    assert plain.json()["message"] == (
        'The requested version "7.0" of the resource is under preview. The -preview flag must be supplied in the'
        ' api-version for such requests. For example: "7.0-preview"'
    )
    data = ok(client.get("/_apis/connectionData", params={"api-version": "7.0-preview.1", "connectOptions": "IncludeServices"}))
    assert data["deploymentType"] == "onPremises" and data["instanceId"] == world.collection.id
    assert data["authenticatedUser"]["providerDisplayName"] and data["locationServiceData"]["defaultAccessMappingMoniker"] == "PublicAccessMapping"
    with running(world, "2019") as (_, old):
        too_new = old.get("/_apis/projects", params=V)
        assert too_new.status_code == 400 and too_new.json()["typeKey"] == "VssVersionOutOfRangeException"
        assert too_new.json()["message"] == (
            "The requested REST API version of 7.0 is out of range for this server."
            " The latest REST API version this server supports is 5.0."
        )
        assert old.get("/_apis/projects", params={"api-version": "5.0"}).status_code == 200


def test_auth_failures(tiny):
    world, url, _ = tiny
    projects = url + "/tfs/DefaultCollection/_apis/projects?api-version=7.0"
    for auth in (None, ("", "wrong")):
        suppressed = httpx.get(projects, auth=auth, headers=SUPPRESS)
        assert suppressed.status_code == 401 and suppressed.headers["www-authenticate"].startswith("Basic realm=")
        assert suppressed.json()["message"] == "TF400813: The user '' is not authorized to access this resource."
        assert suppressed.json()["typeKey"] == "UnauthorizedRequestException"
        signin = httpx.get(projects, auth=auth)
        assert signin.status_code == 203 and signin.headers["content-type"].startswith("text/html")
    pats = {"code-only": frozenset({"vso.code"}), "project-only": frozenset({"vso.project"})}
    with running(world, pats=pats, pat="code-only") as (_, code):
        assert code.get("/_apis/git/repositories", params=V).status_code == 200
        denied = code.get("/_apis/projects", params=V)
        assert denied.status_code == 403 and "vso.project" in denied.json()["message"]
        assert code.get("/_apis/connectionData", params={"api-version": "7.0-preview"}).status_code == 200
        only_projects = code.get("/_apis/git/repositories", params=V, auth=("any-user", "project-only"))
        assert only_projects.status_code == 403 and only_projects.json()["typeKey"] == "VssServiceException"
        assert "'vso.code'" in only_projects.json()["message"]


def test_not_found_answers(tiny):
    world, url, client = tiny
    page = client.get("/_apis/graph/users", params=V)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found. - Azure DevOps Server" in page.text
    assert "TF200016" in client.get("/No Such Project/_apis/git/repositories", params=V).json()["message"]
    repo = world.repositories[0]
    missing = client.get(f"/{world.projects[0].name}/_apis/git/repositories/nope", params=V)
    assert missing.status_code == 404 and missing.json()["message"].startswith("TF401019")
    unknown = client.get(f"/_apis/git/repositories/{repo.id}/commits", params={**V, "searchCriteria.itemVersion.version": "gone"})
    assert unknown.status_code == 404 and unknown.json()["message"].startswith("TF401175")
    assert client.get(f"/_apis/git/repositories/{repo.id}/pushes/9999", params=V).status_code == 404
    by_name = ok(client.get(f"/{world.projects[0].name.upper()}/_APIS/GIT/REPOSITORIES/{repo.name}", params=V))
    assert by_name["id"] == repo.id


def test_options_lists_resource_locations(tiny):
    world, url, client = tiny
    locations = {loc["id"]: loc for loc in ok(client.request("OPTIONS", "/_apis"))["value"]}
    commits = locations["c2570c3b-5b3f-41b8-98bf-5407bfde8d58"]
    assert commits["routeTemplate"] == "{project}/_apis/git/repositories/{repositoryId}/commits/{commitId}"
    assert (commits["minVersion"], commits["maxVersion"], commits["releasedVersion"]) == ("1.0", "7.0", "7.0")
    for location_id in ("225f7195-f9c7-4d14-ab28-a83f7ff77e1f", "603fe2ac-9723-48b9-88ad-09305aa6c6e1",
                        "00d9565f-ed9c-4a06-9a50-00e7896ccab4", "8031090f-ef1d-4af6-85fc-698cd75d42bf",
                        "2d874a60-a811-4f62-9c9f-963a6ea0a55b", "ea98d07b-3c87-4971-8ede-a613694ffb55"):
        assert location_id in locations
    assert locations["00d9565f-ed9c-4a06-9a50-00e7896ccab4"]["releasedVersion"] == "0.0"
    server_level = httpx.request("OPTIONS", url + "/tfs/_apis", auth=("", PAT)).json()["value"]
    assert "8031090f-ef1d-4af6-85fc-698cd75d42bf" in {loc["id"] for loc in server_level}
    collections = httpx.get(url + "/tfs/_apis/projectCollections", params=V, auth=("", PAT)).json()
    assert collections["value"][0]["name"] == "DefaultCollection"
    assert ok(client.get("/_apis/ResourceAreas", params={"api-version": "7.0-preview.1"})) == {"count": 0, "value": []}


def test_fields_follow_the_profile():
    world = generate_world(7, "tiny")
    expected = {"2019": set(), "2020": {"webUrl"}, "2022": {"webUrl", "isDisabled"}, "7.1": {"webUrl", "isDisabled", "isInMaintenance"}}
    for name, profile in PROFILES.items():
        with running(world, name) as (_, client):
            version = {"api-version": profile.max_version}
            repo = ok(client.get("/_apis/git/repositories", params=version))["value"][0]
            assert {"webUrl", "isDisabled", "isInMaintenance"} & set(repo) == expected[name]
            assert {"id", "name", "url", "project", "defaultBranch", "remoteUrl", "sshUrl"} <= set(repo)
            assert ("lastUpdateTime" in repo["project"]) == (name != "2019")
            maximum = ok(client.request("OPTIONS", "/_apis"))["value"][0]["maxVersion"]
            assert maximum == profile.max_version

"""Git items over real HTTP at every profile: the trees ``items`` serves agree with the commits'
file changes (``commits/{commitId}/changes``), list folders as the server does, resolve versions,
and refuse what the server refuses."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.generate import MAIN
from standins.ado_simulator.world.model import Commit, Repository
from standins.ado_simulator.world.world import World, generate_world
from standins.loopback import serve_in_thread
from tests.integration.test_simulator_spec import schema_errors
from tests.simulator_samples import spec_index

pytestmark = pytest.mark.integration

PAT = "sim-pat"
_ITEMS = "{project?}/_apis/git/repositories/{repositoryId}/items"


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(7, "tiny")


@pytest.fixture(scope="module", params=sorted(PROFILES))
def served(request, world: World) -> Iterator[tuple[str, httpx.Client]]:
    with serve_in_thread(create_app(world, request.param)) as server, \
            httpx.Client(base_url=server.url + "/tfs/DefaultCollection", auth=("", PAT), timeout=30,
                         headers={"X-TFS-FedAuthRedirect": "Suppress"}) as client:
        yield PROFILES[request.param].max_version, client


def _repository(world: World) -> tuple[Repository, list[Commit]]:
    """The repository with the longest main, and main's commits newest first."""
    found = []
    for repo in world.repositories:
        with world.reading(repo.id) as history:
            found.append((len(history.log(history.head(MAIN))), repo))
    repo = max(found, key=lambda f: f[0])[1]
    with world.reading(repo.id) as history:
        return repo, [history.commits[p] for p in history.log(history.head(MAIN))]


def _items(api: str, client: httpx.Client, repo: Repository, /, **params) -> httpx.Response:
    return client.get(f"{repo.project_id}/_apis/git/repositories/{repo.id}/items", params={"api-version": api, **params})


def _valid(version: str, response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    problems = schema_errors(version, spec_index(version).operation("GET", _ITEMS)[1]["schema"], body)
    assert not problems, problems
    return body


def _tree(version: str, client: httpx.Client, repo: Repository, commit_id: str) -> dict[str, dict]:
    body = _valid(version, _items(version, client, repo, scopePath="/", recursionLevel="Full",
                                  **{"versionDescriptor.version": commit_id, "versionDescriptor.versionType": "commit"}))
    return {item["path"]: item for item in body["value"]}


def test_trees_follow_the_commits_changes(world, served):
    """From a commit's first parent to the commit, the files change exactly as its changes say."""
    version, client = served
    repo, log = _repository(world)
    single = [c for c in log if len(c.parents) == 1][:4]
    assert single
    for commit in single:
        before = _tree(version, client, repo, commit.parents[0])
        after = _tree(version, client, repo, commit.commit_id)
        assert all(item["commitId"] == commit.commit_id for item in after.values())
        changes = client.get(f"{repo.project_id}/_apis/git/repositories/{repo.id}/commits/{commit.commit_id}/changes",
                             params={"api-version": version, "top": 1000}).json()["changes"]
        touched = {c["item"]["path"] for c in changes}
        for change in changes:
            path, kind = change["item"]["path"], change["changeType"]
            if kind == "delete":
                assert path in before and path not in after
                assert before[path]["objectId"] == change["item"]["objectId"]
            else:
                assert path in after and after[path]["objectId"] == change["item"]["objectId"]
                assert (path in before) == (kind == "edit")
        files_before = {p: i["objectId"] for p, i in before.items() if not i.get("isFolder")}
        files_after = {p: i["objectId"] for p, i in after.items() if not i.get("isFolder")}
        assert {p: o for p, o in files_before.items() if p not in touched} == \
            {p: o for p, o in files_after.items() if p not in touched}
        root = after["/"]
        assert root["gitObjectType"] == "tree" and root["isFolder"] is True and root["objectId"] == commit.tree_id
        for change in changes:  # each changed item's, and the root's, latest change is this commit
            for path in {"/", change["item"]["path"] if change["changeType"] != "delete" else "/"}:
                latest = _valid(version, _items(version, client, repo, path=path, latestProcessedChange="true",
                                                version=commit.commit_id, versionType="commit"))
                assert latest["latestProcessedChange"]["commitId"] == commit.commit_id, path


def test_listing_depths_and_order(world, served):
    """none: the item; oneLevel: it and its children; full: it and every descendant, depth-first by name."""
    version, client = served
    repo, log = _repository(world)
    full = _valid(version, _items(version, client, repo, scopePath="/src", recursionLevel="full"))["value"]
    paths = [i["path"] for i in full]
    assert paths[0] == "/src" and all(p.startswith("/src/") for p in paths[1:])
    assert paths == sorted(paths, key=lambda p: p.split("/"))
    folders = {p for p, i in zip(paths, full) if i.get("isFolder")}
    assert all(p.rsplit("/", 1)[0] in folders for p in paths[1:])  # no orphans: every parent is listed
    one = _valid(version, _items(version, client, repo, scopePath="/src", recursionLevel="OneLevel"))["value"]
    assert [i["path"] for i in one] == ["/src"] + sorted(p for p in paths if p.count("/") == 2)
    same = _valid(version, _items(version, client, repo, scopePath="/src", recursionLevel="1"))["value"]
    assert same == one  # enums by number
    alone = _valid(version, _items(version, client, repo, scopePath="/src/"))["value"]
    assert [i["path"] for i in alone] == ["/src"]
    file_path = next(p for p, i in zip(paths, full) if not i.get("isFolder"))
    listed = _valid(version, _items(version, client, repo, scopePath=file_path, recursionLevel="full"))["value"]
    assert [i["path"] for i in listed] == [file_path] and listed[0]["gitObjectType"] == "blob"
    assert all(i["commitId"] == log[0].commit_id for i in full)


def test_one_item_by_path(world, served):
    """``path`` without recursion: one GitItem with links; content and metadata on request."""
    version, client = served
    repo, log = _repository(world)
    item = _valid(version, _items(version, client, repo, path="src/api/module00.py", includeContent="true",
                                  includeContentMetadata="true", latestProcessedChange="true"))
    assert item["path"] == "/src/api/module00.py" and item["gitObjectType"] == "blob"
    assert item["objectId"] in item["content"]
    assert item["contentMetadata"] == {"encoding": 65001, "contentType": "text/plain", "fileName": "module00.py",
                                       "extension": "py"}
    assert set(item["_links"]) == {"self", "repository", "blob"}
    changed = item["latestProcessedChange"]["commitId"]
    assert changed in {c.commit_id for c in log}
    folder = _valid(version, _items(version, client, repo, path="/src", includeContentMetadata="true"))
    assert folder["isFolder"] is True and folder["contentMetadata"] == {"fileName": "src"}
    listed = _valid(version, _items(version, client, repo, path="/src", recursionLevel="oneLevel"))
    assert listed["count"] > 1  # path with a recursion level lists, as scopePath does


def test_versions(world, served):
    """Branch (default), tag, commit, previousChange (the first parent); unknown versions and paths: 404."""
    version, client = served
    repo, log = _repository(world)
    head, parent = log[0], log[0].parents[0]
    by_branch = _valid(version, _items(version, client, repo, path="/", **{"versionDescriptor.version": "main"}))
    assert by_branch["commitId"] == head.commit_id and "versionType=Branch&version=main" in by_branch["url"]
    previous = _valid(version, _items(version, client, repo, path="/", versionType="commit",
                                      version=head.commit_id, versionOptions="previousChange"))
    assert previous["commitId"] == parent
    with world.reading(repo.id) as history:
        tag = next(iter(history.tags.values()), None)
    if tag is not None:
        tagged = _valid(version, _items(version, client, repo, path="/", **{
            "versionDescriptor.version": tag.name.removeprefix("refs/tags/"), "versionDescriptor.versionType": "tag"}))
        assert tagged["commitId"] == tag.commit_id
    missing = _items(version, client, repo, path="/", **{"versionDescriptor.version": "no-such-branch"})
    assert missing.status_code == 404 and missing.json()["typeKey"] == "GitUnresolvableToCommitException"
    gone = _items(version, client, repo, path="/no/such/file.txt")
    assert gone.status_code == 404 and gone.json()["typeKey"] == "GitItemNotFoundException"
    assert "TF401174" in gone.json()["message"]
    bad = _items(version, client, repo, scopePath="/", recursionLevel="sideways")
    assert bad.status_code == 400

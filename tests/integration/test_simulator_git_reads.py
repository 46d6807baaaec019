"""Git file-level reads over real HTTP at every profile: ``commits/{commitId}/changes``,
``commits/{commitId}?changeCount`` and ``diffs/commits`` answer bodies valid against the spec of
that version and agree with the commits route; and docs/simulator.md's route coverage is current."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.semantics import as_asked
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import World, generate_world
from standins.loopback import serve_in_thread
from tests.integration.test_simulator_spec import schema_errors
from tests.simulator_samples import spec_index

pytestmark = pytest.mark.integration

PAT = "sim-pat"
_REPO = "{project?}/_apis/git/repositories/{repositoryId}"
_COUNT_NAMES = {"add": "Add", "edit": "Edit", "delete": "Delete"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(7, "small")


@pytest.fixture(scope="module", params=sorted(PROFILES))
def served(request, world: World) -> Iterator[tuple[str, httpx.Client]]:
    # as asked: no page cap, so one $top answers a whole list (paging is tested elsewhere)
    with serve_in_thread(create_app(world, request.param, semantics=as_asked(world.semantics))) as server, \
            httpx.Client(base_url=server.url + "/tfs/DefaultCollection", auth=("", PAT), timeout=30,
                         headers={"X-TFS-FedAuthRedirect": "Suppress"}) as client:
        yield PROFILES[request.param].max_version, client


def _get(client: httpx.Client, version: str, path: str, **params) -> httpx.Response:
    return client.get(path, params={"api-version": version, **params})


def _ok(version: str, client: httpx.Client, route: str, path: str, **params) -> dict:
    """GET ``path``; assert 200 and a body valid against the spec operation of ``route``."""
    response = _get(client, version, path, **params)
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    found = spec_index(version).operation("GET", route)
    assert found is not None, f"{route} not in the {version} spec"
    problems = schema_errors(version, found[1]["schema"], body)
    assert not problems, f"{path} at {version}: {problems}"
    return body


def _repo_path(world: World, index: int = 0) -> tuple[str, str]:
    repo = world.repositories[index]
    return f"{repo.project_id}/_apis/git/repositories/{repo.id}", repo.default_branch


def _commits(version: str, client: httpx.Client, base: str, **criteria) -> list[dict]:
    params = {f"searchCriteria.{k}": v for k, v in criteria.items()}
    return _ok(version, client, f"{_REPO}/commits", f"{base}/commits", **{"searchCriteria.$top": "10000"}, **params)["value"]


def _branches(world: World, limit: int = 4) -> list[str]:
    repo = world.repositories[0]
    with world.reading(repo.id) as history:
        return [n for n in history.ref_names if n != repo.default_branch][:limit]


def test_a_commits_changes_number_its_change_counts(served, world):
    version, client = served
    base, _ = _repo_path(world)
    for listed in _commits(version, client, base)[:25]:
        cid = listed["commitId"]
        body = _ok(version, client, f"{_REPO}/commits/{{commitId}}/changes", f"{base}/commits/{cid}/changes", top="1000")
        counted = Counter(_COUNT_NAMES[c["changeType"]] for c in body["changes"])
        assert body["changeCounts"] == listed["changeCounts"]
        assert {k: counted.get(k, 0) for k in listed["changeCounts"]} == listed["changeCounts"]
        assert all(c["item"]["commitId"] == cid and c["item"]["path"].startswith("/") for c in body["changes"])
        paged = [c for skip in range(0, len(body["changes"]), 3) for c in _get(
            client, version, f"{base}/commits/{cid}/changes", top="3", skip=str(skip)).json()["changes"]]
        assert paged == body["changes"]


def test_get_commit_with_change_count_shows_the_first_changes(served, world):
    version, client = served
    base, _ = _repo_path(world)
    cid = next(c["commitId"] for c in _commits(version, client, base) if sum(c["changeCounts"].values()) >= 3)
    body = _ok(version, client, f"{_REPO}/commits/{{commitId}}", f"{base}/commits/{cid}", changeCount="2")
    changes = _get(client, version, f"{base}/commits/{cid}/changes").json()["changes"]
    assert body["changes"] == changes[:2]
    assert "changes" not in _get(client, version, f"{base}/commits/{cid}").json()


def test_diffs_between_a_branch_and_main_follow_the_commits_route(served, world):
    version, client = served
    base, default = _repo_path(world)
    main = default.removeprefix("refs/heads/")
    route = f"{_REPO}/diffs/commits"
    branches = _branches(world)
    assert branches
    for ref in branches:
        branch = ref.removeprefix("refs/heads/")
        ahead = _commits(version, client, base, **{"itemVersion.version": branch, "compareVersion.version": main})
        behind = _commits(version, client, base, **{"itemVersion.version": main, "compareVersion.version": branch})
        body = _ok(version, client, route, f"{base}/diffs/commits", baseVersion=main, targetVersion=branch,
                   **{"$top": "10000"})
        assert (body["aheadCount"], body["behindCount"]) == (len(ahead), len(behind))
        assert body["allChangesIncluded"] is True
        # the net file changes of the ahead commits, from their own changes
        net: dict[str, str] = {}
        for commit in reversed(ahead):
            for change in _get(client, version, f"{base}/commits/{commit['commitId']}/changes",
                               top="1000").json()["changes"]:
                path, kind = change["item"]["path"], change["changeType"]
                if kind == "delete" and net.get(path) == "add":
                    del net[path]
                else:
                    net[path] = net.get(path, kind) if kind == "edit" else kind
        assert {c["item"]["path"]: c["changeType"] for c in body["changes"]} == net
        assert sum(body["changeCounts"].values()) == len(body["changes"])
        if len(body["changes"]) > 2:  # $top/$skip pages join up to the whole
            pages = [c for skip in range(0, len(body["changes"]), 2) for c in _ok(
                version, client, route, f"{base}/diffs/commits", baseVersion=main, targetVersion=branch,
                **{"$top": "2", "$skip": str(skip)})["changes"]]
            assert pages == body["changes"]
        # by commit id and version type as a number, and the common commit really is common
        by_id = _ok(version, client, route, f"{base}/diffs/commits", baseVersion=body["baseCommit"],
                    baseVersionType="2", targetVersion=body["targetCommit"], targetVersionType="commit",
                    **{"$top": "10000"})
        assert by_id["changes"] == body["changes"] and by_id["aheadCount"] == body["aheadCount"]
        if body.get("commonCommit"):
            assert body["commonCommit"] not in {c["commitId"] for c in ahead + behind}
        whole = _ok(version, client, route, f"{base}/diffs/commits", baseVersion=main, targetVersion=branch,
                    diffCommonCommit="false", **{"$top": "10000"})
        assert len(whole["changes"]) >= len(body["changes"]) or not behind


def test_unknown_commits_and_versions_answer_404(served, world):
    version, client = served
    base, _ = _repo_path(world)
    missing = "0123456789abcdef0123456789abcdef01234567"
    for path, params in ((f"{base}/commits/{missing}/changes", {}), (f"{base}/commits/{missing}", {"changeCount": "2"}),
                         (f"{base}/diffs/commits", {"baseVersion": missing, "baseVersionType": "commit"}),
                         (f"{base}/diffs/commits", {"targetVersion": "no-such-branch"})):
        response = _get(client, version, path, **params)
        assert response.status_code == 404, path
        assert "TF401175" in response.json()["message"]


def _coverage_script():
    spec = importlib.util.spec_from_file_location("route_coverage", ROOT / "scripts" / "route_coverage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass needs its module registered
    spec.loader.exec_module(module)
    return module


def test_the_docs_route_coverage_section_is_current():
    """Needs only the committed spec extract (tests/spec_schemas), not ../shared."""
    script = _coverage_script()
    doc = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    assert script.START in doc and script.END in doc
    assert script.replace_section(doc, script.render()) == doc, "run: python scripts/route_coverage.py --write"
    git = script.coverage("7.0")
    for path in ("/{}/_apis/git/repositories/{}/diffs/commits", "/{}/_apis/git/repositories/{}/commits/{}/changes"):
        assert path in git.implemented["git"]


def test_pull_request_iteration_changes_are_the_diff_from_the_common_commit(served, world):
    version, client = served
    base, _ = _repo_path(world)
    route = f"{_REPO}/pullRequests/{{pullRequestId}}/iterations/{{iterationId}}/changes"
    prs = _get(client, version, f"{base}/pullrequests", **{"searchCriteria.status": "all", "$top": "8"}).json()["value"]
    assert prs
    checked = 0
    for pr in prs:
        path = f"{base}/pullRequests/{pr['pullRequestId']}"
        for iteration in _get(client, version, f"{path}/iterations").json()["value"]:
            number = iteration["id"]
            body = _ok(version, client, route, f"{path}/iterations/{number}/changes", **{"$top": "2000"})
            diff = _get(client, version, f"{base}/diffs/commits", baseVersion=iteration["commonRefCommit"]["commitId"],
                        baseVersionType="commit", targetVersion=iteration["sourceRefCommit"]["commitId"],
                        targetVersionType="commit", **{"$top": "2000"}).json()
            assert [(e["item"]["path"], e["changeType"]) for e in body["changeEntries"]] == \
                [(c["item"]["path"], c["changeType"]) for c in diff["changes"]]
            assert (body["nextSkip"], body["nextTop"]) == (0, 0)
            entries = body["changeEntries"]
            if len(entries) > 2:
                first = _ok(version, client, route, f"{path}/iterations/{number}/changes", **{"$top": "2"})
                assert first["changeEntries"] == entries[:2] and (first["nextSkip"], first["nextTop"]) == (2, 2)
            checked += 1
    assert checked
    missing = _get(client, version, f"{base}/pullRequests/{prs[0]['pullRequestId']}/iterations/999/changes")
    assert missing.status_code == 404

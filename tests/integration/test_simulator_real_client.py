"""Microsoft's own Python client (``azure-devops``) reads the simulator like a real server.

The package (7.1.0b4) ships its 7.0 clients as ``azure.devops.v7_0`` (``released`` is the same
7.0); older modules (v5_1, v6_0) only exist in older releases of the package, which cannot be
installed beside it. Against 2019 and 2020 the 7.0 client does what it does against a real older
server: it reads ``OPTIONS _apis`` and negotiates each request down to the server's
``maxVersion`` (5.0, 6.0), adding ``-preview`` where a resource was never released.
"""

from __future__ import annotations

import importlib
from typing import Iterator

import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator.app import AREAS, create_app
from standins.ado_simulator.world.generate import MAIN
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import World, generate_world

pytestmark = pytest.mark.integration

PAT = "client-pat"
CLIENT_PROFILES = ("2019", "2020", "2022")


@pytest.fixture(scope="module")
def azure_devops(tmp_path_factory) -> Iterator[dict]:
    """The client package, imported with its on-disk caches in a temporary folder."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AZURE_DEVOPS_CACHE_DIR", str(tmp_path_factory.mktemp("azure-devops-cache")))
        modules = {name: importlib.import_module(f"azure.devops.{name}") for name in (
            "connection", "client", "_file_cache", "v7_0.git.models", "v7_0.work_item_tracking.models")}
        modules["auth"] = importlib.import_module("msrest.authentication")
        yield modules


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(11, "tiny")


@pytest.fixture(scope="module", params=CLIENT_PROFILES)
def connection(request, world, azure_devops):
    """A ``Connection`` on the collection of a simulator of one profile, with fresh location caches."""
    client_module, file_cache = azure_devops["client"], azure_devops["_file_cache"]
    with serve_in_thread(create_app(world, request.param, {PAT: frozenset({"full"})})) as server:
        client_module.Client._locations_cache.clear()  # class-wide, keyed by URL: ports get reused
        file_cache.OPTIONS_CACHE.clear()
        file_cache.RESOURCE_CACHE.clear()
        creds = azure_devops["auth"].BasicAuthentication("", PAT)
        yield request.param, azure_devops["connection"].Connection(base_url=f"{server.url}/tfs/DefaultCollection", creds=creds)


def truth_of(world: World, profile: str) -> dict[str, list[str]]:
    return world.truth(PROFILES[profile].max_version)


def pending(method: str, route_end: str, what: str) -> pytest.MarkDecorator:
    """A strict expected failure while no area serves the route the client needs (none: a plain test)."""
    served = any(r.method == method and r.pattern.endswith(route_end) for area in AREAS for r in area.ROUTES)
    return pytest.mark.xfail(not served, reason=f"the simulator does not serve {what} yet", strict=True)


def test_projects(world, connection):
    profile, conn = connection
    core = conn.clients_v7_0.get_core_client()
    projects = core.get_projects()
    assert sorted(p.id for p in projects) == truth_of(world, profile)["core.project"]
    for project in world.projects:
        one = core.get_project(project.id)
        assert (one.id, one.name, one.description, one.state) == (project.id, project.name, project.description, "wellFormed")
        assert one.default_team.id == project.default_team_id
        assert (one.last_update_time is not None) == PROFILES[profile].has("6.0")


def test_repositories_and_commits(world, connection, azure_devops):
    profile, conn = connection
    git = conn.clients_v7_0.get_git_client()
    repositories = git.get_repositories()
    assert sorted(r.id for r in repositories) == truth_of(world, profile)["git.repository"]
    criteria = azure_devops["v7_0.git.models"].GitQueryCommitsCriteria
    for repo in repositories:
        model = world.repository(repo.id)
        assert (repo.name, repo.project.id, repo.default_branch) == (model.name, model.project_id, MAIN)
        with world.reading(repo.id) as history:
            expected = [history.commits[p] for p in history.log(history.head(MAIN), None)]
            pushes = len(history.pushes)
        commits = git.get_commits(repo.id, criteria(top=10_000), project=repo.project.id)
        assert [c.commit_id for c in commits] == [c.commit_id for c in expected]
        person = world.people[expected[0].author]
        assert (commits[0].author.name, commits[0].author.email) == (person.display_name, person.email)
        assert len(git.get_pushes(repo.id, project=repo.project.id, top=10_000)) == pushes


@pending("GET", "/_apis/git/pullrequests", "pull requests")
def test_pull_requests(world, connection, azure_devops):
    profile, conn = connection
    git = conn.clients_v7_0.get_git_client()
    criteria = azure_devops["v7_0.git.models"].GitPullRequestSearchCriteria(status="all")
    seen = []
    for project in world.projects:
        for pr in git.get_pull_requests_by_project(project.id, criteria, top=10_000):
            assert pr.repository.project.id == project.id
            assert pr.status in ("active", "completed", "abandoned")
            seen.append(f"{pr.repository.id}:{pr.pull_request_id}")
    assert sorted(seen) == truth_of(world, profile)["git.pull_request"]
    reviewers = truth_of(world, profile).get("git.pull_request_reviewer", [])
    if reviewers:
        repo_id, pr_id, _ = reviewers[0].split(":")
        got = git.get_pull_request_reviewers(repo_id, int(pr_id), project=world.repository(repo_id).project_id)
        expected = sorted(k.rsplit(":", 1)[1] for k in reviewers if k.startswith(f"{repo_id}:{pr_id}:"))
        assert sorted(r.id for r in got) == expected


@pending("GET", "/_apis/build/builds", "builds")
def test_builds(world, connection):
    profile, conn = connection
    build = conn.clients_v7_0.get_build_client()
    collection = world.collection.id
    seen = []
    for project in world.projects:
        for item in build.get_builds(project.id, top=10_000):
            assert item.project.id == project.id
            assert item.definition.id is not None and item.build_number
            seen.append(f"{collection}:{item.id}")
    assert sorted(seen) == truth_of(world, profile)["build.build"]


@pending("POST", "/_apis/wit/wiql", "WIQL")
def test_work_items(world, connection, azure_devops):
    profile, conn = connection
    wit = conn.clients_v7_0.get_work_item_tracking_client()
    models = azure_devops["v7_0.work_item_tracking.models"]
    collection = world.collection.id
    seen = []
    for project in world.projects:
        query = models.Wiql(query="SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project"
                                  " ORDER BY [System.Id] ASC")
        result = wit.query_by_wiql(query, team_context=models.TeamContext(project=project.name))
        ids = [ref.id for ref in result.work_items]
        assert ids == sorted(ids)
        for start in range(0, len(ids), 200):
            chunk = ids[start : start + 200]
            items = wit.get_work_items(chunk, fields=["System.Id", "System.TeamProject", "System.Rev"])
            assert [item.id for item in items] == chunk
            assert all(item.fields["System.TeamProject"] == project.name for item in items)
            seen += [f"{collection}:{item.id}" for item in items]
    assert sorted(seen) == sorted(truth_of(world, profile)["wit.work_item"])

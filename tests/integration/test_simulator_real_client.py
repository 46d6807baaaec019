"""Microsoft's own Python client (``azure-devops``) reads the simulator like a real server.

The package (7.1.0b4) ships its 7.0 clients as ``azure.devops.v7_0`` (``released`` is the same
7.0); older modules (v5_1, v6_0) only exist in older releases of the package, which cannot be
installed beside it. Against 2019 and 2020 the 7.0 client does what it does against a real older
server: it reads ``OPTIONS _apis`` and negotiates each request down to the server's
``maxVersion`` (5.0, 6.0), adding ``-preview`` where a resource was never released.

The package is a dev dependency (pyproject ``dev``, requirements/dev.lock): these tests run in CI,
never skipped. Besides the ground truth of each stream, they query commits by ``fromDate`` in every
form of issue 17 (the client passes the string through untouched) and read git items.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from standins.ado_simulator.app import AREAS, create_app
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.generate import MAIN
from standins.ado_simulator.world.model import Commit
from standins.ado_simulator.world.world import World, generate_world
from standins.loopback import serve_in_thread

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


def _main_log(world: World) -> tuple[str, str, list[Commit]]:
    """(repository id, project id, main's commits newest first) of the repository with the longest main."""
    found = []
    for repo in world.repositories:
        with world.reading(repo.id) as history:
            found.append([history.commits[p] for p in history.log(history.head(MAIN), None)])
    index = max(range(len(found)), key=lambda i: (len(found[i]), -i))
    repo = world.repositories[index]
    return repo.id, repo.project_id, found[index]


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _from_dates(log: list[Commit]) -> dict[str, tuple[str, datetime]]:
    """Format name -> (``fromDate`` as a client sends it, the instant the server reads): the forms of
    issue 17 item 1, zone-less ones in the server's local time (UTC). Each instant sits on a commit of
    ``log`` so that a misread hides or shows it: an AM time read as PM, a PM time read as AM, 12 AM
    read as noon, or a fraction of a second dropped, all move the boundary across a commit."""
    middle = sorted(log, key=lambda c: abs(log.index(c) - len(log) // 2))
    morning = _utc(next(c.commit_time for c in middle if _utc(c.commit_time).hour < 12))  # the commit is in
    evening = _utc(next(c.commit_time for c in middle if _utc(c.commit_time).hour >= 12) + 1)  # the commit is out
    midnight = morning.replace(hour=0, minute=0, second=0)

    def us(moment: datetime) -> str:  # M/d/yyyy h:mm:ss tt
        return f"{moment.month}/{moment.day}/{moment.year} {(moment.hour % 12) or 12}:{moment:%M:%S} {moment:%p}"

    return {
        "M/d/yyyy h:mm:ss AM": (us(morning), morning),
        "M/d/yyyy h:mm:ss PM": (us(evening), evening),
        "M/d/yyyy 12:00:00 AM (midnight)": (us(midnight), midnight),
        "MM/dd/yyyy HH:mm:ss PM (14 PM)": ("11/04/2024 14:00:00 PM", datetime(2024, 11, 4, 14, tzinfo=UTC)),
        "MM/dd/yyyy 00:00:00 AM": ("01/01/2000 00:00:00 AM", datetime(2000, 1, 1, tzinfo=UTC)),
        "M/d/yyyy": (f"{midnight.month}/{midnight.day}/{midnight.year}", midnight),
        "RFC 1123": (format_datetime(evening, usegmt=True), evening),
        "ISO 8601 without offset": (morning.strftime("%Y-%m-%dT%H:%M:%S"), morning),
        "ISO 8601 Z": (evening.strftime("%Y-%m-%dT%H:%M:%SZ"), evening),
        "ISO 8601 with offset": (evening.astimezone(timezone(timedelta(hours=-5))).isoformat(), evening),
        "ISO 8601 7 fractional digits": (f"{morning:%Y-%m-%dT%H:%M:%S}.1234567Z", morning + timedelta(microseconds=123457)),
    }


FROM_DATE_FORMATS = (
    "M/d/yyyy h:mm:ss AM", "M/d/yyyy h:mm:ss PM", "M/d/yyyy 12:00:00 AM (midnight)", "MM/dd/yyyy HH:mm:ss PM (14 PM)",
    "MM/dd/yyyy 00:00:00 AM", "M/d/yyyy", "RFC 1123", "ISO 8601 without offset", "ISO 8601 Z", "ISO 8601 with offset",
    "ISO 8601 7 fractional digits",
)


@pytest.mark.parametrize("form", FROM_DATE_FORMATS)
def test_commits_from_date_in_each_format(world, connection, azure_devops, form):
    """``search_criteria.from_date`` in each form .NET parses: exactly the commits at or after that instant."""
    _, conn = connection
    git = conn.clients_v7_0.get_git_client()
    repo_id, project_id, log = _main_log(world)
    raw, instant = _from_dates(log)[form]
    criteria = azure_devops["v7_0.git.models"].GitQueryCommitsCriteria(top=10_000, from_date=raw)
    got = [c.commit_id for c in git.get_commits(repo_id, criteria, project=project_id)]
    expected = [c.commit_id for c in log if c.commit_time >= instant.timestamp()]
    assert got == expected, raw


def test_from_date_instants_sit_on_commits(world):
    """The instants above bite: each form's instant has a commit within a second or twelve hours after it."""
    _, _, log = _main_log(world)
    forms = _from_dates(log)
    times = sorted(c.commit_time for c in log)

    def after(instant: datetime, within: timedelta) -> bool:
        return any(instant.timestamp() <= t < (instant + within).timestamp() for t in times)

    assert after(forms["M/d/yyyy h:mm:ss AM"][1], timedelta(seconds=1))  # read as PM: that commit drops out
    assert after(forms["M/d/yyyy h:mm:ss PM"][1] - timedelta(hours=12), timedelta(hours=12))  # read as AM: one comes in
    assert after(forms["M/d/yyyy 12:00:00 AM (midnight)"][1], timedelta(hours=12))  # read as noon: one drops out
    assert after(forms["ISO 8601 7 fractional digits"][1] - timedelta(seconds=1), timedelta(seconds=1))  # floored: in
    assert set(FROM_DATE_FORMATS) == set(forms)


def test_items(world, connection, azure_devops):
    """Get Items (a folder, one level and in full) and Get Item (a file, at a commit) through the client."""
    _, conn = connection
    git = conn.clients_v7_0.get_git_client()
    models = azure_devops["v7_0.git.models"]
    repo_id, project_id, log = _main_log(world)
    root = git.get_items(repo_id, project=project_id, scope_path="/", recursion_level="oneLevel")
    assert root[0].path == "/" and root[0].is_folder and root[0].commit_id == log[0].commit_id
    assert {i.path for i in root[1:]} <= {"/src", "/legacy"} and any(i.path == "/src" for i in root[1:])
    full = git.get_items(repo_id, project=project_id, scope_path="/src", recursion_level="Full",
                         include_content_metadata=True)
    files = [i for i in full if not i.is_folder]
    assert files and all(i.git_object_type == "blob" and i.content_metadata.file_name == i.path.rsplit("/", 1)[1]
                         for i in files)
    older = log[-1]
    version = models.GitVersionDescriptor(version=older.commit_id, version_type="commit")
    one = git.get_item(repo_id, "/src/api/module00.py", project=project_id, version_descriptor=version,
                       latest_processed_change=True)
    assert (one.path, one.commit_id, one.git_object_type) == ("/src/api/module00.py", older.commit_id, "blob")
    assert one.latest_processed_change.commit_id == older.commit_id  # the root commit: nothing older changed it


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

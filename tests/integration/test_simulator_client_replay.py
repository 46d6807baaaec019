"""Microsoft's official clients, replayed as raw HTTP against the simulator at every profile.

The requests are written out as method + path + query + headers, as the clients put them on the wire
(issue 17 records what they were seen to send):

- ``azure-devops-node-api`` (Node.js, 17): negotiates one area at a time with ``OPTIONS {collection}/_apis/{area}``,
  reads ``minVersion``/``maxVersion``/``releasedVersion`` as strings and picks the api-version from them
  (``negotiate_node`` restates its rule), sends the version in ``Accept`` (``application/json;api-version=…``),
  fills the location's ``routeTemplate`` (missing route values drop their segment), flattens criteria objects
  to ``searchCriteria.x`` parameters, writes dates as JavaScript's ``toUTCString()`` (RFC 1123) and enums as
  their numbers (``searchCriteria.status=4``, ``versionType=0``, ``$expand=1``), ``encodeURIComponent``-escaped.
- ``azure-devops`` (Python, 7.1.0b4): one ``OPTIONS {collection}/_apis`` for every area, ``api-version`` in the
  query (the requested version, or the server's ``maxVersion`` plus ``-preview`` when it was not released),
  enum names, and dates passed through as the caller wrote them: the test sends each form .NET parses.

Every request must answer 200 with the items the world holds; a date or enum written in another form must
select exactly the same items.
"""

from __future__ import annotations

import base64
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator
from urllib.parse import quote

import httpx
import pytest

from standins.ado_simulator.app import create_app
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import World, generate_world
from standins.loopback import serve_in_thread

pytestmark = pytest.mark.integration

PAT = "replay-pat"
COLLECTION = "/tfs/DefaultCollection"
NODE_HEADERS = {
    "Authorization": "Basic " + base64.b64encode(f"PAT:{PAT}".encode()).decode(),
    "User-Agent": "azure-devops-node-api/17.0.0 (Node v20.11.1; linux)",
    "X-TFS-FedAuthRedirect": "Suppress",
    "X-VSS-ForceMsaPassThrough": "true",
}
PYTHON_HEADERS = {
    "Authorization": "Basic " + base64.b64encode(f":{PAT}".encode()).decode(),
    "User-Agent": "azure-devops/7.1.0b4 msrest/0.7.1 python/3.11.9 (Linux-6.5-x86_64)",
    "Accept": "application/json",
    "X-TFS-FedAuthRedirect": "Suppress",
    "X-VSS-ForceMsaPassThrough": "true",
}

# Location ids as the clients carry them
CONNECTION_DATA = "00d9565f-ed9c-4a06-9a50-00e7896ccab4"
PROJECTS = "603fe2ac-9723-48b9-88ad-09305aa6c6e1"
REPOSITORIES = "225f7195-f9c7-4d14-ab28-a83f7ff77e1f"
COMMITS = "c2570c3b-5b3f-41b8-98bf-5407bfde8d58"
PULL_REQUESTS = "a5d28130-9cd2-40fa-9f08-902e7daa9efb"
BUILDS = "0cd358e1-9217-4d94-8269-1c1ee6f93dcf"
WORK_ITEMS = "72c7ddf8-2cdc-4f60-90cd-ab71c14a399b"
REVISIONS = "f828fe59-dd87-495d-a17c-7a8d6211ca6c"


def js_uri_component(value: str) -> str:
    """JavaScript's ``encodeURIComponent``."""
    return quote(value, safe="-_.!~*'()")


def utc_string(moment: datetime) -> str:
    """JavaScript's ``Date.prototype.toUTCString()`` (RFC 1123)."""
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def date_forms(moment: datetime) -> list[str]:
    """``moment`` (UTC, whole hour) in every form the server's binder reads, all naming the same instant."""
    twelve = moment.hour % 12 or 12
    ampm = "AM" if moment.hour < 12 else "PM"
    plus_two = moment.astimezone(timezone(timedelta(hours=2)))
    forms = [
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        moment.strftime("%Y-%m-%dT%H:%M:%S"),
        plus_two.strftime("%Y-%m-%dT%H:%M:%S+02:00"),
        utc_string(moment),
        f"{moment.month}/{moment.day}/{moment.year} {twelve}:00:00 {ampm}",
        f"{moment.month:02d}/{moment.day:02d}/{moment.year} {moment.hour:02d}:00:00 {ampm}",  # 14:00:00 PM, 00:00:00 AM
        f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:00:00",
    ]
    if moment.hour == 0:
        forms += [f"{moment.month}/{moment.day}/{moment.year}", moment.strftime("%Y-%m-%d")]
    return forms


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the two clients' version negotiation --------------------------------------------------


def negotiate_node(location: dict, requested: str) -> str:
    """azure-devops-node-api's rule, on the location's string fields (``+x`` in JavaScript is ``float``)."""
    number, _, preview = requested.partition("-preview")
    resource = preview.lstrip(".")
    wanted, released, maximum = float(number), float(location["releasedVersion"]), float(location["maxVersion"])
    if wanted <= released or (preview and not resource and wanted <= maximum) or (
            resource and wanted <= maximum and int(resource) <= location["resourceVersion"]):
        return requested
    if wanted < maximum:
        return number + "-preview"
    if location["maxVersion"] == location["releasedVersion"]:
        return location["maxVersion"]
    return f"{location['maxVersion']}-preview.{location['resourceVersion']}"


def negotiate_python(location: dict, requested: str) -> str:
    """azure-devops (Python): the requested version, else the server's maximum (``-preview`` if unreleased)."""
    if float(location["maxVersion"]) >= float(requested.partition("-")[0]):
        return requested
    released_below = float(location["releasedVersion"]) < float(location["maxVersion"])
    return location["maxVersion"] + ("-preview" if released_below else "")


def fill_route(template: str, values: dict[str, str]) -> str:
    """A route template with its values; a segment whose value is missing is dropped (both clients do)."""
    parts = []
    for segment in template.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            value = values.get(segment[1:-1].lstrip("*"))
            if value:
                parts.append(js_uri_component(value))
        else:
            parts.append(segment)
    return "/".join(parts)


@dataclass(frozen=True, slots=True)
class Replay:
    """One client talking raw HTTP to a running simulator."""

    http: httpx.Client
    node: bool

    def locations(self, area: str) -> dict[str, dict]:
        path = f"{COLLECTION}/_apis/{area}" if self.node else f"{COLLECTION}/_apis"
        response = self.http.request("OPTIONS", path, headers=self.headers())
        assert response.status_code == 200, (path, response.status_code, response.text[:200])
        value = response.json()["value"]
        for location in value:
            assert all(isinstance(location[k], str) for k in ("minVersion", "maxVersion", "releasedVersion")), location
        return {location["id"]: location for location in value}

    def headers(self, version: str | None = None) -> dict[str, str]:
        if not self.node:
            return PYTHON_HEADERS
        return NODE_HEADERS | {"Accept": "application/json" + (f";api-version={version}" if version else "")}

    def send(self, area: str, location_id: str, requested: str, route: dict[str, str], query: str = "") -> dict:
        """GET the resource; ``query`` is the raw query string (already escaped as the client escapes it)."""
        location = self.locations(area)[location_id]
        values = {"area": location["area"], "resource": location["resourceName"], **route}  # as both clients fill them
        path = f"{COLLECTION}/{fill_route(location['routeTemplate'], values)}"
        if self.node:
            version = negotiate_node(location, requested)
            headers = self.headers(version)
        else:
            version = negotiate_python(location, requested)
            query = "&".join(part for part in (query, f"api-version={version}") if part)
            headers = self.headers()
        response = self.http.get(path + (f"?{query}" if query else ""), headers=headers)
        assert response.status_code == 200, (path, query, version, response.status_code, response.text[:300])
        assert response.headers["content-type"].startswith("application/json")
        return response.json()


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(7, "tiny")


@contextmanager
def replaying(world: World, profile: str, node: bool) -> Iterator[Replay]:
    with serve_in_thread(create_app(world, profile, {PAT: frozenset({"full"})})) as server:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            yield Replay(http, node)


def node_query(**params: str) -> str:
    return "&".join(f"{name}={js_uri_component(value)}" for name, value in params.items())


def all_commits(replay: Replay, requested: str, route: dict[str, str], query: str) -> list[str]:
    """Commit ids of Get Commits, paged with ``$skip`` until an empty page (the server may cap ``$top``)."""
    ids: list[str] = []
    while True:
        page = node_query(**{"searchCriteria.$top": "100", "searchCriteria.$skip": str(len(ids))})
        body = replay.send("git", COMMITS, requested, route, "&".join(p for p in (query, page) if p))
        if not body["value"]:
            return ids
        ids += [c["commitId"] for c in body["value"]]


def commit_times(replay: Replay, requested: str, route: dict[str, str]) -> dict[str, datetime]:
    times: dict[str, datetime] = {}
    while True:
        page = node_query(**{"searchCriteria.$top": "100", "searchCriteria.$skip": str(len(times))})
        body = replay.send("git", COMMITS, requested, route, page)
        if not body["value"]:
            return times
        times |= {c["commitId"]: parse_iso(c["committer"]["date"]) for c in body["value"]}


def pivot(times: dict[str, datetime]) -> datetime:
    """A whole hour inside the commits' span, so a fromDate filter keeps some and drops some."""
    ordered = sorted(times.values())
    return ordered[len(ordered) // 2].replace(minute=0, second=0, microsecond=0, tzinfo=timezone.utc)


PROFILE_NAMES = tuple(PROFILES)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_node_client_replay(world: World, profile: str) -> None:
    with replaying(world, profile, node=True) as replay:
        connection = replay.send("Location", CONNECTION_DATA, "7.1-preview.1", {},
                                 node_query(connectOptions="0", lastChangeId="-1", lastChangeId64="-1"))
        assert connection["authenticatedUser"]["id"]
        projects = replay.send("core", PROJECTS, "7.1-preview.4", {}, node_query(stateFilter="1"))
        assert {p["id"] for p in projects["value"]} == {p.id for p in world.projects}
        project = world.projects[0]
        repos = replay.send("git", REPOSITORIES, "7.1-preview.1", {"project": project.name})
        assert {r["id"] for r in repos["value"]} == {r.id for r in world.project_repositories(project.id)}
        repo = world.project_repositories(project.id)[0]
        route = {"project": project.id, "repositoryId": repo.id}

        # commits: numeric versionType, RFC 1123 fromDate
        times = commit_times(replay, "7.1-preview.1", route)
        since = pivot(times)
        expected = sorted(i for i, t in times.items() if t >= since)
        assert 0 < len(expected) < len(times)
        query = node_query(**{"searchCriteria.fromDate": utc_string(since), "searchCriteria.itemVersion.version": "main",
                              "searchCriteria.itemVersion.versionType": "0"})
        assert sorted(all_commits(replay, "7.1-preview.1", route, query)) == expected
        by_name = node_query(**{"searchCriteria.itemVersion.version": "main", "searchCriteria.itemVersion.versionType": "branch"})
        by_number = node_query(**{"searchCriteria.itemVersion.version": "main", "searchCriteria.itemVersion.versionType": "0"})
        assert all_commits(replay, "7.1-preview.1", route, by_number) == all_commits(replay, "7.1-preview.1", route, by_name)

        # pull requests: status as a number (4 = all)
        prs = replay.send("git", PULL_REQUESTS, "7.1-preview.1", {"project": project.id},
                          node_query(**{"searchCriteria.status": "4", "$top": "1000"}))
        named = replay.send("git", PULL_REQUESTS, "7.1-preview.1", {"project": project.id},
                            node_query(**{"searchCriteria.status": "all", "$top": "1000"}))
        assert prs["count"] > 0 and [p["pullRequestId"] for p in prs["value"]] == [p["pullRequestId"] for p in named["value"]]
        completed = replay.send("git", PULL_REQUESTS, "7.1-preview.1", {"project": project.id},
                                node_query(**{"searchCriteria.status": "3", "$top": "1000"}))
        assert {p["status"] for p in completed["value"]} <= {"completed"}

        # builds: statusFilter / queryOrder as numbers, minTime as RFC 1123
        builds = replay.send("build", BUILDS, "7.1-preview.7", {"project": project.id},
                             node_query(statusFilter="2", queryOrder="4", minTime=utc_string(datetime(2024, 1, 1, tzinfo=timezone.utc))))
        named = replay.send("build", BUILDS, "7.1-preview.7", {"project": project.id},
                            node_query(statusFilter="completed", queryOrder="queueTimeDescending", minTime="2024-01-01T00:00:00Z"))
        assert builds["count"] > 0 and [b["id"] for b in builds["value"]] == [b["id"] for b in named["value"]]
        assert {b["status"] for b in builds["value"]} == {"completed"}

        # work items: $expand as a number (1 = relations)
        items = replay.send("wit", WORK_ITEMS, "7.1-preview.3", {"project": project.id}, node_query(ids="1,2,3", **{"$expand": "1"}))
        named = replay.send("wit", WORK_ITEMS, "7.1-preview.3", {"project": project.id},
                            node_query(ids="1,2,3", **{"$expand": "relations"}))
        assert items["count"] == 3 and items == named

        # reporting revisions: startDateTime as RFC 1123
        start = datetime(2024, 1, 2, tzinfo=timezone.utc)
        rfc = replay.send("wit", REVISIONS, "7.1-preview.2", {"project": project.id}, node_query(startDateTime=utc_string(start)))
        iso = replay.send("wit", REVISIONS, "7.1-preview.2", {"project": project.id}, node_query(startDateTime="2024-01-02T00:00:00Z"))
        assert rfc["values"] == iso["values"]


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_python_client_replay_commits_by_date_in_every_form(world: World, profile: str) -> None:
    with replaying(world, profile, node=False) as replay:
        projects = replay.send("core", PROJECTS, "7.0", {})
        assert projects["count"] == len(world.projects)
        project = world.projects[0]
        repo = world.project_repositories(project.id)[0]
        route = {"project": project.name, "repositoryId": repo.id}
        times = commit_times(replay, "7.0", route)
        since = pivot(times)
        midnight = since.replace(hour=0)
        for moment in (since, midnight):
            expected = sorted(i for i, t in times.items() if t >= moment)
            assert expected, moment
            for form in date_forms(moment):
                found = all_commits(replay, "7.0", route, "searchCriteria.fromDate=" + quote(form, safe=""))
                assert sorted(found) == expected, (profile, form)
        prs = replay.send("git", PULL_REQUESTS, "7.0", {"project": project.id}, "searchCriteria.status=all&$top=1000")
        assert prs["count"] > 0


def test_issue_examples_parse_at_any_hour(world: World) -> None:
    """The third-party agent's dates: ``00:00:00 AM`` and ``14:00:00 PM`` are read, not refused."""
    with replaying(world, "2022", node=False) as replay:
        repo = world.project_repositories(world.projects[0].id)[0]
        route = {"project": world.projects[0].id, "repositoryId": repo.id}
        everything = all_commits(replay, "7.0", route, "")
        for form in ("01/01/2000 00:00:00 AM", "6/14/2018 12:00:00 AM", "01/01/2000 14:00:00 PM"):
            assert all_commits(replay, "7.0", route, "searchCriteria.fromDate=" + quote(form, safe="")) == everything
        late = all_commits(replay, "7.0", route, "searchCriteria.fromDate=" + quote("11/04/2099 14:00:00 PM", safe=""))
        assert late == []

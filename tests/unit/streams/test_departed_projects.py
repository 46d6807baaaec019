"""A project gone from the server (satellite/sync/departed.py): which projects are departed, and the
deletes each project-scope unit under one delivers, against recorded answers."""

from __future__ import annotations

import httpx

from satellite.ado.client import AdoClient, CollectionTarget
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from satellite.streams import PullRequestsStream, ReleasesStream, RepositoriesStream
from satellite.streams.cursors import SnapshotHashes
from satellite.sync.departed import DepartedProject, departed_projects
from tests.unit.streams.harness import (
    COLLECTION_ID,
    COLLECTION_URL,
    PAT,
    Reply,
    Server,
    gone,
    run_stream,
)
from tests.unit.streams.parents import PROJECT, PROJECT_ID

R1, R2 = "0a1b2c3d-0000-4000-8000-000000000001", "0a1b2c3d-0000-4000-8000-000000000002"
GONE_PROJECT = {"id": PROJECT_ID}


def test_only_a_project_held_not_listed_and_404_alone_is_departed():
    kept, gone_id, listed = "11111111-0000-4000-8000-000000000001", "11111111-0000-4000-8000-000000000002", PROJECT_ID
    server = (Server("7.0").get(f"_apis/projects/{gone_id}", gone("project", gone_id))
              .get(f"_apis/projects/{kept}", Reply({"id": kept, "name": "renamed out of the scope"})))
    client = AdoClient(CollectionTarget(COLLECTION_URL, "DefaultCollection"), Secret(PAT),
                       retry=RetryPolicy(max_attempts=1, initial_wait=0.0, max_wait=0.0),
                       transport=httpx.MockTransport(server.handle))
    with client:
        assert departed_projects(client, {kept, gone_id, listed}, {listed}) == [gone_id]
        assert departed_projects(client, {listed}, {listed}) == []
    assert [r.path for r in server.requests if "_apis/projects/" in r.path and listed in r.path] == []


def test_a_snapshot_unit_deletes_every_key_it_held_but_a_repository_moved_away():
    server = (Server("7.0").get(f"_apis/git/repositories/{R1}", gone("repository", R1))
              .get(f"_apis/git/repositories/{R2}", Reply({"id": R2, "project": {"id": "elsewhere"}})))
    cursor = SnapshotHashes({R1: "a", R2: "b"}).encode()
    run = run_stream(DepartedProject(RepositoriesStream(), lambda t: set()), server, parent=GONE_PROJECT, cursor=cursor)
    assert run.keys(op="delete") == [R1]
    assert SnapshotHashes.from_text(run.checkpoint).hashes == {}


def test_an_incremental_unit_deletes_its_live_keys_confirmed_gone():
    live = {"git.pull_request": {f"{R1}:1", f"{R2}:2"}}
    server = (Server("7.0").get(f"_apis/git/repositories/{R1}/pullrequests/1", gone("repository", R1))
              .get(f"_apis/git/repositories/{R2}/pullrequests/2", Reply({"pullRequestId": 2})))  # moved with its repository
    run = run_stream(DepartedProject(PullRequestsStream(), lambda t: live.get(t, set())), server, parent=PROJECT)
    assert run.keys(op="delete") == [f"{R1}:1"]
    assert not run.checkpoints  # the cursor is left as it was


def test_release_deployments_held_only_for_this_go_with_their_project():
    live = {"release.release": {f"{COLLECTION_ID}:7"}, "release.deployment": {f"{COLLECTION_ID}:70", f"{COLLECTION_ID}:71"}}
    server = Server("7.0").get(f"{PROJECT_ID}/_apis/release/releases/7", gone("project", PROJECT_ID))
    run = run_stream(DepartedProject(ReleasesStream(), lambda t: live.get(t, set())), server, parent=PROJECT)
    assert run.keys("release.release", op="delete") == [f"{COLLECTION_ID}:7"]
    assert run.keys("release.deployment", op="delete") == [f"{COLLECTION_ID}:70", f"{COLLECTION_ID}:71"]


def test_a_failing_confirmation_deletes_nothing():
    live = {"git.pull_request": {f"{R1}:1"}}
    server = Server("7.0").get(f"_apis/git/repositories/{R1}/pullrequests/1", Reply({"message": "boom"}, status=500))
    run = run_stream(DepartedProject(PullRequestsStream(), lambda t: live.get(t, set())), server, parent=PROJECT,
                     expect=Exception)
    assert run.error is not None and run.keys(op="delete") == []

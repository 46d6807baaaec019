"""Records carry the server's own JSON: for each record type with a single-item route, the stored
data agrees with what that route answers on every field both have (lists and single GETs may
differ in which fields they include, never in their values)."""

from __future__ import annotations

import base64

import httpx
import pytest

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import generate_world
from satellite.streams.base import trim
from satellite.sync.once import sync_once

from tests.support import PAT, start_simulator, write_config

pytestmark = pytest.mark.integration


def _repo_path(data: dict) -> str:
    return f"{data['repository']['project']['id']}/_apis/git/repositories/{data['repository']['id']}"


# record type -> (key, data) -> path of the single-item route, relative to the collection
SINGLE_ROUTES = {
    "core.project": lambda k, d: f"_apis/projects/{d['id']}",
    "core.team": lambda k, d: f"_apis/projects/{d['projectId']}/teams/{d['id']}",
    "git.repository": lambda k, d: f"{d['project']['id']}/_apis/git/repositories/{d['id']}",
    "git.commit": lambda k, d: f"_apis/git/repositories/{k.split(':')[0]}/commits/{d['commitId']}",
    "git.push": lambda k, d: f"_apis/git/repositories/{k.split(':')[0]}/pushes/{d['pushId']}",
    "git.pull_request": lambda k, d: f"{_repo_path(d)}/pullrequests/{d['pullRequestId']}",
    "tfvc.changeset": lambda k, d: f"_apis/tfvc/changesets/{d['changesetId']}",
    "tfvc.label": lambda k, d: f"_apis/tfvc/labels/{d['id']}",
    "build.definition": lambda k, d: f"{d['project']['id']}/_apis/build/definitions/{d['id']}",
    "build.build": lambda k, d: f"{d['project']['id']}/_apis/build/builds/{d['id']}",
    "release.definition": lambda k, d: f"{d['projectReference']['id']}/_apis/release/definitions/{d['id']}",
    "release.release": lambda k, d: f"{d['projectReference']['id']}/_apis/release/releases/{d['id']}",
    "wit.field": lambda k, d: f"_apis/wit/fields/{d['referenceName']}",
    "wit.work_item": lambda k, d: f"_apis/wit/workitems/{d['id']}?$expand=all",
}


@pytest.mark.parametrize("profile", ["2019", "2020", "2022"])
def test_stored_records_agree_with_the_servers_single_item_routes(tmp_path, receiver, key_files, env, profile):
    world = generate_world(seed=5, scale="tiny")
    version = PROFILES[profile].max_version
    with start_simulator(world, profile) as simulator:
        collection = simulator.collection_url
        config = load_config(write_config(tmp_path, ado_url=collection, endpoint=receiver.url, key_files=key_files), env=env)
        assert sync_once(config, ado_retry=RetryPolicy(max_attempts=2, initial_wait=0.01)).ok
        auth = {"Authorization": "Basic " + base64.b64encode(f":{PAT}".encode()).decode(), "X-TFS-FedAuthRedirect": "Suppress"}
        with httpx.Client(base_url=collection + "/", headers=auth) as http:
            checked = {}
            for record_type, path_of in SINGLE_ROUTES.items():
                records = receiver.get("/v1/satellite/records", type=record_type, data="1")["records"]
                live = [r for r in records if r["op"] == "upsert"]
                assert live, record_type
                for record in live[:3]:
                    path = path_of(record["key"], record["data"])
                    separator = "&" if "?" in path else "?"
                    served = trim(http.get(f"{path}{separator}api-version={version}").raise_for_status().json())
                    if record_type == "wit.work_item":  # the record is the latest reporting revision
                        stored, served = record["data"]["fields"], served["fields"]
                        common = {"System.Id", "System.Rev", "System.State", "System.Title", "System.ChangedDate"}
                    else:
                        stored = record["data"]
                        common = (set(stored) & set(served)) - {"url"}
                        if stored.get("commentTruncated"):  # lists shorten long messages; single GETs do not
                            assert served["comment"].startswith(stored["comment"])
                            common.discard("comment")
                    assert len(common) >= 3, (record_type, sorted(common))
                    mismatched = sorted(f for f in common if stored[f] != served[f])
                    assert not mismatched, (record_type, record["key"], mismatched)
                    checked[record_type] = checked.get(record_type, 0) + 1
    assert set(checked) == set(SINGLE_ROUTES)

"""Pull requests, pushes and refs over real HTTP: every list walks to exactly the truth, bodies agree
with the git history, fields and paging follow the server profile, and ``advance`` changes the
routes the way the truth says (new, worked-on, completed and abandoned pull requests, deleted
branches, new tags)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import httpx
import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.semantics import as_asked
from standins.ado_simulator.world.world import World, generate_world

pytestmark = pytest.mark.integration

PAT = "sim-pat"
TOKEN = "x-ms-continuationtoken"
OUR_TYPES = ("git.pull_request", "git.pull_request_reviewer", "git.pull_request_thread", "git.pull_request_iteration",
             "git.pull_request_work_item", "git.push", "git.ref")


@contextmanager
def running(world: World, profile: str = "2022") -> Iterator[httpx.Client]:
    with serve_in_thread(create_app(world, profile, semantics=as_asked(world.semantics))) as server:
        with httpx.Client(base_url=server.url + "/tfs/DefaultCollection", auth=("", PAT), timeout=30,
                          headers={"X-TFS-FedAuthRedirect": "Suppress"}) as client:
            yield client


@pytest.fixture(scope="module")
def small() -> Iterator[tuple[World, httpx.Client]]:
    world = generate_world(7, "small")
    with running(world) as client:
        yield world, client


def get(client: httpx.Client, path: str, version: str = "7.0", **params) -> httpx.Response:
    return client.get(path, params={"api-version": version, **params})


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def items(client: httpx.Client, path: str, version: str = "7.0", **params) -> list[dict]:
    body = ok(get(client, path, version, **params))
    assert body["count"] == len(body["value"])
    return body["value"]


def walk_skip(client: httpx.Client, path: str, top: int, **params) -> list[dict]:
    found, skip = [], 0
    while True:
        page = items(client, path, **{"$top": top, "$skip": skip}, **params)
        found += page
        if len(page) < top:
            return found
        skip += top


def walk_token(client: httpx.Client, path: str, top: int, **params) -> list[dict]:
    found, token, seen = [], None, set()
    while True:
        extra = {"continuationToken": token} if token else {}
        response = get(client, path, **{"$top": top}, **extra, **params)
        body = ok(response)
        assert len(body["value"]) <= top
        found += body["value"]
        token = response.headers.get(TOKEN)
        if not token:
            return found
        assert token not in seen
        seen.add(token)


def repo_path(world: World, repository_id: str) -> str:
    repo = world.repository(repository_id)
    return f"/{repo.project_id}/_apis/git/repositories/{repo.id}"


def pr_path(world: World, pr: dict) -> str:
    return f"{repo_path(world, pr['repository']['id'])}/pullRequests/{pr['pullRequestId']}"


def all_pull_requests(world: World, client: httpx.Client, top: int = 7) -> list[dict]:
    found = []
    for project in world.projects:
        page = walk_skip(client, f"/{project.name}/_apis/git/pullrequests", top, **{"searchCriteria.status": "all"})
        ids = [pr["pullRequestId"] for pr in page]
        assert ids == sorted(set(ids), reverse=True), "each pull request once, newest first"
        found += page
    return found


def collected(world: World, client: httpx.Client) -> dict[str, list[str]]:
    """Our record types, read only through the routes."""
    keys: dict[str, list[str]] = {t: [] for t in OUR_TYPES}
    for pr in all_pull_requests(world, client):
        prefix = f"{pr['repository']['id']}:{pr['pullRequestId']}"
        path = pr_path(world, pr)
        keys["git.pull_request"].append(prefix)
        keys["git.pull_request_reviewer"] += [f"{prefix}:{r['id']}" for r in items(client, f"{path}/reviewers")]
        keys["git.pull_request_thread"] += [f"{prefix}:{t['id']}" for t in items(client, f"{path}/threads")]
        keys["git.pull_request_iteration"] += [f"{prefix}:{i['id']}" for i in items(client, f"{path}/iterations")]
        keys["git.pull_request_work_item"] += [f"{prefix}:{w['id']}" for w in items(client, f"{path}/workitems")]
    for repo in world.repositories:
        pushes = walk_skip(client, f"{repo_path(world, repo.id)}/pushes", 50)
        numbers = [p["pushId"] for p in pushes]
        assert numbers == list(range(len(numbers), 0, -1))
        keys["git.push"] += [f"{repo.id}:{n}" for n in numbers]
        refs = walk_token(client, f"{repo_path(world, repo.id)}/refs", 3)
        names = [r["name"] for r in refs]
        assert names == sorted(set(names))
        keys["git.ref"] += [f"{repo.id}:{name}" for name in names]
    return {t: sorted(k) for t, k in keys.items()}


def ours(world: World) -> dict[str, list[str]]:
    return {t: k for t, k in world.truth().items() if t in OUR_TYPES}


# -- the ground truth ---------------------------------------------------------------------------


def test_every_list_walks_to_exactly_the_truth(small):
    world, client = small
    truth = ours(world)
    assert collected(world, client) == truth
    assert len(truth["git.pull_request"]) == 150  # AREA_SCALES["small"].pull_requests
    assert all(truth[t] for t in OUR_TYPES)
    assert any(k.split(":", 1)[1].startswith("refs/tags/") for k in truth["git.ref"])


def test_pull_requests_agree_with_the_git_history(small):
    world, client = small
    prs = all_pull_requests(world, client, top=100)
    assert {pr["status"] for pr in prs} == {"active", "completed", "abandoned"}
    ids = sorted(pr["pullRequestId"] for pr in prs)
    assert ids == list(range(1, len(ids) + 1))
    created = [pr["creationDate"] for pr in sorted(prs, key=lambda p: p["pullRequestId"])]
    assert created == sorted(created), "ids follow creation time across the collection"
    completed = next(pr for pr in prs if pr["status"] == "completed")
    path, base = pr_path(world, completed), repo_path(world, completed["repository"]["id"])
    one = ok(get(client, path, includeCommits="true", includeWorkItemRefs="true"))
    merge = one["lastMergeCommit"]
    assert merge["comment"].startswith(f"Merged PR {one['pullRequestId']}: {one['title']}")
    commit = ok(get(client, f"{base}/commits/{merge['commitId']}"))
    assert commit["parents"] == [one["lastMergeTargetCommit"]["commitId"], one["lastMergeSourceCommit"]["commitId"]]
    on_main = {c["commitId"] for c in walk_skip(client, f"{base}/commits", 100, **{"searchCriteria.itemVersion.version": "main"})}
    assert merge["commitId"] in on_main
    assert {"closedDate", "closedBy", "completionQueueTime", "completionOptions", "artifactId", "_links"} <= set(one)
    assert one["mergeStatus"] == "succeeded" and one["completionOptions"]["mergeCommitMessage"] == merge["comment"]
    between = walk_skip(client, f"{base}/commits", 100, **{
        "searchCriteria.itemVersion.version": one["lastMergeSourceCommit"]["commitId"],
        "searchCriteria.itemVersion.versionType": "commit",
        "searchCriteria.compareVersion.version": one["lastMergeTargetCommit"]["commitId"],
        "searchCriteria.compareVersion.versionType": "commit",
    })
    assert [c["commitId"] for c in one["commits"]] == [c["commitId"] for c in between]
    assert [c["commitId"] for c in items(client, f"{path}/commits")] == [c["commitId"] for c in between]
    assert one["workItemRefs"] == items(client, f"{path}/workitems")
    iterations = items(client, f"{path}/iterations", includeCommits="true")
    assert iterations[0]["reason"] == "create" and all(i["reason"] == "push" for i in iterations[1:])
    assert iterations[-1]["sourceRefCommit"]["commitId"] == one["lastMergeSourceCommit"]["commitId"]
    assert [i["id"] for i in iterations] == list(range(1, len(iterations) + 1))
    assert ok(get(client, f"{path}/iterations/1")) == {k: v for k, v in iterations[0].items() if k != "commits"}
    active = next(pr for pr in prs if pr["status"] == "active")
    heads = {r["name"]: r["objectId"] for r in items(client, f"{repo_path(world, active['repository']['id'])}/refs")}
    assert active["lastMergeSourceCommit"]["commitId"] == heads[active["sourceRefName"]]
    assert active["lastMergeTargetCommit"]["commitId"] == heads["refs/heads/main"]
    assert "closedDate" not in active and "closedBy" not in active
    by_id = ok(get(client, f"/_apis/git/pullrequests/{active['pullRequestId']}"))
    assert by_id["pullRequestId"] == active["pullRequestId"] and by_id["status"] == "active"


def test_threads_comments_and_reviewers(small):
    world, client = small
    prs = all_pull_requests(world, client, top=100)
    pr = max(prs, key=lambda p: len(items(client, f"{pr_path(world, p)}/threads")))
    path = pr_path(world, pr)
    body = ok(get(client, f"{path}/threads"))
    assert set(body) == {"count", "value"} and body["count"] == len(body["value"]) > 1
    threads = body["value"]
    assert [t["id"] for t in threads] == sorted(t["id"] for t in threads)
    for thread in threads:
        comments = items(client, f"{path}/threads/{thread['id']}/comments")
        assert comments == thread["comments"] and [c["id"] for c in comments] == list(range(1, len(comments) + 1))
        assert thread["lastUpdatedDate"] == comments[-1]["publishedDate"]
        assert ok(get(client, f"{path}/threads/{thread['id']}")) == thread
        assert ok(get(client, f"{path}/threads/{thread['id']}/comments/1")) == comments[0]
        if thread["threadContext"]:  # a comment on a line of code
            assert thread["threadContext"]["filePath"].startswith("/") and thread["status"]
    reviewers = items(client, f"{path}/reviewers")
    assert reviewers == pr["reviewers"]
    assert all(r["vote"] in (10, 5, 0, -5, -10) for r in reviewers)
    assert ok(get(client, f"{path}/reviewers/{reviewers[0]['id']}")) == reviewers[0]


def test_status_and_search_criteria(small):
    world, client = small
    project = max(world.projects, key=lambda p: len(world.project_repositories(p.id)))
    path = f"/{project.name}/_apis/git/pullrequests"
    everything = items(client, path, **{"searchCriteria.status": "all", "$top": 1000})
    assert {p["status"] for p in items(client, path)} == {"active"}  # the default
    for status in ("active", "completed", "abandoned"):
        chosen = items(client, path, **{"searchCriteria.status": status, "$top": 1000})
        assert chosen == [p for p in everything if p["status"] == status]
    assert items(client, path, **{"searchCriteria.status": "notSet"}) == items(client, path)
    bad = get(client, path, **{"searchCriteria.status": "merged"})
    assert bad.status_code == 400 and bad.json()["typeKey"] == "ArgumentException"
    sample = everything[len(everything) // 2]
    criteria = {
        "searchCriteria.creatorId": (sample["createdBy"]["id"], lambda p: p["createdBy"]["id"] == sample["createdBy"]["id"]),
        "searchCriteria.reviewerId": (sample["reviewers"][0]["id"],
                                      lambda p: sample["reviewers"][0]["id"] in {r["id"] for r in p["reviewers"]}),
        "searchCriteria.sourceRefName": (sample["sourceRefName"], lambda p: p["sourceRefName"] == sample["sourceRefName"]),
        "searchCriteria.repositoryId": (sample["repository"]["id"], lambda p: p["repository"]["id"] == sample["repository"]["id"]),
    }
    for name, (value, keep) in criteria.items():
        chosen = items(client, path, **{"searchCriteria.status": "all", "$top": 1000, name: value})
        assert chosen == [p for p in everything if keep(p)] and sample in chosen, name
    assert items(client, path, **{"searchCriteria.status": "all", "searchCriteria.targetRefName": "refs/heads/dev"}) == []
    repo_list = items(client, f"{repo_path(world, sample['repository']['id'])}/pullrequests",
                      **{"searchCriteria.status": "all", "$top": 1000})
    assert repo_list == [p for p in everything if p["repository"]["id"] == sample["repository"]["id"]]


def test_default_page_is_101_and_top_is_capped_at_1000():
    world = generate_world(7, "medium")
    with running(world) as client:
        project = world.projects[0]
        path = f"/{project.id}/_apis/git/pullrequests"
        first = items(client, path, **{"searchCriteria.status": "all"})
        everything = walk_skip(client, path, 1000, **{"searchCriteria.status": "all"})
        assert len(first) == 101 and first == everything[:101]
        assert len(everything) > 101
        assert len(items(client, path, **{"searchCriteria.status": "all", "$top": 5000})) == min(1000, len(everything))


# -- profiles -------------------------------------------------------------------------------------


def test_fields_and_paging_follow_the_profile():
    world = generate_world(7, "small")
    for profile, version in (("2019", "5.0"), ("2020", "6.0"), ("2022", "7.0"), ("7.1", "7.1")):
        with running(world, profile) as client:
            project = world.projects[1]
            path = f"/{project.id}/_apis/git/pullrequests"
            everything = items(client, path, version, **{"searchCriteria.status": "all", "$top": 1000})
            completed = next(p for p in everything if p["status"] == "completed")
            reviewer = completed["reviewers"][0]
            assert ({"hasDeclined", "isFlagged"} <= set(reviewer)) == (version != "5.0")
            assert ("mergeStrategy" in completed["completionOptions"]) == (version != "5.0")
            assert "isDraft" in completed
            longest = max(everything, key=lambda p: len(items(client, f"{pr_path(world, p)}/commits", version)))
            commits_path = f"{pr_path(world, longest)}/commits"
            unpaged = items(client, commits_path, version)
            assert len(unpaged) > 2
            first = get(client, commits_path, version, **{"$top": 2})
            if version == "5.0":  # no paging parameters on 2019: everything, no token
                assert len(first.json()["value"]) == len(unpaged) and TOKEN not in first.headers
            else:
                assert len(first.json()["value"]) == 2 and first.headers[TOKEN]
                assert walk_token(client, commits_path, 2, **{"api-version": version}) == unpaged
            middle = sorted(p["creationDate"] for p in everything)[len(everything) // 2]
            recent = items(client, path, version, **{"searchCriteria.status": "all", "$top": 1000,
                                                     "searchCriteria.minTime": middle})
            if version == "7.1":
                assert recent == [p for p in everything if p["creationDate"] >= middle] and len(recent) < len(everything)
                closed = items(client, path, version, **{"searchCriteria.status": "all", "$top": 1000,
                                                         "searchCriteria.minTime": middle,
                                                         "searchCriteria.queryTimeRangeType": "closed"})
                assert closed and all(p.get("closedDate", "") >= middle for p in closed)
            else:  # the date filters do not exist before 7.1: ignored, as servers ignore unknown parameters
                assert recent == everything


# -- refs, tags, pushes -------------------------------------------------------------------------------


def test_tags_are_refs_and_peel_to_commits(small):
    world, client = small
    repo = next(r for r in world.repositories if len(items(client, f"{repo_path(world, r.id)}/refs", filter="tags/")) > 1)
    base = repo_path(world, repo.id)
    tags = items(client, f"{base}/refs", filter="tags/")
    assert all(t["name"].startswith("refs/tags/v") and "peeledObjectId" not in t for t in tags)
    peeled = items(client, f"{base}/refs", filter="tags/", peelTags="true")
    assert [t["name"] for t in peeled] == [t["name"] for t in tags]
    for tag in peeled:
        target = tag.get("peeledObjectId", tag["objectId"])  # lightweight tags name the commit itself
        version = tag["name"][len("refs/tags/"):]
        listed = items(client, f"{base}/commits", **{"searchCriteria.itemVersion.version": version,
                                                     "searchCriteria.itemVersion.versionType": "tag", "$top": 1})
        assert listed[0]["commitId"] == target
    heads = items(client, f"{base}/refs", filter="heads/")
    assert items(client, f"{base}/refs") == heads + tags


def test_push_search_criteria(small):
    world, client = small
    repo = world.repositories[0]
    path = f"{repo_path(world, repo.id)}/pushes"
    everything = walk_skip(client, path, 1000, **{"searchCriteria.includeRefUpdates": "true"})
    assert all(p["refUpdates"] for p in everything) and "refUpdates" not in items(client, path, **{"$top": 1})[0]
    on_main = items(client, path, **{"searchCriteria.refName": "refs/heads/main", "$top": 1000,
                                     "searchCriteria.includeRefUpdates": "true"})
    assert on_main == [p for p in everything if any(u["name"] == "refs/heads/main" for u in p["refUpdates"])]
    pusher = everything[0]["pushedBy"]["id"]
    by_pusher = items(client, path, **{"searchCriteria.pusherId": pusher, "$top": 1000,
                                       "searchCriteria.includeRefUpdates": "true"})
    assert by_pusher == [p for p in everything if p["pushedBy"]["id"] == pusher]
    dates = sorted(p["date"] for p in everything)
    low, high = dates[len(dates) // 4][:19] + "Z", dates[len(dates) // 2][:19] + "Z"
    window = items(client, path, **{"searchCriteria.fromDate": low, "searchCriteria.toDate": high, "$top": 1000,
                                    "searchCriteria.includeRefUpdates": "true"})
    assert window == [p for p in everything if low <= p["date"][:19] + "Z" <= high] and window


# -- activity ---------------------------------------------------------------------------------------


def test_advance_moves_the_routes_as_the_truth_says():
    world = generate_world(7, "small")
    with running(world) as client:
        before = collected(world, client)
        states = {f"{p['repository']['id']}:{p['pullRequestId']}": p for p in all_pull_requests(world, client, top=100)}
        open_threads = {k: items(client, f"{pr_path(world, p)}/threads") for k, p in states.items() if p["status"] == "active"}
        counts = world.advance(72)
        after = collected(world, client)
        assert after == ours(world)
        assert counts["pull_requests"] > 0 and counts["completed"] > 0 and counts["deleted_branches"] > 0
        assert len(after["git.pull_request"]) == len(before["git.pull_request"]) + counts["pull_requests"]
        assert len(after["git.push"]) == len(before["git.push"]) + counts["pushes"]
        assert len(set(after["git.pull_request_thread"]) - set(before["git.pull_request_thread"])) == counts["threads"]
        new_iterations = set(after["git.pull_request_iteration"]) - set(before["git.pull_request_iteration"])
        assert any(not key.endswith(":1") for key in new_iterations), "open pull requests got pushes"
        replied = 0
        for key, threads in open_threads.items():  # what was said stays as it was; threads and replies only add
            now = {t["id"]: t for t in items(client, f"{pr_path(world, states[key])}/threads")}
            for thread in threads:
                assert now[thread["id"]]["comments"][: len(thread["comments"])] == thread["comments"]
                replied += len(now[thread["id"]]["comments"]) - len(thread["comments"])
        assert replied > 0
        gone = set(before["git.ref"]) - set(after["git.ref"])
        deletions, old_pushes = 0, set(before["git.push"])
        for repo in world.repositories:
            pushes = items(client, f"{repo_path(world, repo.id)}/pushes", **{"$top": 1000, "searchCriteria.includeRefUpdates": "true"})
            new = [p for p in pushes if f"{repo.id}:{p['pushId']}" not in old_pushes]
            deletions += sum(u["newObjectId"] == "0" * 40 for p in new for u in p["refUpdates"])
        assert deletions == counts["deleted_branches"] >= len(gone) > 0  # some branches were made and deleted meanwhile
        newer = {f"{p['repository']['id']}:{p['pullRequestId']}": p for p in all_pull_requests(world, client, top=100)}
        closed_now = [k for k, p in newer.items() if k in states and states[k]["status"] == "active" and p["status"] != "active"]
        assert len(closed_now) == counts["completed"] + counts["abandoned"] - sum(
            1 for k, p in newer.items() if k not in states and p["status"] != "active")
        for key in gone:  # a deleted branch belonged to a completed pull request that asked for it
            repo_id, name = key.split(":", 1)
            owner = [p for p in newer.values() if p["repository"]["id"] == repo_id and p["sourceRefName"] == name
                     and p["status"] == "completed" and p["completionOptions"]["deleteSourceBranch"]]
            assert owner, key
            pushes = items(client, f"{repo_path(world, repo_id)}/pushes", **{"searchCriteria.refName": name,
                                                                            "searchCriteria.includeRefUpdates": "true"})
            assert pushes[0]["refUpdates"][0]["newObjectId"] == "0" * 40


def test_errors_and_locations(small):
    world, client = small
    prs = all_pull_requests(world, client, top=100)
    pr = prs[0]
    other = next(r for r in world.repositories if r.id != pr["repository"]["id"])
    wrong_repo = get(client, f"{repo_path(world, other.id)}/pullRequests/{pr['pullRequestId']}")
    assert wrong_repo.status_code == 404 and wrong_repo.json()["message"].startswith("TF401180")
    assert get(client, "/_apis/git/pullrequests/999999").status_code == 404
    wrong_project = next(p for p in world.projects if p.id != world.repository(pr["repository"]["id"]).project_id)
    assert get(client, f"/{wrong_project.id}/_apis/git/pullrequests/{pr['pullRequestId']}").status_code == 404
    assert get(client, f"{pr_path(world, pr)}/threads/999999").status_code == 404
    assert get(client, f"{pr_path(world, pr)}/iterations/99").status_code == 404
    missing = get(client, "/_apis/git/pullrequests")  # needs a project
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    denied = client.get(f"/_apis/git/pullrequests/{pr['pullRequestId']}", params={"api-version": "7.0"},
                        auth=("", "nope"))
    assert denied.status_code == 401
    locations = {loc["id"]: loc for loc in ok(client.request("OPTIONS", "/_apis"))["value"]}
    for location_id in ("9946fd70-0d40-406e-b686-b4744cbbcc37", "a5d28130-9cd2-40fa-9f08-902e7daa9efb",
                        "01a46dea-7d46-4d40-bc84-319e7c260d99", "4b6702c7-aa35-4b89-9c96-b9abf6d3e540",
                        "ab6e2e5d-a0b7-4153-b64a-a4efe0d49449", "965a3ec7-5ed8-455a-bdcb-835a5ea7fe7b",
                        "d43911ee-6958-46b0-a42b-8445b8a0d004", "52823034-34a8-4576-922c-8d8b77e9e4c4",
                        "0a637fcc-5370-4ce8-b0e8-98091f5f9482"):
        assert locations[location_id]["area"] == "git"

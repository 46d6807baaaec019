"""Git streams as units against recorded answers: repositories, refs, pushes, commits, pull requests."""

from __future__ import annotations

import copy
import hashlib

import pytest

from satellite.errors import AdoNotFoundError, AdoResponseError
from satellite.streams import CommitsStream, PullRequestsStream, PushesStream, RefsStream, RepositoriesStream
from tests.unit.streams.harness import MALFORMED, Reply, Request, Server, gone, offset_pages, recorded, run_stream, token_pages
from tests.unit.streams.parents import PROJECT, PROJECT_ID, REPOSITORY, REPOSITORY_BASE, REPOSITORY_ID
from tests.unit.streams.snapshots import SnapshotCase, SnapshotContract, add_copy, changed

R = REPOSITORY_ID
REPOSITORIES = f"{PROJECT_ID}/_apis/git/repositories"
REFS = f"{REPOSITORY_BASE}/refs"
PUSHES = f"{REPOSITORY_BASE}/pushes"
COMMITS = f"{REPOSITORY_BASE}/commits"
PUSH_PARAMS = {"searchCriteria.includeRefUpdates": "true"}


def sha(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def repositories_gone_alone(case: SnapshotCase, server: Server, answer) -> Server:
    """The list, and each recorded repository answering 404 alone (a removed one is deleted)."""
    for key in case.keys:
        server.get(f"_apis/git/repositories/{key}", gone("repository", key))
    return server.get(case.route, answer, case.params)


class TestRepositoriesStream(SnapshotContract):
    case = SnapshotCase(
        stream=RepositoriesStream,
        record_type="git.repository",
        route=REPOSITORIES,
        params={"includeHidden": "true"},
        fixture="git_repositories",
        serve=repositories_gone_alone,
        parent=PROJECT,
        keys=("c6d8b5fa-7fc4-4aea-8264-394ba3633ab8", "cef09d54-1e89-4f61-b165-610d1a4c8c94"),
        add=lambda body: add_copy(body, id="3b0d2c9e-51f4-4c63-9a0e-2f6d1f0c7a11", name="proseware-docs")["id"],
        change=lambda body: changed(body["value"][1], defaultBranch="refs/heads/develop")["id"],
        remove=lambda body: body["value"].pop(0)["id"],
        drop_key=lambda body: body["value"][1].pop("id"),
        gone=gone("project"),
    )


def test_a_repository_moved_to_another_project_is_not_deleted_here():
    """Not listed any more, but there alone in another project (same id): it is delivered there."""
    case = TestRepositoriesStream.case
    body = case.answer()
    first = case.run(case.server(copy.deepcopy(body)))
    moved = body["value"].pop(0)
    server = case.server(body).get(f"_apis/git/repositories/{moved['id']}", Reply({**moved, "project": {"id": "elsewhere"}}))
    again = case.run(server, cursor=first.checkpoint)
    assert again.keys(op="delete") == []
    assert moved["id"] not in again.checkpoint  # no longer this project's: the next listing here is not compared with it


class TestRefsStream(SnapshotContract):
    case = SnapshotCase(
        stream=RefsStream,
        record_type="git.ref",
        route=REFS,
        params={"peelTags": "true"},
        fixture="git_refs",
        serve=lambda case, server, body: server.get(REFS, token_pages(body["value"]) if isinstance(body, dict) else body,
                                                    {"peelTags": "true"}),
        parent=REPOSITORY,
        keys=tuple(f"{R}:{name}" for name in ("refs/heads/bugfix/1343-search", "refs/heads/bugfix/7511-cleanup", "refs/heads/main",
                                               "refs/heads/users/irossi/refactor", "refs/tags/v1.0.0")),
        add=lambda body: f"{R}:" + add_copy(body, name="refs/heads/feature/export", objectId=sha("export"))["name"],
        change=lambda body: f"{R}:" + changed(body["value"][2], objectId=sha("main moved"))["name"],
        remove=lambda body: f"{R}:" + body["value"].pop(0)["name"],
        drop_key=lambda body: body["value"][1].pop("name"),
        gone=gone("repository", R),
    )

    def test_only_branches_and_tags_are_delivered_across_pages(self) -> None:
        body = recorded("git_refs")
        add_copy(body, name="refs/pull/5/merge", objectId=sha("merge"))
        add_copy(body, name="refs/notes/commits", objectId=sha("notes"))
        run = run_stream(RefsStream(), Server().get(REFS, token_pages(body["value"])), parent=REPOSITORY, page_sizes={"refs": 2})
        assert sorted(run.keys()) == sorted(self.case.keys)
        assert [r.params.get("continuationToken") for r in run.requests] == [None, "2", "4", "6"]


# -- pushes ----------------------------------------------------------------------------------------


def refs(**moved: str) -> list[dict]:
    """The recorded refs, with the branches named in ``moved`` (``main="..."``) at other commits."""
    values = recorded("git_refs")["value"]
    for ref in values:
        short = ref["name"].removeprefix("refs/heads/")
        if short in moved:
            ref["objectId"] = moved[short]
    return values


def pushes(*new_ids: int) -> list[dict]:
    """The recorded pushes (9, 8, 7), newest first, after pushes ``new_ids`` (newest first)."""
    recorded_pushes = recorded("git_pushes")["value"]
    template = recorded_pushes[0]
    made = [{**copy.deepcopy(template), "pushId": i, "date": f"2024-08-0{i - 9}T10:00:00.0000000Z"} for i in new_ids]
    return made + recorded_pushes


def pushes_server(values: list[dict], refs_values: list[dict] | None = None) -> Server:
    server = Server().get(PUSHES, offset_pages(values), PUSH_PARAMS)
    return server.get(REFS, token_pages(refs_values if refs_values is not None else refs()), {"peelTags": "true"})


class TestPushesStream:
    def first(self):
        return run_stream(PushesStream(), pushes_server(pushes()), parent=REPOSITORY, listed={RefsStream: refs()})

    def test_first_run_sends_every_push_and_checkpoints(self) -> None:
        run = self.first()
        assert run.keys() == [f"{R}:9", f"{R}:8", f"{R}:7"]
        assert {(r.type, r.op) for r in run.records} == {("git.push", "upsert")}
        assert run.record(f"{R}:9").data["refUpdates"][0]["name"] == "refs/heads/main"
        assert run.checkpoint is not None
        assert run.paths() == [PUSHES, PUSHES]  # the refs came from the refs stream of the same run; the cap is
        # unknown, so a short page is followed by one more (empty) page
        assert run.requests[0].params["searchCriteria.includeRefUpdates"] == "true"

    def test_a_server_capping_pages_below_the_top_asked_loses_no_push(self) -> None:
        capped = lambda request: offset_pages(pushes())(request._replace(params={**request.params, "$top": "2"}))  # noqa: E731
        run = run_stream(PushesStream(), Server().get(PUSHES, capped, PUSH_PARAMS), parent=REPOSITORY, listed={RefsStream: refs()})
        assert run.keys() == [f"{R}:9", f"{R}:8", f"{R}:7"]

    def test_without_listed_refs_it_lists_them_itself(self) -> None:
        run = run_stream(PushesStream(), pushes_server(pushes()), parent=REPOSITORY)
        assert run.paths() == [REFS, PUSHES, PUSHES]
        assert len(run.records) == 3

    def test_incremental_run_sends_only_pushes_after_the_last_one(self) -> None:
        first = self.first()
        moved = refs(main=sha("push 10"))
        run = run_stream(PushesStream(), pushes_server(pushes(10)), parent=REPOSITORY, listed={RefsStream: moved},
                         cursor=first.checkpoint)
        assert run.keys() == [f"{R}:10"]
        assert run.checkpoint is not None

    def test_newest_first_walk_stops_at_the_page_holding_the_last_delivered_push(self) -> None:
        first = self.first()
        moved = refs(main=sha("push 11"))
        run = run_stream(PushesStream(), pushes_server(pushes(11, 10)), parent=REPOSITORY, listed={RefsStream: moved},
                         cursor=first.checkpoint, page_sizes={"pushes": 2})
        assert run.keys() == [f"{R}:11", f"{R}:10"]
        assert [r.params["$skip"] for r in run.requests] == ["0", "2"]  # page [9, 8] ends the walk; [7] is never asked

    def test_a_push_committed_after_a_higher_one_was_read_is_sent_by_the_next_walk(self) -> None:
        """Push 10 began before push 11 and committed after it: the walk that read 11 did not see 10."""
        first = self.first()
        early = run_stream(PushesStream(), pushes_server(pushes(11)), parent=REPOSITORY,
                           listed={RefsStream: refs(main=sha("push 11"))}, cursor=first.checkpoint)
        assert early.keys() == [f"{R}:11"]
        run = run_stream(PushesStream(), pushes_server(pushes(11, 10)), parent=REPOSITORY,
                         listed={RefsStream: refs(**{"main": sha("push 11"), "bugfix/1343-search": sha("push 10")})}, cursor=early.checkpoint,
                         delivered={f"{R}:{i}" for i in (11, 9, 8, 7)})
        assert run.keys() == [f"{R}:10"]  # 11, met again, is known delivered
        later = run_stream(PushesStream(), pushes_server(pushes(12, 11, 10)), parent=REPOSITORY,
                           listed={RefsStream: refs(**{"main": sha("push 12"), "bugfix/1343-search": sha("push 10")})}, cursor=run.checkpoint,
                           delivered={f"{R}:{i}" for i in (11, 10, 9, 8, 7)})
        assert later.keys() == [f"{R}:12"]

    def test_nothing_new_when_refs_did_not_move_makes_no_request(self) -> None:
        first = self.first()
        run = run_stream(PushesStream(), pushes_server(pushes()), parent=REPOSITORY, listed={RefsStream: refs()},
                         cursor=first.checkpoint)
        assert run.records == () and run.requests == ()
        alone = run_stream(PushesStream(), pushes_server(pushes()), parent=REPOSITORY, cursor=first.checkpoint)
        assert alone.records == () and alone.paths() == [REFS]

    def test_refs_moved_but_no_new_push_sends_nothing(self) -> None:
        first = self.first()
        run = run_stream(PushesStream(), pushes_server(pushes()), parent=REPOSITORY,
                         listed={RefsStream: refs(main=sha("rewound"))}, cursor=first.checkpoint)
        assert run.records == ()
        assert run.paths() == [PUSHES]

    def test_a_push_stored_before_is_not_sent_again(self) -> None:
        run = run_stream(PushesStream(), pushes_server(pushes()), parent=REPOSITORY, listed={RefsStream: refs()},
                         delivered={f"{R}:8"})
        assert run.keys() == [f"{R}:9", f"{R}:7"]
        assert run.checkpoint is not None

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_pushes_answer_fails_without_checkpoint(self, kind: str) -> None:
        first = self.first()
        reply, error = MALFORMED[kind]
        server = pushes_server(pushes()).get(PUSHES, reply, PUSH_PARAMS)
        run = run_stream(PushesStream(), server, parent=REPOSITORY, listed={RefsStream: refs(main=sha("x"))},
                         cursor=first.checkpoint, expect=error)
        assert run.records == () and run.checkpoints == ()

    def test_push_without_its_id_fails_without_checkpoint(self) -> None:
        values = pushes(10)
        del values[0]["pushId"]
        run = run_stream(PushesStream(), pushes_server(values), parent=REPOSITORY, listed={RefsStream: refs()},
                         expect=AdoResponseError)
        assert run.checkpoints == ()

    @pytest.mark.parametrize("route", [REFS, PUSHES])
    def test_repository_gone_raises_not_found(self, route: str) -> None:
        first = self.first()
        server = pushes_server(pushes(10), refs(main=sha("push 10"))).get(route, gone("repository", R), 
                                                                          PUSH_PARAMS if route == PUSHES else {"peelTags": "true"})
        run = run_stream(PushesStream(), server, parent=REPOSITORY, cursor=first.checkpoint, expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()


# -- commits ---------------------------------------------------------------------------------------


class History:
    """A small git server: commits by parent, answering the commits route as Azure DevOps Server does
    (commits reachable from ``itemVersion`` and not from ``compareVersion``, newest first; 404 for a
    commit it does not hold)."""

    def __init__(self, cap: int = 0) -> None:
        self.parents: dict[str, tuple[str, ...]] = {}
        self.cap = cap  # the most one page holds whatever $top asks (0: as asked)
        self.template = recorded("git_commits")["value"][0]
        recorded_main = [c["commitId"] for c in recorded("git_commits")["value"]]  # main, newest first
        for child, parent in zip(recorded_main, recorded_main[1:] + [None], strict=True):
            self.parents[child] = (parent,) if parent else ()

    def commit(self, name: str, *parents: str) -> str:
        self.parents[sha(name)] = parents
        return sha(name)

    def reachable(self, head: str) -> list[str]:
        order, stack, seen = [], [head], set()
        while stack:
            commit = stack.pop(0)
            if commit not in seen:
                seen.add(commit)
                order.append(commit)
                stack.extend(self.parents[commit])
        return order

    def answer(self, request: Request) -> Reply:
        head = request.params["searchCriteria.itemVersion.version"]
        compare = request.params.get("searchCriteria.compareVersion.version")
        for commit in (head, compare):
            if commit and commit not in self.parents:
                return gone("item", f"TF401175: The version descriptor <Commit: {commit}> could not be resolved")
        hidden = set(self.reachable(compare)) if compare else set()
        shas = [c for c in self.reachable(head) if c not in hidden]
        skip, top = int(request.params["searchCriteria.$skip"]), int(request.params["searchCriteria.$top"])
        top = min(top, self.cap) if self.cap else top
        page = [{**self.template, "commitId": c, "comment": f"commit {c[:7]}"} for c in shas[skip:skip + top]]
        return Reply({"count": len(page), "value": page})

    def server(self, refs_values: list[dict] | None = None) -> Server:
        server = Server().get(COMMITS, self.answer)
        return server.get(REFS, token_pages(refs_values if refs_values is not None else refs()), {"peelTags": "true"})


MAIN = [c["commitId"] for c in recorded("git_commits")["value"]]  # the recorded main branch, newest first
HEAD = MAIN[0]
BRANCH_HEADS = {ref["name"]: ref["objectId"] for ref in recorded("git_refs")["value"]}


def history() -> History:
    """main as recorded; bugfix/1343 two commits off main~1; bugfix/7511 one off main~2; refactor one off main."""
    h = History()
    assert BRANCH_HEADS["refs/heads/main"] == HEAD
    h.parents[sha("1343 base")] = (MAIN[1],)
    h.parents[BRANCH_HEADS["refs/heads/bugfix/1343-search"]] = (sha("1343 base"),)
    h.parents[BRANCH_HEADS["refs/heads/bugfix/7511-cleanup"]] = (MAIN[2],)
    h.parents[BRANCH_HEADS["refs/heads/users/irossi/refactor"]] = (HEAD,)
    return h


def commit_requests(run) -> list[tuple[str, str | None]]:
    """(head, compare) of each commit list walked, in order (a list's pages once: with the cap unknown a
    short page is followed by one more, empty)."""
    asked = [(r.params["searchCriteria.itemVersion.version"], r.params.get("searchCriteria.compareVersion.version"),
              r.params["searchCriteria.$skip"]) for r in run.requests if r.path == COMMITS]
    return [(head, compare) for head, compare, skip in asked if skip == "0"]


class TestCommitsStream:
    def test_a_server_capping_pages_below_the_top_asked_loses_no_commit(self) -> None:
        """git Get Commits searchCriteria.$top: "Maximum number of entries to retrieve"; no ceiling is
        documented, so a short page is not the end."""
        capped = history()
        capped.cap = 2
        run = run_stream(CommitsStream(), capped.server(), parent=REPOSITORY, listed={RefsStream: refs()})
        whole = run_stream(CommitsStream(), history().server(), parent=REPOSITORY, listed={RefsStream: refs()})
        assert sorted(run.keys()) == sorted(whole.keys()) and len(whole.keys()) > 2

    def first(self, h: History | None = None):
        return run_stream(CommitsStream(), (h or history()).server(), parent=REPOSITORY, listed={RefsStream: refs()})

    def test_first_run_reads_the_default_branch_in_full_then_each_branch_against_it(self) -> None:
        run = self.first()
        expected = MAIN + [BRANCH_HEADS["refs/heads/bugfix/1343-search"], sha("1343 base"),
                           BRANCH_HEADS["refs/heads/bugfix/7511-cleanup"], BRANCH_HEADS["refs/heads/users/irossi/refactor"]]
        assert run.keys() == [f"{R}:{c}" for c in expected]
        assert {(r.type, r.op) for r in run.records} == {("git.commit", "upsert")}
        assert run.record(f"{R}:{HEAD}").data["changeCounts"] == {"Add": 2, "Edit": 6, "Delete": 0}
        assert commit_requests(run) == [
            (HEAD, None),
            (BRANCH_HEADS["refs/heads/bugfix/1343-search"], HEAD),
            (BRANCH_HEADS["refs/heads/bugfix/7511-cleanup"], HEAD),
            (BRANCH_HEADS["refs/heads/users/irossi/refactor"], HEAD),
        ]
        assert all(r.params["searchCriteria.itemVersion.versionType"] == "commit" for r in run.requests)
        assert run.checkpoint is not None

    def test_incremental_run_reads_only_the_moved_branch_from_its_old_head(self) -> None:
        h = history()
        first = self.first(h)
        new = h.commit("main 2", HEAD)
        run = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, listed={RefsStream: refs(main=new)},
                         cursor=first.checkpoint, delivered=first.keys())
        assert run.keys() == [f"{R}:{new}"]
        assert commit_requests(run) == [(new, HEAD)]

    def test_nothing_new_when_refs_did_not_move_makes_no_request(self) -> None:
        h = history()
        first = self.first(h)
        run = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, listed={RefsStream: refs()}, cursor=first.checkpoint)
        assert run.records == () and run.requests == ()
        alone = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, cursor=first.checkpoint)
        assert alone.records == () and alone.paths() == [REFS]

    def test_force_push_with_the_old_head_gone_reads_the_branch_in_full_and_sends_only_unseen_commits(self) -> None:
        h = history()
        first = self.first(h)
        rewritten = h.commit("rewritten main", MAIN[1])  # main~1 + a new commit; the old head is garbage-collected
        for name, parents in list(h.parents.items()):
            if HEAD in parents:
                h.parents[name] = tuple(p for p in parents if p != HEAD)
        del h.parents[HEAD]
        run = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, listed={RefsStream: refs(main=rewritten)},
                         cursor=first.checkpoint, delivered=first.keys())
        assert commit_requests(run) == [(rewritten, HEAD), (rewritten, None)]
        assert run.keys() == [f"{R}:{rewritten}"]
        again = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, listed={RefsStream: refs(main=rewritten)},
                           cursor=run.checkpoint)
        assert again.requests == ()

    def test_force_push_without_delivered_keys_resends_the_history_it_reads(self) -> None:
        h = history()
        first = self.first(h)
        rewritten = h.commit("rewritten main", MAIN[1])
        del h.parents[HEAD]
        h.parents[BRANCH_HEADS["refs/heads/users/irossi/refactor"]] = (MAIN[1],)
        run = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, listed={RefsStream: refs(main=rewritten)},
                         cursor=first.checkpoint)
        assert run.keys() == [f"{R}:{c}" for c in [rewritten, *MAIN[1:]]]

    def test_new_branch_is_compared_with_the_default_branch_and_shared_commits_are_sent_once(self) -> None:
        h = history()
        first = self.first(h)
        shared = h.commit("shared", HEAD)
        one, two = h.commit("feature one", shared), h.commit("feature two", shared)
        current = refs() + [{**refs()[2], "name": "refs/heads/feature/one", "objectId": one},
                            {**refs()[2], "name": "refs/heads/feature/two", "objectId": two}]
        run = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, listed={RefsStream: current},
                         cursor=first.checkpoint, delivered=first.keys())
        assert commit_requests(run) == [(one, HEAD), (two, HEAD)]
        assert run.keys() == [f"{R}:{one}", f"{R}:{shared}", f"{R}:{two}"]

    def test_new_branch_at_a_delivered_head_and_a_deleted_branch_need_no_commit_request(self) -> None:
        h = history()
        first = self.first(h)
        current = [r for r in refs() if r["name"] != "refs/heads/bugfix/7511-cleanup"]
        current.append({**refs()[2], "name": "refs/heads/release/1.0", "objectId": HEAD})
        run = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, listed={RefsStream: current}, cursor=first.checkpoint)
        assert run.records == () and run.requests == ()
        assert run.checkpoint is not None  # the heads moved: the cursor follows
        again = run_stream(CommitsStream(), h.server(), parent=REPOSITORY, listed={RefsStream: current}, cursor=run.checkpoint)
        assert again.records == () and again.requests == ()

    def test_commits_are_read_page_by_page(self) -> None:
        run = run_stream(CommitsStream(), history().server(), parent=REPOSITORY, listed={RefsStream: refs()},
                         page_sizes={"commits": 3})
        assert [(r.params["searchCriteria.$skip"], r.params["searchCriteria.$top"]) for r in run.requests][:2] == [("0", "3"), ("3", "3")]
        assert len(run.records) == 8

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_commits_answer_fails_without_checkpoint(self, kind: str) -> None:
        reply, error = MALFORMED[kind]
        server = history().server().get(COMMITS, reply)
        run = run_stream(CommitsStream(), server, parent=REPOSITORY, listed={RefsStream: refs()}, expect=error)
        assert run.records == () and run.checkpoints == ()

    def test_commit_without_its_id_fails_without_checkpoint(self) -> None:
        h = history()
        server = h.server().get(COMMITS, lambda request: Reply({"count": 1, "value": [{"comment": "no id"}]}))
        run = run_stream(CommitsStream(), server, parent=REPOSITORY, listed={RefsStream: refs()}, expect=AdoResponseError)
        assert run.checkpoints == ()

    def test_repository_gone_raises_not_found(self) -> None:
        h = history()
        first = self.first(h)
        server = h.server().get(REFS, gone("repository", R), {"peelTags": "true"})
        run = run_stream(CommitsStream(), server, parent=REPOSITORY, cursor=first.checkpoint, expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()
        server = h.server().get(COMMITS, gone("repository", R))
        run = run_stream(CommitsStream(), server, parent=REPOSITORY, listed={RefsStream: refs()}, expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()


# -- pull requests ---------------------------------------------------------------------------------

PULL_REQUESTS = f"{PROJECT_ID}/_apis/git/pullrequests"
PARTS = ("threads", "iterations", "workitems")


def pr_path(pr_id: int, part: str | None = None) -> str:
    base = f"{PROJECT_ID}/_apis/git/repositories/{R}/pullRequests/{pr_id}"
    return f"{base}/{part}" if part else base


def pr_alone_path(pr_id: int) -> str:
    """Where a PR is asked for alone to confirm it is gone: by repository id at the collection."""
    return f"_apis/git/repositories/{R}/pullRequests/{pr_id}"


class PullRequestServer:
    """The pull requests of the project (recorded: 9 completed, 5 active, 3 abandoned) and their parts."""

    def __init__(self) -> None:
        self.prs = {pr["pullRequestId"]: pr for pr in recorded("git_pull_requests")["value"]}
        self.parts = {int(pr_id): parts for pr_id, parts in recorded("git_pull_request_parts").items()}

    def add(self, pr_id: int, status: str = "active") -> None:
        self.prs[pr_id] = {**copy.deepcopy(self.prs[5]), "pullRequestId": pr_id, "codeReviewId": pr_id, "status": status,
                           "title": f"PR {pr_id}", "creationDate": "2024-08-01T09:00:00.0000000Z"}
        self.parts[pr_id] = copy.deepcopy(self.parts[5])

    def listing(self, status: str, cut: bool = False) -> list[dict]:
        """The list answer (``cut``: descriptions cut to 400 characters, as 7.0+ lists do)."""
        found = [self.prs[i] for i in sorted(self.prs, reverse=True) if status == "all" or self.prs[i]["status"] == status]
        return [{**pr, "description": pr["description"][:400]} if cut and "description" in pr else pr for pr in found]

    def server(self, version: str = "7.0") -> Server:
        server = Server(version)
        cut = version >= "7.0"
        for status in ("all", "active"):
            server.get(PULL_REQUESTS, offset_pages(lambda status=status: self.listing(status, cut)), {"searchCriteria.status": status})
        for pr_id in range(1, 20):
            alone = lambda request, pr_id=pr_id: Reply(self.prs[pr_id]) if pr_id in self.prs else gone("item")  # noqa: E731
            server.get(pr_path(pr_id), alone).get(pr_alone_path(pr_id), alone)
            for part in PARTS:
                server.get(pr_path(pr_id, part), lambda request, pr_id=pr_id, part=part: Reply(self.parts[pr_id][part]))
        return server

    def expected_records(self, pr_id: int) -> set[tuple[str, str]]:
        key = f"{R}:{pr_id}"
        found = {("git.pull_request", key)}
        found |= {("git.pull_request_reviewer", f"{key}:{r['id']}") for r in self.prs[pr_id]["reviewers"]}
        for part, record_type in zip(PARTS, ("git.pull_request_thread", "git.pull_request_iteration", "git.pull_request_work_item"), strict=True):
            found |= {(record_type, f"{key}:{item['id']}") for item in self.parts[pr_id][part]["value"]}
        return found | {("git.pull_request_commit", f"{key}:{sha}") for sha in self.commits(pr_id)}

    def commits(self, pr_id: int) -> set[str]:
        """The ids of the commits the PR's iterations carry (``includeCommits``)."""
        return {c["commitId"] for i in self.parts[pr_id]["iterations"]["value"] for c in i.get("commits", [])}


def part_reads(run) -> list[tuple[int, str]]:
    return sorted((int(r.path.split("/")[-2]), r.path.split("/")[-1]) for r in run.requests if r.path.split("/")[-1] in PARTS)


class TestPullRequestsStream:
    def test_first_run_sends_every_pr_with_its_reviewers_threads_iterations_and_work_items(self) -> None:
        prs = PullRequestServer()
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        assert {(r.type, r.key) for r in run.records} == prs.expected_records(9) | prs.expected_records(5) | prs.expected_records(3)
        assert len(run.records) == len({(r.type, r.key) for r in run.records})  # PR 5 is in both lists, sent once
        assert {r.op for r in run.records} == {"upsert"}
        assert run.record(f"{R}:5:7", "git.pull_request_thread").data["id"] == 7
        assert run.checkpoint is not None and len(run.checkpoints) == 1  # the cursor moves once, at the end
        assert part_reads(run) == sorted((i, part) for i in (9, 5, 3) for part in PARTS)
        assert [r.params["searchCriteria.status"] for r in run.requests if r.path == PULL_REQUESTS] == ["all", "all", "active", "active"]

    def test_a_pr_created_and_closed_between_the_two_lists_is_read_by_the_next_sync(self) -> None:
        """The list of PRs created since the cursor and the list of active PRs see the server at two
        moments: PR 17, created after the first and completed before the second, is in neither, while
        PR 18, created after it, is in the second."""
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        server, created = prs.server(), offset_pages(lambda: prs.listing("all", cut=True))
        moves = [lambda: (prs.add(17, "completed"), prs.add(18))]

        def created_then_more(request: Request) -> Reply:
            reply = copy.deepcopy(created(request))
            if moves:
                moves.pop()()
            return reply

        server.get(PULL_REQUESTS, created_then_more, {"searchCriteria.status": "all"})
        run = run_stream(PullRequestsStream(), server, parent=PROJECT, cursor=first.checkpoint)
        assert run.keys("git.pull_request") == [f"{R}:18"]
        again = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=run.checkpoint)
        assert again.keys("git.pull_request") == [f"{R}:17"]  # 18, read again in the list, unchanged: not resent
        assert {(r.type, r.key) for r in again.records} == prs.expected_records(17)

    def test_nothing_new_costs_one_request_per_open_pr(self) -> None:
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.records == ()
        assert part_reads(run) == [(5, "threads")]
        # all (its first page holds the highest delivered id), active (a short page, the cap unknown: one more), PR 5's threads
        assert len(run.requests) == 4

    def test_incremental_run_sends_a_new_pr_and_an_open_pr_whose_threads_changed(self) -> None:
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        prs.add(10)
        new_thread = {**copy.deepcopy(prs.parts[5]["threads"]["value"][0]), "id": 42}
        prs.parts[5]["threads"]["value"].append(new_thread)
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=first.checkpoint)
        # PR 5 itself did not change: its iterations (with its commits) and links are not read again, so not sent
        pr5 = {(t, k) for t, k in prs.expected_records(5)
               if t not in ("git.pull_request_iteration", "git.pull_request_work_item", "git.pull_request_commit")}
        assert {(r.type, r.key) for r in run.records} == prs.expected_records(10) | pr5
        assert part_reads(run) == [(5, "threads"), (10, "iterations"), (10, "threads"), (10, "workitems")]

    def test_commits_come_with_the_iterations_at_no_request_more_and_leave_the_iteration_record(self) -> None:
        prs = PullRequestServer()
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        assert all(r.params == {"includeCommits": "true"} for r in run.requests if r.path.endswith("/iterations"))
        assert set(run.keys("git.pull_request_commit")) == {f"{R}:{i}:{sha}" for i in (9, 5, 3) for sha in prs.commits(i)}
        (sha,) = prs.commits(5)
        commit = run.record(f"{R}:5:{sha}", "git.pull_request_commit").data
        assert commit["commitId"] == sha and commit["author"]["date"]  # the GitCommitRef: the first-commit time
        assert all("commits" not in r.data for r in run.of("git.pull_request_iteration"))
        assert not [r for r in run.requests if r.path.endswith("/commits")]

    def test_an_iteration_with_a_cut_commit_list_reads_the_pr_commits_page_by_page(self) -> None:
        """git Iterations ``hasMoreCommits``: "the Commits property contains a truncated list of commits"."""
        prs = PullRequestServer()
        iteration = prs.parts[9]["iterations"]["value"][0]
        iteration["hasMoreCommits"] = True
        every = [{**copy.deepcopy(iteration["commits"][0]), "commitId": sha(f"pr 9 commit {n}")} for n in range(5)]
        server = prs.server().get(pr_path(9, "commits"), token_pages(every))
        run = run_stream(PullRequestsStream(), server, parent=PROJECT, page_sizes={"default": 2})
        assert set(run.keys("git.pull_request_commit")) - {f"{R}:{i}:{s}" for i in (5, 3) for s in prs.commits(i)} == {
            f"{R}:9:{c['commitId']}" for c in every}
        assert [r.params.get("continuationToken") for r in run.asked(pr_path(9, "commits"))] == [None, "2", "4"]

    def test_a_completed_pr_is_read_with_its_commits_once_then_never_again(self) -> None:
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        prs.prs[5] = {**prs.prs[5], "status": "completed", "closedDate": "2024-08-02T10:00:00.0000000Z"}
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=first.checkpoint)
        assert set(run.keys("git.pull_request_commit")) == {f"{R}:5:{sha}" for sha in prs.commits(5)}
        after = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=run.checkpoint)
        assert after.records == () and part_reads(after) == []

    @pytest.mark.parametrize("part", ["iterations", "workitems", "threads"])
    def test_a_pr_deleted_mid_sync_is_dropped_from_the_run_not_a_failure(self, part: str) -> None:
        """Its part answers 404 (the PR was deleted after the list): issue 15 saw the whole project's
        PR stream fail for it."""
        prs = PullRequestServer()
        server = prs.server()
        server.get(pr_path(9, part), lambda request: gone("item"))
        run = run_stream(PullRequestsStream(), server, parent=PROJECT)
        assert f"{R}:9" not in run.keys("git.pull_request")
        assert not [k for k in run.keys() if k.startswith(f"{R}:9:")]
        assert {f"{R}:5", f"{R}:3"} <= set(run.keys("git.pull_request")) and run.checkpoints

    def test_malformed_iterations_fail_without_checkpoint(self) -> None:
        prs = PullRequestServer()
        del prs.parts[9]["iterations"]["value"][0]["commits"][0]["commitId"]
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, expect=AdoResponseError)
        assert run.checkpoints == ()

    def test_a_pr_closed_since_the_last_run_is_read_once_more(self) -> None:
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        prs.prs[5] = {**prs.prs[5], "status": "completed", "closedDate": "2024-08-02T10:00:00.0000000Z"}
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.asked(pr_path(5)) != []
        assert run.record(f"{R}:5").data["status"] == "completed"
        assert {(r.type, r.key) for r in run.records} == prs.expected_records(5)
        after = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=run.checkpoint)
        assert after.records == () and after.asked(pr_path(5)) == [] and part_reads(after) == []

    def test_a_pr_gone_since_the_last_run_is_dropped(self) -> None:
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        del prs.prs[5]
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=first.checkpoint)
        assert run.records == ()
        assert len(run.asked(pr_path(5))) == 1  # 404: gone
        after = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=run.checkpoint)
        assert after.asked(pr_path(5)) == []

    def test_a_long_description_cut_by_the_list_is_read_whole_once_when_the_pr_changes(self) -> None:
        """git 7.0/7.1 Get Pull Requests: "description field will be truncated up to 400 symbols in the result"."""
        prs = PullRequestServer()
        prs.prs[5]["description"] = "Why: " + "x" * 700
        prs.prs[9]["description"] = "short"
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        assert first.record(f"{R}:5", "git.pull_request").data["description"] == prs.prs[5]["description"]
        assert len(first.asked(pr_path(5))) == 1 and first.asked(pr_path(9)) == []
        again = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=first.checkpoint)
        assert again.records == () and again.asked(pr_path(5)) == []  # nothing changed: no read alone
        prs.parts[5]["threads"]["value"].append({**copy.deepcopy(prs.parts[5]["threads"]["value"][0]), "id": 42})
        changed = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=again.checkpoint)
        assert changed.record(f"{R}:5", "git.pull_request").data["description"] == prs.prs[5]["description"]
        assert len(changed.asked(pr_path(5))) == 1

    def test_before_7_0_the_list_description_is_whole_and_no_pr_is_read_alone(self) -> None:
        prs = PullRequestServer()
        prs.prs[5]["description"] = "Why: " + "x" * 700
        run = run_stream(PullRequestsStream(), prs.server("6.0"), parent=PROJECT)
        assert run.record(f"{R}:5", "git.pull_request").data["description"] == prs.prs[5]["description"]
        assert run.asked(pr_path(5)) == []

    def test_a_pr_gone_before_its_read_alone_keeps_the_listed_object(self) -> None:
        prs = PullRequestServer()
        prs.prs[5]["description"] = "Why: " + "x" * 700
        server = prs.server().get(pr_path(5), gone("item"))
        run = run_stream(PullRequestsStream(), server, parent=PROJECT)
        assert run.record(f"{R}:5", "git.pull_request").data["description"] == prs.prs[5]["description"][:400]

    def test_newest_first_walk_stops_at_the_page_holding_the_highest_delivered_id(self) -> None:
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, page_sizes={"pull_requests": 2})
        assert [r.params["$skip"] for r in first.asked(PULL_REQUESTS, **{"searchCriteria.status": "all"})] == ["0", "2", "3"]
        prs.add(11)
        prs.add(10, status="completed")
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, cursor=first.checkpoint, page_sizes={"pull_requests": 2})
        assert [r.params["$skip"] for r in run.asked(PULL_REQUESTS, **{"searchCriteria.status": "all"})] == ["0", "2"]
        assert sorted(run.keys("git.pull_request")) == [f"{R}:10", f"{R}:11"]

    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_malformed_list_fails_without_checkpoint(self, kind: str) -> None:
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        reply, error = MALFORMED[kind]
        server = prs.server().get(PULL_REQUESTS, reply, {"searchCriteria.status": "all"})
        run = run_stream(PullRequestsStream(), server, parent=PROJECT, cursor=first.checkpoint, expect=error)
        assert run.records == () and run.checkpoints == ()

    def test_pr_without_its_id_fails_without_checkpoint(self) -> None:
        prs = PullRequestServer()
        del prs.prs[3]["pullRequestId"]
        run = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT, expect=AdoResponseError)
        assert run.checkpoints == ()

    def test_project_gone_raises_not_found(self) -> None:
        prs = PullRequestServer()
        first = run_stream(PullRequestsStream(), prs.server(), parent=PROJECT)
        server = prs.server().get(PULL_REQUESTS, gone("project"), {"searchCriteria.status": "all"})
        run = run_stream(PullRequestsStream(), server, parent=PROJECT, cursor=first.checkpoint, expect=AdoNotFoundError)
        assert run.records == () and run.checkpoints == ()

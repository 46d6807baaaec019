"""Deletes after a complete re-read (a reconciliation) for the streams that declare ``reconciled``
record types beyond work items: builds and pull requests, run as the collector runs a unit
(``Collector._run_unit``: the live keys, the rule and each unmet key asked for alone).

A complete re-read without an item deletes it; an item present, or one the lists miss while it is
read but that answers when asked alone, is not deleted; a re-read that fails part way, a shutdown
and a failed confirmation delete nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

import httpx

from satellite.ado.client import AdoClient, CollectionTarget
from satellite.config.model import Limits, Schedule
from satellite.retrying import RetryPolicy
from satellite.sealing.sealer import Sealer
from satellite.secret import Secret
from satellite.store import CursorKey, Store
from satellite.streams import BuildsStream, PipelineRunsStream, PullRequestsStream, Record, ReleasesStream
from satellite.sync.collector import CollectionReport, Collector
from tests.unit.streams.test_pipelines_streams import PIPELINES as PIPELINES_PATH
from tests.unit.streams.harness import COLLECTION_URL, Reply, Server, gone, offset_pages
from tests.unit.streams.parents import CID, PROJECT, PROJECT_ID, REPOSITORY_ID
from tests.unit.streams.test_git_streams import PULL_REQUESTS, PullRequestServer, pr_alone_path, pr_path
from tests.unit.streams.test_pipelines_streams import BUILDS, COMPLETED, OPEN, Builds, Runs
from tests.unit.streams.test_release_streams import DEPLOYMENT_PARAMS, DEPLOYMENTS, RELEASES, Releases


class Unit:
    """One stream and project, run again and again as the collector runs its unit."""

    def __init__(self, stream, store: Store, sealer: Sealer) -> None:
        self.stream, self.store = stream, store
        self.stopping = False
        self.records: list[Record] = []
        integration = SimpleNamespace(id="tfs", backfill=SimpleNamespace(start=None), services=("pipelines", "repos"),
                                      tls=SimpleNamespace(verify=True, ca_bundle=None), schedule=Schedule())
        self.collector = Collector(integration, Limits(), store, sealer, services=("pipelines", "repos"),
                                   on_record=self.records.append, should_stop=lambda: self.stopping)

    def run(self, server: Server, *, reconcile: bool = False) -> tuple[list[tuple[str, str]], CollectionReport]:
        """(the deletes sent, the report) of one run; ``reconcile``: every cursor forgotten first."""
        if reconcile:
            self.store.reset_cursors("tfs")
        client = AdoClient(CollectionTarget(COLLECTION_URL, "DefaultCollection"), Secret("unit-test-pat"),
                           retry=RetryPolicy(max_attempts=2, initial_wait=0.0, max_wait=0.0, sleep=lambda s: None),
                           max_connections=4, transport=httpx.MockTransport(server.handle))
        self.records.clear()
        report = CollectionReport()
        try:
            self.collector._run_unit(report, client, self.stream, PROJECT, PROJECT_ID, {}, CID)
        finally:
            client.close()
        return [(r.type, r.key) for r in self.records if r.op == "delete"], report

    def live(self, record_type: str) -> set[str]:
        return self.store.live_keys(CursorKey("tfs", self.stream.name, f"DefaultCollection/{PROJECT_ID}"), record_type)


def test_the_reconciled_types_are_the_top_level_ones():
    assert BuildsStream.reconciled == ("build.build",) and PipelineRunsStream.reconciled == ("pipelines.run",)
    assert PullRequestsStream.reconciled == ("git.pull_request",)
    assert ReleasesStream.reconciled == ("release.release",)  # deployments: see the stream's comment


# -- builds ----------------------------------------------------------------------------------------


def test_a_complete_re_read_deletes_a_build_gone_and_only_it(store, sealer):
    b, unit = Builds(), Unit(BuildsStream(), store, sealer)
    assert unit.run(b.server())[0] == []
    assert unit.live("build.build") == {f"{CID}:{i}" for i in (1, 2, 3, 40)}
    assert unit.run(b.server(), reconcile=True)[0] == []  # every build present: nothing deleted
    del b.builds[2]
    deletes, report = unit.run(b.server(), reconcile=True)
    assert not report.errors and deletes == [("build.build", f"{CID}:2")]  # its timeline records: not reconciled
    assert unit.live("build.build") == {f"{CID}:{i}" for i in (1, 3, 40)}
    assert unit.run(b.server(), reconcile=True)[0] == []  # deleted once


def test_an_incremental_read_deletes_nothing_it_did_not_ask_for(store, sealer):
    b, unit = Builds(), Unit(BuildsStream(), store, sealer)
    unit.run(b.server())
    del b.builds[2]
    assert unit.run(b.server())[0] == []  # from a cursor: not a complete read


def test_a_re_read_failing_part_way_deletes_nothing(store, sealer):
    b, unit = Builds(), Unit(BuildsStream(), store, sealer)
    unit.run(b.server())
    del b.builds[2]
    broken = b.server().get(BUILDS, Reply({"message": "boom"}, status=500), {"statusFilter": OPEN})  # the open builds
    deletes, report = unit.run(broken, reconcile=True)
    assert deletes == [] and [o.stream for o in report.errors] == ["build.builds"]
    assert unit.run(b.server(), reconcile=True)[0] == [("build.build", f"{CID}:2")]  # the next complete one does


def test_a_build_the_lists_missed_but_that_answers_alone_is_not_deleted(store, sealer):
    """Build 40 completes between the completed and the open query: in neither list, still there."""
    b, unit = Builds(), Unit(BuildsStream(), store, sealer)
    unit.run(b.server())
    racing = b.server().get(BUILDS, Reply({"count": 0, "value": []}), {"statusFilter": OPEN})
    deletes, report = unit.run(racing, reconcile=True)
    assert not report.errors and deletes == []
    assert f"{CID}:40" in unit.live("build.build")


def test_a_build_answered_deleted_alone_is_deleted(store, sealer):
    b, unit = Builds(), Unit(BuildsStream(), store, sealer)
    unit.run(b.server())
    b.builds[3]["deleted"] = True  # the completed query leaves deleted builds out; asked alone it says so
    assert unit.run(b.server(), reconcile=True)[0] == [("build.build", f"{CID}:3")]


def test_a_confirmation_that_fails_deletes_nothing(store, sealer):
    b, unit = Builds(), Unit(BuildsStream(), store, sealer)
    unit.run(b.server())
    del b.builds[2]
    failing = b.server().get(f"{BUILDS}/2", Reply({"message": "boom"}, status=500))
    deletes, report = unit.run(failing, reconcile=True)
    assert deletes == [] and [o.stream for o in report.errors] == ["build.builds"]
    assert f"{CID}:2" in unit.live("build.build")


def test_a_404_of_a_child_read_deletes_nothing(store, sealer):
    b, unit = Builds(), Unit(BuildsStream(), store, sealer)
    unit.run(b.server())
    no_timeline = b.server().get(f"{BUILDS}/1/timeline", gone("item", "timeline"))
    deletes, report = unit.run(no_timeline, reconcile=True)
    assert not report.errors and deletes == []


def test_a_re_read_stopped_by_shutdown_deletes_nothing(store, sealer):
    b, unit = Builds(), Unit(BuildsStream(), store, sealer)
    unit.run(b.server())
    del b.builds[2]
    unit.stopping = True
    assert unit.run(b.server(), reconcile=True)[0] == []
    unit.stopping = False
    assert unit.run(b.server(), reconcile=True)[0] == [("build.build", f"{CID}:2")]


def test_completed_builds_are_read_from_the_backfill_start_on_a_re_read(store, sealer):
    """The rule's premise: a read from no cursor asks the completed builds from the backfill start
    (the same every time) and every open build, with no other filter."""
    b = Builds()
    server = b.server()
    unit = Unit(BuildsStream(), store, sealer)
    unit.run(server, reconcile=True)
    asked = [{k: v for k, v in r.params.items() if k != "$top"} for r in server.requests if r.path == BUILDS]
    assert asked == [{"queryOrder": "queueTimeDescending"}, {"statusFilter": OPEN}, COMPLETED]


# -- pull requests ---------------------------------------------------------------------------------


def test_a_complete_re_read_deletes_a_pull_request_gone_and_only_it(store, sealer):
    prs, unit = PullRequestServer(), Unit(PullRequestsStream(), store, sealer)
    assert unit.run(prs.server())[0] == []
    every = {f"{REPOSITORY_ID}:{i}" for i in prs.prs}
    assert unit.live("git.pull_request") == every
    assert unit.run(prs.server(), reconcile=True)[0] == []  # every PR present: nothing deleted
    del prs.prs[3]
    deletes, report = unit.run(prs.server(), reconcile=True)
    assert not report.errors and deletes == [("git.pull_request", f"{REPOSITORY_ID}:3")]  # threads...: not reconciled
    assert unit.live("git.pull_request") == every - {f"{REPOSITORY_ID}:3"}


def test_a_pr_re_read_failing_part_way_deletes_nothing(store, sealer):
    prs, unit = PullRequestServer(), Unit(PullRequestsStream(), store, sealer)
    unit.run(prs.server())
    del prs.prs[3]
    broken = prs.server().get(pr_path(9, "threads"), Reply({"message": "boom"}, status=500))
    deletes, report = unit.run(broken, reconcile=True)
    assert deletes == [] and [o.stream for o in report.errors] == ["git.pull_requests"]
    assert unit.run(prs.server(), reconcile=True)[0] == [("git.pull_request", f"{REPOSITORY_ID}:3")]


def test_a_pr_the_walk_stepped_over_but_that_answers_alone_is_not_deleted(store, sealer):
    """``$top/$skip`` pages shift when a PR ahead goes: PR 5 is left out of both lists, yet it is there."""
    prs, unit = PullRequestServer(), Unit(PullRequestsStream(), store, sealer)
    unit.run(prs.server())
    server = prs.server()
    for status in ("all", "active"):
        listing = [pr for pr in prs.listing(status, cut=True) if pr["pullRequestId"] != 5]
        server.get(PULL_REQUESTS, offset_pages(listing), {"searchCriteria.status": status})
    deletes, report = unit.run(server, reconcile=True)
    assert not report.errors and deletes == []
    assert f"{REPOSITORY_ID}:5" in unit.live("git.pull_request")


def test_a_pr_confirmation_that_fails_deletes_nothing(store, sealer):
    prs, unit = PullRequestServer(), Unit(PullRequestsStream(), store, sealer)
    unit.run(prs.server())
    del prs.prs[3]
    failing = prs.server().get(pr_alone_path(3), Reply({"message": "boom"}, status=503))
    deletes, report = unit.run(failing, reconcile=True)
    assert deletes == [] and [o.stream for o in report.errors] == ["git.pull_requests"]


# -- pipeline runs and releases -------------------------------------------------------------------


def runs_server(r: Runs, builds: dict[int, dict]) -> Server:
    """``r``'s server, and each run asked for alone as the build it is (404 when not in ``builds``)."""
    server = r.server()
    for build_id in range(1, 50):
        server.get(f"{BUILDS}/{build_id}", lambda request, i=build_id: Reply(builds[i]) if i in builds else gone("item", "build"))
    return server


def test_a_complete_re_read_deletes_a_run_gone_and_only_it(store, sealer):
    r, unit = Runs(), Unit(PipelineRunsStream(), store, sealer)
    builds = {i: {"id": i, "status": "completed"} for i in (40, 38, 33, 39)}
    assert unit.run(runs_server(r, builds))[0] == []
    assert unit.live("pipelines.run") == {f"{CID}:{i}" for i in (40, 38, 33, 39)}
    assert unit.run(runs_server(r, builds), reconcile=True)[0] == []
    r.runs[1] = [run for run in r.runs[1] if run["id"] != 38]
    deletes, report = unit.run(runs_server(r, builds), reconcile=True)
    assert not report.errors and deletes == []  # its build still answers: not gone
    del builds[38]
    assert unit.run(runs_server(r, builds), reconcile=True)[0] == [("pipelines.run", f"{CID}:38")]


def test_a_runs_re_read_failing_part_way_deletes_nothing(store, sealer):
    r, unit = Runs(), Unit(PipelineRunsStream(), store, sealer)
    unit.run(runs_server(r, {}))
    r.runs[1] = [run for run in r.runs[1] if run["id"] != 38]
    broken = runs_server(r, {}).get(f"{PIPELINES_PATH}/2/runs", Reply({"message": "boom"}, status=500))
    deletes, report = unit.run(broken, reconcile=True)
    assert deletes == [] and [o.stream for o in report.errors] == ["pipelines.runs"]


def test_a_complete_re_read_deletes_a_release_gone_and_only_it(store, sealer):
    rel, unit = Releases(), Unit(ReleasesStream(), store, sealer)
    assert unit.run(rel.server())[0] == []
    assert unit.live("release.release") == {f"{CID}:1", f"{CID}:2"}
    # held (deleted with their project, sync/departed.py) but not reconciled: a release gone deletes only itself
    assert unit.live("release.deployment") == {f"{CID}:{d['id']}" for d in rel.deployments}
    assert unit.run(rel.server(), reconcile=True)[0] == []
    del rel.releases[1]
    rel.deployments = [d for d in rel.deployments if d["release"]["id"] != 1]
    deletes, report = unit.run(rel.server(), reconcile=True)
    assert not report.errors and deletes == [("release.release", f"{CID}:1")]


def test_a_release_not_listed_but_there_alone_is_not_deleted_and_a_failing_read_deletes_nothing(store, sealer):
    rel, unit = Releases(), Unit(ReleasesStream(), store, sealer)
    unit.run(rel.server())
    rel.deployments = [d for d in rel.deployments if d["release"]["id"] != 1]
    hidden = rel.server().get(RELEASES, Reply({"count": 1, "value": [rel.releases[2]]}), {"queryOrder": "ascending"})
    deletes, report = unit.run(hidden, reconcile=True)  # e.g. created before the backfill start, read by the walk
    assert not report.errors and deletes == []
    del rel.releases[1]
    broken = rel.server().get(DEPLOYMENTS, Reply({"message": "boom"}, status=500), DEPLOYMENT_PARAMS)
    deletes, report = unit.run(broken, reconcile=True)
    assert deletes == [] and [o.stream for o in report.errors] == ["release.releases"]

"""The changes of one world step, read by comparing the world before and after it (read only: the world
generates the same data whether or not anyone looks).

    before = Snapshot.take(world)
    world.advance(1)
    changes = Changes.between(before, Snapshot.take(world), world)

The domains replace their frozen records when something changes, so a snapshot keeps references
(a shallow copy of each list) and a change is a record that is no longer the same object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from standins.ado_simulator.world.boards.work_item_history import Change as Revision
from standins.ado_simulator.world.boards.work_item_history import adds_comment
from standins.ado_simulator.world.git.pr_model import ABANDONED, ACTIVE, PullRequest
from standins.ado_simulator.world.git.pr_model import COMPLETED as PR_COMPLETED
from standins.ado_simulator.world.pipelines.builds import COMPLETED, Build

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["Changes", "PullRequestChange", "PushChange", "Snapshot", "WorkItemChange", "latest_change", "take_snapshot"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    clock: int
    pushes: dict[str, int]  # repository id -> pushes so far
    pull_requests: dict[int, PullRequest]
    builds: tuple[Build, ...]
    revisions: int  # work item revision log length
    deleted_items: int  # work items in the recycle bin (or destroyed) so far
    changesets: int
    deployments: tuple  # release Deployment records

    @staticmethod
    def take(world: World) -> Snapshot:
        return take_snapshot(world)


def _domain(world: World, name: str):
    try:
        return world.domain(name)
    except KeyError:
        return None


def take_snapshot(world: World) -> Snapshot:
    """What the events need to know of the world now (call with ``world.lock`` held)."""
    pushes = {}
    for repo in world.repositories:
        with world.reading(repo.id) as history:
            pushes[repo.id] = len(history.pushes)
    prs = _domain(world, "pull_requests")
    builds = _domain(world, "build")
    items = _domain(world, "work_items")
    tfvc = _domain(world, "tfvc")
    releases = _domain(world, "release")
    return Snapshot(
        world.clock, pushes,
        {pr.id: pr for pr in prs.of_repositories(pushes)} if prs is not None else {},
        tuple(builds.builds) if builds is not None else (),
        len(items.log) if items is not None else 0,
        len(items.deleted_at) if items is not None else 0,
        len(tfvc.changesets) if tfvc is not None else 0,
        tuple(releases.deployments) if releases is not None else (),
    )


@dataclass(frozen=True, slots=True)
class PushChange:
    repository_id: str
    push_id: int


@dataclass(frozen=True, slots=True)
class PullRequestChange:
    pull_request_id: int
    kind: str  # created | updated | merged
    notification_type: str = ""  # updated: PushNotification, ReviewerVoteNotification, StatusUpdateNotification...
    time: int = 0


@dataclass(frozen=True, slots=True)
class WorkItemChange:
    item_id: int
    rev: int
    kind: str  # created | updated | commented | deleted
    time: int  # Unix seconds


@dataclass(frozen=True, slots=True)
class Changes:
    """Everything one step changed that an event is published for."""

    pushes: tuple[PushChange, ...] = ()
    pull_requests: tuple[PullRequestChange, ...] = ()
    builds_completed: tuple[int, ...] = ()
    runs_changed: tuple[int, ...] = ()  # builds whose (status, attempt) moved: YAML runs' state changes
    work_items: tuple[WorkItemChange, ...] = ()
    changesets: tuple[int, ...] = ()
    deployments_completed: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not any((self.pushes, self.pull_requests, self.builds_completed, self.runs_changed, self.work_items,
                        self.changesets, self.deployments_completed))

    @staticmethod
    def between(before: Snapshot, after: Snapshot, world: World) -> Changes:
        """What changed from ``before`` to ``after`` (both of ``world``; call with ``world.lock`` held)."""
        pushes = tuple(PushChange(repo, n) for repo, count in after.pushes.items()
                       for n in range(before.pushes.get(repo, count) + 1, count + 1))
        return Changes(
            pushes, _pull_requests(before, after, world, pushes), *_builds(before, after),
            _work_items(before, after, world),
            tuple(range(before.changesets + 1, after.changesets + 1)),
            _deployments(before, after),
        )


def _pull_requests(before: Snapshot, after: Snapshot, world: World,
                   pushes: tuple[PushChange, ...]) -> tuple[PullRequestChange, ...]:
    pushed: dict[tuple[str, str], int] = {}  # (repository, branch) -> time of its last push in this step
    for change in pushes:
        with world.reading(change.repository_id) as history:
            push = history.pushes[change.push_id - 1]
        for update in push.ref_updates:
            pushed[(change.repository_id, update.name)] = push.time
    found: list[PullRequestChange] = []
    for pr_id, pr in after.pull_requests.items():
        old = before.pull_requests.get(pr_id)
        if old is None:
            found.append(PullRequestChange(pr_id, "created", time=pr.created))
            continue
        if old is not pr and old.status != pr.status:
            if pr.status == PR_COMPLETED:
                found.append(PullRequestChange(pr_id, "merged", time=pr.closed))
            if pr.status in (PR_COMPLETED, ABANDONED):
                found.append(PullRequestChange(pr_id, "updated", "StatusUpdateNotification", pr.closed))
        elif old is not pr and old.reviewers != pr.reviewers:
            latest = max((t.published for t in pr.threads), default=pr.created)
            if {r.person for r in old.reviewers} != {r.person for r in pr.reviewers}:
                found.append(PullRequestChange(pr_id, "updated", "ReviewersUpdateNotification", latest))
            else:
                found.append(PullRequestChange(pr_id, "updated", "ReviewerVoteNotification", latest))
        elif old is not pr and old.draft != pr.draft:
            found.append(PullRequestChange(pr_id, "updated", "StatusUpdateNotification", after.clock - 60))
        if pr.status == ACTIVE and (pr.repository_id, pr.source) in pushed:
            found.append(PullRequestChange(pr_id, "updated", "PushNotification", pushed[(pr.repository_id, pr.source)]))
    return tuple(found)


def _builds(before: Snapshot, after: Snapshot) -> tuple[tuple[int, ...], tuple[int, ...]]:
    completed, moved = [], []
    for build in after.builds:
        old = before.builds[build.id - 1] if build.id <= len(before.builds) else None
        if old is build or build.deleted:
            continue
        if old is None or (old.status, old.attempt) != (build.status, build.attempt):
            if build.status != "notStarted":
                moved.append(build.id)
            if build.status == COMPLETED:
                completed.append(build.id)
    return tuple(completed), tuple(moved)


def _work_items(before: Snapshot, after: Snapshot, world: World) -> tuple[WorkItemChange, ...]:
    domain = _domain(world, "work_items")
    if domain is None:
        return ()
    log = domain.log
    found: list[WorkItemChange] = []
    for position in range(before.revisions, after.revisions):
        item_id, rev, kind = log.item[position], log.rev[position], log.kind(position)
        when = log.time[position]
        if kind == Revision.DELETE:
            continue  # the deletion itself: below, from the recycle bin
        if kind == Revision.CREATE:
            found.append(WorkItemChange(item_id, rev, "created", when))
        elif log.history_only(position):
            found.append(WorkItemChange(item_id, rev, "commented", when))
        else:
            found.append(WorkItemChange(item_id, rev, "updated", when))
            if adds_comment(log.code[position] & 0xFF):
                found.append(WorkItemChange(item_id, rev, "commented", when))
    for item_id in list(domain.deleted_at)[before.deleted_items:after.deleted_items]:
        found.append(WorkItemChange(item_id, log.revisions(item_id), "deleted", domain.deleted_at[item_id] // 1000))
    return tuple(found)


def _deployments(before: Snapshot, after: Snapshot) -> tuple[int, ...]:
    done = []
    for deployment in after.deployments:
        old = before.deployments[deployment.id - 1] if deployment.id <= len(before.deployments) else None
        if deployment.done(after.clock) and (old is None or not old.done(before.clock)):
            done.append(deployment.id)
    return tuple(done)


def latest_change(world: World, event_type: str) -> Changes:
    """The newest existing thing an event of ``event_type`` could be about (a test notification with real
    data); empty when the world has none (call with ``world.lock`` held)."""
    if event_type == "git.push":
        for repo in world.repositories:
            with world.reading(repo.id) as history:
                if history.pushes:
                    return Changes(pushes=(PushChange(repo.id, len(history.pushes)),))
        return Changes()
    if event_type.startswith("git.pullrequest."):
        kind = event_type.rsplit(".", 1)[-1]
        prs = _domain(world, "pull_requests")
        found = [pr for pr in (prs.of_repositories(r.id for r in world.repositories) if prs else ())
                 if kind != "merged" or pr.status == PR_COMPLETED]
        if not found:
            return Changes()
        pr = found[0]
        return Changes(pull_requests=(PullRequestChange(pr.id, kind, "StatusUpdateNotification" if kind == "updated" else "",
                                                        pr.closed or pr.created),))
    if event_type in ("build.complete", "ms.vss-pipelines.run-state-changed-event"):
        builds = _domain(world, "build")
        done = [b.id for b in (builds.builds if builds else ()) if b.status == COMPLETED and not b.deleted
                and (event_type == "build.complete" or builds.definitions[b.definition - 1].yaml)]
        if not done:
            return Changes()
        return Changes(builds_completed=(done[-1],)) if event_type == "build.complete" else Changes(runs_changed=(done[-1],))
    if event_type.startswith("workitem."):
        items = _domain(world, "work_items")
        kind = event_type.split(".", 1)[1]
        if items is None:
            return Changes()
        if kind == "deleted":
            gone = list(items.deleted_at)
            if not gone:
                return Changes()
            return Changes(work_items=(WorkItemChange(gone[-1], items.log.revisions(gone[-1]), kind,
                                                      items.deleted_at[gone[-1]] // 1000),))
        log = items.log
        for position in range(len(log) - 1, -1, -1):
            item_id = log.item[position]
            if items.item(item_id) is None:
                continue
            if kind == "created" and log.rev[position] != 1:
                continue
            if kind == "commented" and not adds_comment(log.code[position] & 0xFF):
                continue
            return Changes(work_items=(WorkItemChange(item_id, log.rev[position], kind, log.time[position]),))
        return Changes()
    if event_type == "tfvc.checkin":
        tfvc = _domain(world, "tfvc")
        return Changes(changesets=(len(tfvc.changesets),)) if tfvc is not None and tfvc.changesets else Changes()
    if event_type == "ms.vss-release.deployment-completed-event":
        releases = _domain(world, "release")
        done = [d.id for d in (releases.deployments if releases else ()) if d.done(world.clock)
                and not releases.releases[d.release - 1].deleted]
        return Changes(deployments_completed=(done[-1],)) if done else Changes()
    return Changes()

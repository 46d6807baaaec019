"""Classic release area data: release definitions (each deploying the builds of one build definition
of its project to a chain of environments), releases of real builds, and their deployments.

A release plans its deployments when it is created (environment by environment, a failed one
sometimes redeployed, a failure stopping the chain). A planned deployment becomes real, and gets
its id, once its queue time has passed; its status then follows the clock (queued or waiting for
approval, inProgress, then succeeded / partiallySucceeded / failed). Deploy phases, jobs and tasks
are generated on demand from the deployment id.
"""

from __future__ import annotations

import random
import time
from bisect import bisect_right
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from standins.ado_simulator.world.pipelines.builds import COMPLETED, LATE_SHARE, Build, builds_of
from standins.ado_simulator.world.gc_pause import gc_paused
from standins.ado_simulator.world.generate import EPOCH, guid, split_commits
from standins.ado_simulator.world.model import iso_fraction
from standins.ado_simulator.world.scales import AREA_SCALES

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["ReleaseDefinition", "Release", "Deployment", "DeployTask", "ReleaseDomain", "build_releases", "releases_of",
           "release_time", "NOT_DEPLOYED", "IN_PROGRESS"]

DAY = 86400
NOT_DEPLOYED, IN_PROGRESS = "notDeployed", "inProgress"
_CHAINS = (("Dev", "QA", "Prod"), ("Dev", "QA", "Prod"), ("Dev", "Prod"), ("Staging", "Production"), ("Test",))
_OUTCOMES = ("succeeded",) * 85 + ("partiallySucceeded",) * 3 + ("failed",) * 12
_DEPLOY_TASKS = (("Deploy Azure App Service", ("497d490f-eea7-4f2b-ab94-48d9c1acdcb1", "AzureRmWebAppDeployment", "4.236.0")),
                 ("IIS web app deploy", ("1b467810-6725-4b6d-accd-886174c09bba", "IISWebAppDeploymentOnMachineGroup", "0.226.0")),
                 ("PowerShell Script", ("e213ff0f-5d5c-4791-802d-52ea3e7be1f1", "PowerShell", "2.228.0")),
                 ("Run database migrations", ("d9bafed4-0b18-4f58-968d-86655b4d2ce9", "CmdLine", "2.212.0")))
_DOWNLOAD = ("30f35852-3f7e-4c0c-9a88-e127b4f97211", "DownloadBuildArtifacts", "0.1.0")


def release_time(seconds: int, key: int, kind: int) -> str:
    """ISO time with a 3-digit millisecond fraction derived from an id (RM writes milliseconds)."""
    return iso_fraction(seconds, ((key * 7919 + kind * 331) % 1000) * 10_000)


@dataclass(frozen=True, slots=True)
class ReleaseDefinition:
    id: int
    project: int  # index into world.projects
    name: str
    path: str
    build_definition: int  # the build definition whose builds it deploys (its primary artifact)
    environments: tuple[str, ...]
    environment_ids: tuple[int, ...]  # definition environment ids, collection-wide
    created: int
    modified: int
    author: int
    revision: int

    @property
    def alias(self) -> str:
        return "_" + self.name.removesuffix(" CD")


@dataclass(frozen=True, slots=True)
class Release:
    id: int
    definition: int
    name: str
    build: int  # the build it deploys
    created: int
    created_by: int
    reason: str  # continuousIntegration | manual
    environment_ids: tuple[int, ...]  # release environment ids, one per definition environment
    status: str = "active"  # active | abandoned
    modified: int = 0
    deleted: bool = False
    keep_forever: bool = False  # set by an edit (``release_edits`` semantics), as is ``comment``
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployment attempt of a release to an environment, with planned times and outcome."""

    id: int
    release: int
    environment: int  # index into the definition's environments
    attempt: int
    reason: str  # automated | manual | redeployTrigger
    requested_by: int
    queued: int
    started: int
    completed: int
    outcome: str  # succeeded | partiallySucceeded | failed
    visible: int = 0  # committed late (``late_visible`` semantics): its completion reads from this clock on

    def done(self, clock: int) -> bool:
        """Completed as read at ``clock``."""
        return self.completed <= clock and self.visible <= clock

    def status(self, clock: int) -> str:
        return NOT_DEPLOYED if self.started > clock else self.outcome if self.done(clock) else IN_PROGRESS

    def modified(self, clock: int) -> int:
        return self.queued if self.started > clock else self.completed if self.done(clock) else self.started


@dataclass(frozen=True, slots=True)
class DeployTask:
    """One task of a deployment job (or the job itself, ``rank`` 0), as the clock shows it."""

    id: int
    record_id: str
    name: str
    rank: int
    start: int | None
    finish: int | None
    status: str  # pending | inProgress | succeeded | partiallySucceeded | failed | skipped
    task: tuple[str, str, str] | None
    agent: str
    issue: str | None
    lines: int


@dataclass(frozen=True, slots=True)
class _Planned:
    """A deployment not queued yet (no id)."""

    queued: int
    release: int
    order: int
    environment: int
    attempt: int
    reason: str
    requested_by: int
    started: int
    completed: int
    outcome: str


class ReleaseDomain:
    """Release definitions, releases and deployments (mutable: guarded by ``world.lock``)."""

    name = "release"
    min_versions: dict[str, str] = {}

    def __init__(self, world: "World", seed: int, scale: str) -> None:
        self._world = world
        self._seed = f"{seed}:{scale}:release"
        self.definitions: list[ReleaseDefinition] = []  # definition n is definitions[n - 1]
        self.releases: list[Release] = []  # release n is releases[n - 1]
        self.deployments: list[Deployment] = []  # deployment n is deployments[n - 1]
        self.by_release: dict[int, list[int]] = {}  # release id -> its deployment ids
        self.latest: dict[int, int] = {}  # definition id -> its newest release id
        self._pending: list[_Planned] = []  # sorted by queue time
        self._numbers: dict[int, int] = {}  # definition id -> releases named so far
        self._environments = 0  # release environment ids handed out
        self._seen: dict[int, int] = {}  # definition id -> last build id considered for a release
        sizes = AREA_SCALES[scale]
        rng = random.Random(f"{self._seed}:generate")
        self._make_definitions(rng, sizes.release_definitions)
        self._make_releases(rng, sizes.releases)

    # -- generation ----------------------------------------------------------------------

    def _make_definitions(self, rng: random.Random, count: int) -> None:
        builds = builds_of(self._world)
        candidates = [d for d in builds.definitions if builds.by_definition[d.id]]
        picks = rng.sample(candidates, min(count, len(candidates)))
        picks += [rng.choice(candidates) for _ in range(count - len(picks))]
        names: set[tuple[int, str]] = set()
        environment_id = 0
        for i, build_definition in enumerate(picks):
            name = f"{build_definition.name} CD"
            while (build_definition.project, name.lower()) in names:
                name = name.removesuffix(" CD") + "-2 CD"
            names.add((build_definition.project, name.lower()))
            chain = rng.choice(_CHAINS)
            ids = tuple(range(environment_id + 1, environment_id + 1 + len(chain)))
            environment_id += len(chain)
            created = EPOCH - rng.randint(10, 60) * DAY + rng.randrange(DAY)
            self.definitions.append(ReleaseDefinition(
                i + 1, build_definition.project, name, rng.choice(("\\", "\\", "\\Services")), build_definition.id, chain,
                ids, created, created + rng.randint(0, 9) * DAY, rng.randrange(len(self._world.people)), rng.randint(1, 9)))

    def _make_releases(self, rng: random.Random, total: int) -> None:
        """``total`` releases of completed good builds; the newest few created in the last hours."""
        world = self._world
        builds = builds_of(world)
        clock = world.clock
        recent = min(total, max(1, total // 100))
        shares = split_commits(rng, total - recent, len(self.definitions), min(1, (total - recent) // len(self.definitions)))
        planned: list[tuple[int, int, int, str]] = []  # (created, definition, build, reason)
        for definition, share in zip(self.definitions, shares):
            good = self._good_builds(definition, clock - 6 * 3600)
            if not good:
                continue
            picks = sorted(rng.sample(good, min(share, len(good))), key=lambda b: b.id)
            picks += [rng.choice(good) for _ in range(share - len(picks))]
            for build in picks:
                created = min(build.finished + rng.randint(30, 2 * DAY), clock - 3 * 3600)
                planned.append((created, definition.id, build.id, rng.choice(("continuousIntegration",) * 4 + ("manual",))))
        for _ in range(recent):
            definition = rng.choice(self.definitions)
            good = self._good_builds(definition, clock - 2 * 3600)
            if good:
                planned.append((clock - rng.randint(60, 5400), definition.id, good[-1].id, "manual"))
        planned.sort()
        for created, definition_id, build_id, reason in planned:
            self._create(rng, created, self.definitions[definition_id - 1], builds.builds[build_id - 1], reason)
        for definition in self.definitions:
            ids = builds.by_definition[definition.build_definition]
            done = next((i for i, b in enumerate(ids) if builds.builds[b - 1].status != COMPLETED), len(ids))
            self._seen[definition.id] = ids[done - 1] if done else 0
        self._materialize(clock)
        self._retire(rng, clock)

    def _good_builds(self, definition: ReleaseDefinition, before: int) -> list[Build]:
        """Completed, succeeded or partially succeeded builds of the definition's build definition."""
        builds = builds_of(self._world)
        found = (builds.builds[i - 1] for i in builds.by_definition[definition.build_definition])
        return [b for b in found if b.status == COMPLETED and b.finished < before and not b.deleted
                and b.result in ("succeeded", "partiallySucceeded")]

    def _create(self, rng: random.Random, created: int, definition: ReleaseDefinition, build: Build, reason: str) -> Release:
        if self.releases:
            created = max(created, self.releases[-1].created + 1)
        number = self._numbers.get(definition.id, 0) + 1
        self._numbers[definition.id] = number
        ids = tuple(range(self._environments + 1, self._environments + 1 + len(definition.environments)))
        self._environments += len(ids)
        creator = build.requested_for if reason == "continuousIntegration" else rng.randrange(len(self._world.people))
        release = Release(len(self.releases) + 1, definition.id, f"Release-{number}", build.id, created, creator, reason,
                          ids, modified=created)
        self.releases.append(release)
        self.by_release[release.id] = []
        self.latest[definition.id] = release.id
        self._pending += self._plan(rng, release, definition)
        return release

    def _plan(self, rng: random.Random, release: Release, definition: ReleaseDefinition) -> list[_Planned]:
        """The deployments a release will go through: environment by environment until one fails or stops."""
        plans: list[_Planned] = []
        at = release.created + rng.randint(5, 60)
        for index in range(len(definition.environments)):
            if index and rng.random() < 0.2:
                break  # not promoted further
            attempt, outcome = 0, "failed"
            while attempt < 2 and (attempt == 0 or rng.random() < 0.5):
                attempt += 1
                wait = rng.randint(5, 120) if index == 0 and attempt == 1 else rng.randint(600, DAY)
                started = at + wait
                completed = started + rng.randint(60, 900)
                outcome = rng.choice(_OUTCOMES)
                reason = "automated" if index == 0 and attempt == 1 else "redeployTrigger" if attempt > 1 else "manual"
                requester = release.created_by if reason == "automated" else rng.randrange(len(self._world.people))
                plans.append(_Planned(at, release.id, len(plans), index, attempt, reason, requester, started, completed, outcome))
                at = completed + rng.randint(300, DAY)
                if outcome != "failed":
                    break
            if outcome == "failed":
                break
        return plans

    def _materialize(self, clock: int) -> int:
        """Give ids to the planned deployments queued by ``clock``; returns how many."""
        self._pending.sort(key=lambda p: (p.queued, p.release, p.order))
        due = bisect_right(self._pending, clock, key=lambda p: p.queued)
        for plan in self._pending[:due]:
            deployment = Deployment(len(self.deployments) + 1, plan.release, plan.environment, plan.attempt, plan.reason,
                                    plan.requested_by, plan.queued, plan.started, plan.completed, plan.outcome)
            self.deployments.append(deployment)
            self.by_release[plan.release].append(deployment.id)
        del self._pending[:due]
        return due

    def _retire(self, rng: random.Random, clock: int) -> None:
        """Old releases whose chain failed get abandoned; a few old ones are deleted."""
        for release in self.releases:
            deployments = [self.deployments[i - 1] for i in self.by_release[release.id]]
            last = deployments[-1] if deployments else None
            if last and last.outcome == "failed" and last.completed < clock - 2 * DAY and not self._planned(release):
                if rng.random() < 0.4:
                    modified = last.completed + rng.randint(3600, DAY)
                    self.releases[release.id - 1] = replace(release, status="abandoned", modified=modified)
            elif release.created < clock - 30 * DAY and rng.random() < 0.02:
                self.releases[release.id - 1] = replace(release, deleted=True)

    def _planned(self, release: Release) -> bool:
        return any(p.release == release.id for p in self._pending)

    # -- derived content -----------------------------------------------------------------

    def environment_status(self, release: Release, index: int, clock: int) -> str:
        """ReleaseEnvironment status from its latest deployment."""
        attempts = [d for d in self.deployments_of(release) if d.environment == index]
        if not attempts:
            return "notStarted"
        status = attempts[-1].status(clock)
        return {NOT_DEPLOYED: "queued", "failed": "rejected"}.get(status, status)

    def deployments_of(self, release: Release) -> list[Deployment]:
        return [self.deployments[i - 1] for i in self.by_release[release.id]]

    def run_plan(self, deployment: Deployment) -> str:
        return guid(random.Random(f"{self._seed}:plan:{deployment.id}"))

    def deploy_tasks(self, deployment: Deployment, clock: int) -> list[DeployTask]:
        """The deployment job (rank 0) and its tasks as seen at ``clock``."""
        rng = random.Random(f"{self._seed}:tasks:{deployment.id}")
        definition = self.definitions[self.releases[deployment.release - 1].definition - 1]
        steps: list[tuple[str, tuple[str, str, str] | None]] = [("Initialize job", None)]
        steps.append((f"Download artifact - {definition.alias}", _DOWNLOAD))
        steps += rng.sample(_DEPLOY_TASKS, rng.randint(1, 2))
        steps.append(("Finalize Job", None))
        agent = f"Deploy-Agent-{rng.randint(1, 4):02d}"
        bad = len(steps) - 2 if deployment.outcome != "succeeded" else -1
        begin, end = deployment.started, deployment.completed
        bounds = sorted(rng.sample(range(begin + 1, max(end, begin + len(steps) + 1)), len(steps) - 1))
        windows = list(zip([begin] + bounds, bounds + [end]))
        ids = [rng.randint(1, 9) for _ in steps]
        tasks = [self._task(1, guid(rng), "Agent job", 0, (begin, end), deployment.outcome, None, agent, clock, None)]
        failed = False
        for rank, ((name, task), window) in enumerate(zip(steps, windows), start=1):
            outcome = "succeeded"
            issue = None
            if rank - 1 == bad:
                outcome, issue = deployment.outcome, "Deployment step reported errors." if deployment.outcome == "failed" \
                    else "Deployment step reported warnings."
                failed = deployment.outcome == "failed"
            elif failed and task is not None:
                outcome = "skipped"
            tasks.append(self._task(rank * 10 + ids[rank - 1], guid(rng), name, rank, window, outcome, task, agent, clock, issue))
        return tasks

    @staticmethod
    def _task(task_id: int, record_id: str, name: str, rank: int, window: tuple[int, int], outcome: str,
              task: tuple | None, agent: str, clock: int, issue: str | None) -> DeployTask:
        begin, end = window
        if outcome == "skipped":
            return DeployTask(task_id, record_id, name, rank, None, None, "skipped" if end <= clock else "pending",
                              task, agent, None, 0)
        if end <= clock:
            return DeployTask(task_id, record_id, name, rank, begin, end, outcome, task, agent, issue, (end - begin) // 2 + 5)
        if begin <= clock:
            return DeployTask(task_id, record_id, name, rank, begin, None, "inProgress", task, agent, None, 0)
        return DeployTask(task_id, record_id, name, rank, None, None, "pending", task, agent, None, 0)

    # -- lookups -------------------------------------------------------------------------

    def definition(self, definition_id: int) -> ReleaseDefinition | None:
        return self.definitions[definition_id - 1] if 1 <= definition_id <= len(self.definitions) else None

    def release(self, release_id: int) -> Release | None:
        return self.releases[release_id - 1] if 1 <= release_id <= len(self.releases) else None

    # -- Domain --------------------------------------------------------------------------

    def truth(self) -> dict[str, list[str]]:
        c = self._world.collection.id
        live = [r for r in self.releases if not r.deleted]
        return {
            "release.definition": sorted(f"{c}:{d.id}" for d in self.definitions),
            "release.release": sorted(f"{c}:{r.id}" for r in live),
            "release.deployment": sorted(f"{c}:{d}" for r in live for d in self.by_release[r.id]),
        }

    def advance(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """Builds that completed well since the last step get releases; due deployments are queued. With the
        ``late_visible`` / ``release_edits`` semantics, some completions are committed late and some
        releases are abandoned or edited (random streams of their own)."""
        semantics = self._world.semantics
        if semantics.release_edits:
            self._edit_some(random.Random(f"{self._seed}:edit:{clock}"), clock, counts)
        builds = builds_of(self._world)
        fresh: list[tuple[int, ReleaseDefinition, Build]] = []
        for definition in self.definitions:
            ids = builds.by_definition[definition.build_definition]
            for build_id in ids[bisect_right(ids, self._seen[definition.id]):]:
                build = builds.builds[build_id - 1]
                if build.status != COMPLETED:
                    break
                self._seen[definition.id] = build_id
                if not build.deleted and build.result in ("succeeded", "partiallySucceeded") and rng.random() < 0.5:
                    fresh.append((min(build.finished + rng.randint(30, 600), clock), definition, build))
        fresh.sort(key=lambda item: (item[0], item[1].id))
        for created, definition, build in fresh:
            self._create(rng, created, definition, build, "continuousIntegration")
        counts["releases"] = counts.get("releases", 0) + len(fresh)
        counts["deployments"] = counts.get("deployments", 0) + self._materialize(clock)
        if semantics.late_visible:
            self._commit_late(random.Random(f"{self._seed}:late:{clock}"), clock, counts)

    def _commit_late(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """Some deployments that completed in this step are committed late: they still read as inProgress now
        and complete at the next step with the time they have, which is earlier than the lastModifiedOn of a
        deployment of their project already visible now (a late commit, or one tier's clock behind another's).
        release/azure-devops-server-{5.0..7.1}/release-onprem.json, Deployments - List: ``minModifiedTime`` is
        the only time filter that sees a status change; a reader resuming after the newest lastModifiedOn
        it read never sees these complete."""
        before = clock - 3600
        recent = self.deployments[-3000:]
        newest: dict[int, int] = {}  # project index -> newest lastModifiedOn visible now
        for deployment in recent:
            project = self._project_of(deployment)
            newest[project] = max(newest.get(project, 0), deployment.modified(clock))
        for deployment in recent:
            if (not before < deployment.completed <= clock or deployment.visible
                    or newest[self._project_of(deployment)] <= deployment.completed + 60 or rng.random() >= LATE_SHARE):
                continue
            self.deployments[deployment.id - 1] = replace(deployment, visible=clock + 1)
            counts["deployments_late"] = counts.get("deployments_late", 0) + 1

    def _project_of(self, deployment: Deployment) -> int:
        return self.definitions[self.releases[deployment.release - 1].definition - 1].project

    def _edit_some(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """Now and then a release at rest (no deployment running or planned) is abandoned or edited (keepForever,
        a comment), with no deployment change. release/azure-devops-server-{5.0..7.1}/release-onprem.json: Releases - Update
        Release Resource "Update few properties of a release." (ReleaseUpdateMetadata: status "abandoned",
        keepForever, comment); Releases - List filters only on creation: minCreatedTime "Releases that were
        created after this time."; its modifiedOn "Gets date on which it got modified." moves."""
        if rng.random() >= 0.4:
            return
        when = clock - rng.randint(60, 1800)
        planned = {p.release for p in self._pending}
        live = [r for r in self.releases[-300:] if r.status == "active" and not r.deleted and r.created < when
                and r.id not in planned and all(d.completed < when for d in self.deployments_of(r))]  # at rest
        if not live:
            return
        release = rng.choice(live)
        if rng.random() < 0.5:
            self.releases[release.id - 1] = replace(release, status="abandoned", modified=when)
            counts["releases_abandoned"] = counts.get("releases_abandoned", 0) + 1
        else:
            comment = f"Kept for the {time.strftime('%B %Y', time.gmtime(when))} audit."
            self.releases[release.id - 1] = replace(release, keep_forever=True, comment=comment, modified=when)
            counts["releases_edited"] = counts.get("releases_edited", 0) + 1


def build_releases(world: "World", seed: int, scale: str) -> ReleaseDomain:
    with gc_paused():
        return ReleaseDomain(world, seed, scale)


def releases_of(world: "World") -> ReleaseDomain:
    return cast(ReleaseDomain, world.domain("release"))

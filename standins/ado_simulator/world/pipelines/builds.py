"""Build area data: definitions (classic designer or YAML, each on one git repository of its
project) and builds of real pushes of that repository.

Builds are queued in id order; each has planned start and finish times and a planned result, and
its status follows the world clock: notStarted until it starts, inProgress until it finishes,
then completed. The YAML definitions are also the Pipelines API's pipelines, their builds its runs.
Timelines are generated on demand (``build_timeline``).
"""

from __future__ import annotations

import random
import time
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from standins.ado_simulator.world.pipelines.build_timeline import (
    DeploymentRun,
    TimelineRecord,
    deployment_runs,
    timeline_record_ids,
    timeline_records,
)
from standins.ado_simulator.world.gc_pause import gc_paused
from standins.ado_simulator.world.generate import EPOCH, MAIN, guid, split_commits
from standins.ado_simulator.world.model import Commit, Push, iso_fraction
from standins.ado_simulator.world.scales import AREA_SCALES

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["Queue", "Definition", "Build", "BuildDomain", "DeploymentRun", "ENVIRONMENTS", "build_builds", "builds_of", "stamp", "time_key", "NOT_STARTED",
           "IN_PROGRESS", "COMPLETED"]

DAY = 86400
NOT_STARTED, IN_PROGRESS, COMPLETED = "notStarted", "inProgress", "completed"
_RESULTS = ("succeeded",) * 76 + ("partiallySucceeded",) * 7 + ("failed",) * 12 + ("canceled",) * 5
_FOLDERS = ("\\", "\\", "\\", "\\Services", "\\Release", "\\Nightly")
_POOLS = ((1, "Default"), (2, "Linux"))
ENVIRONMENTS = ("Dev", "Test", "Production")  # the YAML environments of every project, deployed in this order
LATE_SHARE = 0.5  # of the completions that can be committed late (before a later one): late_visible semantics


def time_key(seconds: int, build_id: int, kind: int) -> tuple[int, int]:
    """(seconds, 7-digit fraction): the fraction is unique per build id (for each ``kind`` of time),
    so two builds never share a time and time-ordered paging never ties."""
    return seconds, (build_id * 7919 + kind * 1_234_567) % 10_000_000


def stamp(seconds: int, build_id: int, kind: int) -> str:
    """A build time on the wire: ``time_key`` as ISO with 7 fractional digits."""
    return iso_fraction(*time_key(seconds, build_id, kind))


@dataclass(frozen=True, slots=True)
class Queue:
    id: int
    name: str
    pool_id: int
    pool_name: str


@dataclass(frozen=True, slots=True)
class Definition:
    id: int
    project: int  # index into world.projects
    repository: int  # index into world.repositories
    name: str
    path: str  # folder, "\\" at the root
    yaml: bool  # process type 2 (YAML) or 1 (designer)
    revision: int
    created: int
    modified: int
    author: int  # index into world.people
    queue: Queue
    # A deploying YAML pipeline: its builds of the default branch run Build then Deploy_<env> per environment.
    environments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Build:
    """One build. ``started``/``finished``/``result`` are planned; ``status`` says how far it got."""

    id: int
    definition: int  # definition id
    number: str
    branch: str
    commit: str
    reason: str
    requested_for: int
    requested_by: int
    queued: int
    started: int
    finished: int
    result: str
    status: str
    changed: int  # lastChangedDate
    deleted: int = 0  # deletion time, 0 while it exists
    deleted_by: int = 0
    # Reruns (``pipeline_reruns`` semantics): ``attempt`` counts them from 1; ``started``/``finished``/``result``
    # stay the build's start and its latest attempt's finish and result, ``rerun`` is when the latest attempt
    # started and ``first`` the (finish, result) attempt 1 had (0, "": never re-run).
    attempt: int = 1
    rerun: int = 0
    first: tuple[int, str] = (0, "")


class BuildDomain:
    """Definitions and builds of the collection (mutable: guarded by ``world.lock``)."""

    name = "build"
    min_versions = {"pipelines.pipeline": "6.0", "pipelines.run": "6.0"}

    def __init__(self, world: "World", seed: int, scale: str) -> None:
        self._world = world
        self._seed = f"{seed}:{scale}:build"
        self.definitions: list[Definition] = []  # definition n is definitions[n - 1]
        self.builds: list[Build] = []  # build n is builds[n - 1]
        self.by_definition: dict[int, list[int]] = {}  # definition id -> its build ids, ascending
        self._active: list[int] = []  # ids of builds not completed yet
        self._numbers: dict[tuple[int, str], int] = {}  # (definition, yyyymmdd) -> builds numbered that day
        self._pushes_seen: dict[int, int] = {}  # repository index -> pushes already turned into builds
        self.late: set[int] = set()  # builds whose completion was committed late (late_visible semantics)
        self._work_items = AREA_SCALES[scale].work_items
        sizes = AREA_SCALES[scale]
        rng = random.Random(f"{self._seed}:generate")
        self._make_definitions(rng, sizes.build_definitions)
        self._choose_deploying(random.Random(f"{self._seed}:deploying"))
        self._make_builds(rng, sizes.builds)

    # -- generation ----------------------------------------------------------------------

    def _make_definitions(self, rng: random.Random, count: int) -> None:
        world = self._world
        repos = len(world.repositories)
        picks = rng.sample(range(repos), min(count, repos)) + [rng.randrange(repos) for _ in range(count - repos)]
        names: set[tuple[int, str]] = set()
        for i, repo_index in enumerate(picks):
            repo = world.repositories[repo_index]
            project = next(p for p, proj in enumerate(world.projects) if proj.id == repo.project_id)
            yaml = i == 0 or (i != 1 and rng.random() < 0.6)
            name = repo.name if yaml else f"{repo.name} CI"
            while (project, name.lower()) in names:
                name += "-2"
            names.add((project, name.lower()))
            pool_id, pool_name = rng.choice(_POOLS)
            queue = Queue(project * len(_POOLS) + pool_id, pool_name, pool_id, pool_name)
            created = EPOCH - rng.randint(20, 90) * DAY + rng.randrange(DAY)
            modified = created + rng.randint(0, 15) * DAY + rng.randrange(DAY)
            self.definitions.append(Definition(i + 1, project, repo_index, name, rng.choice(_FOLDERS), yaml,
                                               rng.randint(1, 14), created, modified, rng.randrange(len(world.people)), queue))
            self.by_definition[i + 1] = []

    def _choose_deploying(self, rng: random.Random) -> None:
        """Per project its first YAML definition deploys to the environments, and about one in five of the others."""
        seen: set[int] = set()
        for definition in self.definitions:
            if definition.yaml and (definition.project not in seen or rng.random() < 0.2):
                self.definitions[definition.id - 1] = replace(definition, environments=ENVIRONMENTS)
            if definition.yaml:
                seen.add(definition.project)

    def _make_builds(self, rng: random.Random, total: int) -> None:
        """``total`` builds: CI builds of pushes, manual re-runs, and a few queued or running near the clock."""
        world = self._world
        recent = min(total, max(2, total // 100))
        shares = split_commits(rng, total - recent, len(self.definitions), min(10, (total - recent) // len(self.definitions)))
        planned: list[tuple[int, int, str, str, str, int]] = []  # (queued, definition, branch, commit, reason, requester)
        for definition, share in zip(self.definitions, shares):
            repo = world.repositories[definition.repository]
            with world.reading(repo.id) as history:
                pushes = history.pushes
                self._pushes_seen[definition.repository] = len(pushes)
                triggers = [p for p in pushes if definition.yaml or p.ref_updates[0].name == MAIN] or pushes
                chosen = sorted(rng.sample(range(len(triggers)), min(share, len(triggers))))
                for index in chosen:
                    planned.append(self._ci_plan(rng, definition, triggers[index]))
                for _ in range(share - len(chosen)):  # manual re-runs of pushed commits
                    push = rng.choice(triggers)
                    update = push.ref_updates[0]
                    queued = push.time + rng.randint(600, 2 * DAY)
                    if queued > world.clock - 3600:
                        queued = push.time + 300
                    planned.append((queued, definition.id, update.name, update.new_object_id, "manual",
                                    rng.randrange(len(world.people))))
        for _ in range(recent):
            definition = rng.choice(self.definitions)
            with world.reading(world.repositories[definition.repository].id) as history:
                head = history.head(MAIN) or ""
            planned.append((world.clock - rng.randint(60, 2400), definition.id, MAIN, head, "manual",
                            rng.randrange(len(world.people))))
        planned.sort()
        for index, (queued, definition_id, branch, commit, reason, requester) in enumerate(planned):
            near = index >= len(planned) - recent
            self._queue(rng, queued, definition_id, branch, commit, reason, requester, world.clock, near)
        self._delete_some(rng, total // 100, None)

    def _ci_plan(self, rng: random.Random, definition: Definition, push: Push) -> tuple[int, int, str, str, str, int]:
        update = push.ref_updates[0]
        reason = "batchedCI" if rng.random() < 0.2 else "individualCI"
        if update.name == MAIN and rng.random() < 0.05:
            reason = "schedule"
        return push.time + rng.randint(5, 90), definition.id, update.name, update.new_object_id, reason, push.pusher

    def _queue(self, rng: random.Random, queued: int, definition_id: int, branch: str, commit: str, reason: str,
               requester: int, clock: int, near: bool = False) -> Build:
        """Add a build queued at ``queued``; its status follows ``clock``."""
        build_id = len(self.builds) + 1
        day = time.strftime("%Y%m%d", time.gmtime(queued))
        count = self._numbers.get((definition_id, day), 0) + 1
        self._numbers[(definition_id, day)] = count
        started = queued + rng.randint(3, 240)
        finished = started + rng.randint(90, 1800)
        if near and queued < clock - 60 and rng.random() < 0.5:  # still running
            started = rng.randint(queued + 1, clock - 30)
            finished = clock + rng.randint(120, 1800)
        elif near:  # still waiting for an agent
            started = max(queued + 3, clock + rng.randint(60, 900))
            finished = started + rng.randint(90, 1800)
        result = rng.choice(_RESULTS)
        if result == "canceled":
            finished = started + (finished - started) // 3
        status = NOT_STARTED if started > clock else IN_PROGRESS if finished > clock else COMPLETED
        changed = {NOT_STARTED: queued, IN_PROGRESS: started, COMPLETED: finished + rng.randint(1, 20)}[status]
        build = Build(build_id, definition_id, f"{day}.{count}", branch, commit, reason, requester,
                      requester if reason != "schedule" else self.definitions[definition_id - 1].author,
                      queued, started, finished, result, status, changed)
        self.builds.append(build)
        self.by_definition[definition_id].append(build_id)
        if status != COMPLETED:
            self._active.append(build_id)
        return build

    def _delete_some(self, rng: random.Random, attempts: int, now: int | None) -> int:
        """Try to delete ``attempts`` random completed builds (never a definition's latest) at ``now``,
        or (None) by retention some days after they finished."""
        deleted = 0
        clock = self._world.clock
        for _ in range(attempts):
            build = rng.choice(self.builds)
            if build.status != COMPLETED or build.deleted or self.by_definition[build.definition][-1] == build.id:
                continue
            when = now if now is not None else min(clock - 60, build.finished + rng.randint(DAY, 30 * DAY))
            when = max(build.changed + 1, when)
            self._set(replace(build, deleted=when, deleted_by=rng.randrange(len(self._world.people)), changed=when))
            deleted += 1
        return deleted

    def _set(self, build: Build) -> None:
        self.builds[build.id - 1] = build

    # -- derived content -----------------------------------------------------------------

    def plan_id(self, build: Build) -> str:
        """The build's orchestration plan id, which is also its timeline id."""
        return guid(random.Random(f"{self._seed}:plan:{build.id}"))

    def deploys(self, build: Build) -> tuple[str, ...]:
        """The environments the build deploys to: a deploying pipeline's builds of the default branch."""
        return self.definitions[build.definition - 1].environments if build.branch == MAIN else ()

    def timeline(self, build: Build, clock: int) -> list[TimelineRecord]:
        """Timeline records of a started build (see ``build_timeline``)."""
        definition = self.definitions[build.definition - 1]
        repo = self._world.repositories[definition.repository]
        return timeline_records(f"{self._seed}:timeline:{build.id}", build, definition.yaml, repo.name,
                                definition.queue.id, clock, self.deploys(build))

    def timeline_ids(self, build: Build) -> list[str]:
        return timeline_record_ids(f"{self._seed}:timeline:{build.id}", self.definitions[build.definition - 1].yaml,
                                   self.deploys(build))

    def deployment_runs(self, build: Build) -> list[DeploymentRun]:
        """The deployment job attempts of the build's deploy stages (planned times; see ``build_timeline``)."""
        deploy = self.deploys(build)
        if not deploy:
            return []
        definition = self.definitions[build.definition - 1]
        repo = self._world.repositories[definition.repository]
        return deployment_runs(f"{self._seed}:timeline:{build.id}", build, repo.name, definition.queue.id, deploy)

    def previous(self, build: Build) -> Build | None:
        """The definition's build before this one on the same branch."""
        ids = self.by_definition[build.definition]
        for earlier in reversed(ids[: bisect_left(ids, build.id)]):
            candidate = self.builds[earlier - 1]
            if candidate.branch == build.branch:
                return candidate
        return None

    def changes(self, build: Build) -> list[Commit]:
        """changes(B): ``git log previous..B`` against the previous build of the definition and branch (deleted
        ones count), newest first; for the first build of a definition and branch, the commits of the push that
        brought its source commit. Caller holds ``world.lock``."""
        previous = self.previous(build)
        world = self._world
        with world.reading(world.repositories[self.definitions[build.definition - 1].repository].id) as history:
            head = history.commit(build.commit)
            if head is None:
                return []
            if previous is not None and history.commit(previous.commit) is not None:  # (a deleted branch's build has none)
                return [history.commits[p] for p in history.between(build.commit, previous.commit)]
            brought = history.pushes[head.push_id - 1].commit_ids if head.push_id else (build.commit,)
            return sorted((history.commits[history.positions[c]] for c in brought), key=lambda c: -history.positions[c.commit_id])

    def changes_between(self, first: Build, last: Build) -> list[Commit]:
        """``git log first..last`` (Get Changes Between Builds), newest first. Caller holds ``world.lock``."""
        world = self._world
        with world.reading(world.repositories[self.definitions[last.definition - 1].repository].id) as history:
            if history.commit(last.commit) is None:
                return []
            exclude = first.commit if history.commit(first.commit) is not None else None
            return [history.commits[p] for p in history.between(last.commit, exclude)]

    def work_items(self, build: Build) -> list[int]:
        """Ids of the work items linked to the build's commits."""
        rng = random.Random(f"{self._seed}:workitems:{build.id}")
        if not self._work_items:
            return []
        return sorted(rng.sample(range(1, self._work_items + 1), min(self._work_items, rng.choice((0, 0, 1, 1, 2, 3)))))

    # -- lookups -------------------------------------------------------------------------

    def definition(self, definition_id: int) -> Definition | None:
        return self.definitions[definition_id - 1] if 1 <= definition_id <= len(self.definitions) else None

    def build(self, build_id: int) -> Build | None:
        return self.builds[build_id - 1] if 1 <= build_id <= len(self.builds) else None

    # -- Domain --------------------------------------------------------------------------

    def truth(self) -> dict[str, list[str]]:
        c = self._world.collection.id
        live = [b for b in self.builds if not b.deleted]
        records = [f"{c}:{b.id}:{r}" for b in live if b.status != NOT_STARTED for r in self.timeline_ids(b)]
        yaml = {d.id for d in self.definitions if d.yaml}
        changes = [f"{c}:{b.id}:{commit.commit_id}" for b in live if b.status == COMPLETED for commit in self.changes(b)]
        return {
            "build.change": sorted(changes),
            "build.definition": sorted(f"{c}:{d.id}" for d in self.definitions),
            "build.build": sorted(f"{c}:{b.id}" for b in live),
            "build.timeline_record": sorted(records),
            "pipelines.pipeline": sorted(f"{c}:{d}" for d in yaml),
            "pipelines.run": sorted(f"{c}:{b.id}" for b in live if b.definition in yaml),
        }

    def advance(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """Queued builds start, running ones finish, new pushes queue CI builds, now and then one is deleted.
        With the ``late_visible`` / ``pipeline_reruns`` semantics, some completions are committed late and
        some completed runs are re-run (random streams of their own)."""
        semantics = self._world.semantics
        known = len(self.builds)  # builds above this id were queued in this step
        finishing: list[int] = []  # queued earlier, completed in this step
        still = []
        for build_id in self._active:
            build = self.builds[build_id - 1]
            if build.finished <= clock:
                finishing.append(build_id)
                self._set(replace(build, status=COMPLETED, changed=build.finished + rng.randint(1, 20)))
                counts["builds_completed"] = counts.get("builds_completed", 0) + 1
                continue
            if build.status == NOT_STARTED and build.started <= clock:
                self._set(replace(build, status=IN_PROGRESS, changed=build.started))
            still.append(build_id)
        self._active = still
        queued = 0
        world = self._world
        for definition in self.definitions:
            repo = world.repositories[definition.repository]
            with world.reading(repo.id) as history:
                new = history.pushes[self._pushes_seen[definition.repository] :]
            for push in new:
                if (definition.yaml or push.ref_updates[0].name == MAIN) and rng.random() < 0.8:
                    self._queue(rng, *self._ci_plan(rng, definition, push), clock)
                    queued += 1
        for definition in self.definitions:
            with world.reading(world.repositories[definition.repository].id) as history:
                self._pushes_seen[definition.repository] = len(history.pushes)
        counts["builds"] = counts.get("builds", 0) + queued
        if rng.random() < 0.1:
            counts["builds_deleted"] = counts.get("builds_deleted", 0) + self._delete_some(rng, 1, clock - rng.randint(0, 3000))
        if semantics.pipeline_reruns:
            self._rerun_some(random.Random(f"{self._seed}:rerun:{clock}"), clock, counts)
        if semantics.late_visible:
            fresh = finishing + [b for b in range(known + 1, len(self.builds) + 1)
                                 if self.builds[b - 1].status == COMPLETED]
            self._commit_late(random.Random(f"{self._seed}:late:{clock}"), fresh, counts)

    def _commit_late(self, rng: random.Random, fresh: list[int], counts: dict[str, int]) -> None:
        """Some builds that completed in this step are committed late: they still read as inProgress now and
        complete at the next step with the finish time they have, which is earlier than the finish time of a
        build of their project that is already visible now (a late commit, or one tier's clock behind
        another's). build/azure-devops-server-{5.0..7.1}/build-onprem.json, Get Builds ``minTime``: "If
        specified, filters to builds that finished/started/queued after this date based on the queryOrder
        specified." A reader that resumes after the newest finish time it read never sees them complete."""
        newest: dict[int, int] = {}  # project index -> newest finish time of the builds visible as completed
        for build_id in fresh:
            build = self.builds[build_id - 1]
            project = self.definitions[build.definition - 1].project
            newest[project] = max(newest.get(project, 0), build.finished)
        for build_id in fresh:
            build = self.builds[build_id - 1]
            project = self.definitions[build.definition - 1].project
            if (build_id in self.late or build.deleted or newest[project] <= build.finished + 60
                    or rng.random() >= LATE_SHARE):
                continue
            self.late.add(build_id)
            self._set(replace(build, status=IN_PROGRESS, changed=max(build.started, build.rerun)))
            self._active.append(build_id)
            counts["builds_late"] = counts.get("builds_late", 0) + 1

    def _rerun_some(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """Now and then a failed or canceled YAML run of the last two days is re-run ("Rerun failed jobs"): the
        same run (build) id, a new attempt. build/azure-devops-server-{5.0..7.1}/build-onprem.json: Builds -
        Update Build takes ``retry``, and (6.0+) Stages - Update ``UpdateStageParameters.state`` "retry";
        TimelineRecord ``attempt`` "Attempt number of record." and ``previousAttempts`` (TimelineAttempt:
        "the timeline identifier which owns the record representing this attempt"). The build goes back to
        inProgress, then completes again with a new result and finish time (pipelines Run state, result,
        finishedDate change with it); the re-run stage's records carry the new attempt and one
        previousAttempts entry per earlier one. Most re-runs start and finish inside the hour."""
        if rng.random() >= 0.5:
            return
        candidates = [b.id for b in self.builds[-500:]
                      if b.status == COMPLETED and not b.deleted and b.result in ("failed", "canceled")
                      and b.attempt < (2 if self.deploys(b) else 3) and b.finished >= clock - 2 * DAY
                      and self.definitions[b.definition - 1].yaml]
        for build_id in rng.sample(candidates, min(len(candidates), rng.randint(1, 2))):
            build = self.builds[build_id - 1]
            start = max(build.changed + 60, clock - rng.randint(1200, 3300))
            finish = start + (rng.randint(90, 1000) if rng.random() < 0.8 else rng.randint(3600, 5400))
            first = build.first if build.attempt > 1 else (build.finished, build.result)
            result = "succeeded" if rng.random() < 0.75 else "failed"
            status = IN_PROGRESS if finish > clock else COMPLETED
            changed = start if status == IN_PROGRESS else finish + rng.randint(1, 20)
            self._set(replace(build, attempt=build.attempt + 1, rerun=start, first=first, finished=finish, result=result,
                              status=status, changed=changed))
            if status != COMPLETED:
                self._active.append(build_id)
            counts["builds_rerun"] = counts.get("builds_rerun", 0) + 1


def build_builds(world: "World", seed: int, scale: str) -> BuildDomain:
    with gc_paused():
        return BuildDomain(world, seed, scale)


def builds_of(world: "World") -> BuildDomain:
    return cast(BuildDomain, world.domain("build"))

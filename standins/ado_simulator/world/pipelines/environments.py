"""YAML environments (Server 2020+) and their deployment records, from the deploying pipelines' runs.

Every project has the environments ``ENVIRONMENTS`` (Dev, Test, Production). A deployment record is one
attempt of a deploy stage's deployment job (``build_timeline.deployment_runs``): it exists once its queue
time has passed and then follows the clock (started, finished with a result). Record ids are collection-wide
and ascend with the queue time, as a server numbers records when their jobs are queued.

With the ``late_visible`` semantics, of two or more records of one environment given ids in a step, a lower
one may be committed after a higher one: it reads from the next step on, below an id a reader has already
listed (a server gives ids at insert; a reader sees a row at commit).

The index of records is built on first use (a route, the truth, or the first ``advance``, not at generation)
from the builds as they are then, and kept up by ``advance``: both give the same ids, because a record that becomes known in a
step is always queued within that step's hour (new builds, re-runs), after every record known before.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from standins.ado_simulator.world.generate import EPOCH
from standins.ado_simulator.world.pipelines.builds import ENVIRONMENTS, builds_of

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["Environment", "EnvironmentDeployment", "EnvironmentDomain", "build_environments", "environments_of",
           "RECORD_TYPES"]

DAY = 86400
RECORD_TYPES = ("distributedtask.environment", "distributedtask.environment_deployment")
_DESCRIPTIONS = {"Dev": "Development: every change of main", "Test": "Integration tests",
                 "Production": "Customer-facing"}
_RECENT = 500  # re-runs only pick among the newest builds (BuildDomain._rerun_some)
LATE_SHARE = 0.5  # of the records below a higher one of their environment in their step, committed after it


@dataclass(frozen=True, slots=True)
class Environment:
    id: int
    project: int  # index into world.projects
    name: str
    description: str
    created: int
    created_by: int  # index into world.people


@dataclass(frozen=True, slots=True)
class EnvironmentDeployment:
    """One deployment record: planned times; ``seen(clock)`` says what a reader sees of them."""

    id: int
    environment_id: int
    project: int  # index into world.projects
    build_id: int  # owner.id: the run (build) that deployed
    definition_id: int  # definition.id: the pipeline
    stage: str  # stageName, Deploy_<environment>
    stage_order: int  # the Stage timeline record's ``order``
    attempt: int  # stageAttempt = jobAttempt
    job: str
    queued: int
    started: int
    finished: int
    result: str  # succeeded | succeededWithIssues | failed | canceled

    def seen(self, clock: int) -> tuple[int | None, int | None, str | None]:
        """(startTime, finishTime, result) at ``clock``: None until reached."""
        if self.finished <= clock:
            return self.started, self.finished, self.result
        return (self.started if self.started <= clock else None), None, None


class EnvironmentDomain:
    """Environments of every project and the deployment records of the deploying pipelines (``world.lock``)."""

    name = "environments"
    min_versions = {t: "6.0" for t in RECORD_TYPES}

    def __init__(self, world: "World", seed: int, scale: str) -> None:
        self._world = world
        self._seed = seed
        rng = random.Random(f"{seed}:{scale}:environments")
        self.environments: list[Environment] = []  # environment n is environments[n - 1]
        for project in range(len(world.projects)):
            for name in ENVIRONMENTS:
                created = EPOCH - rng.randint(20, 60) * DAY + rng.randrange(DAY)
                self.environments.append(Environment(len(self.environments) + 1, project, name, _DESCRIPTIONS[name],
                                                     created, rng.randrange(len(world.people))))
        self._by_name = {(e.project, e.name): e for e in self.environments}
        self._records: list[EnvironmentDeployment] | None = None  # record n is _records[n - 1]; None: not built
        self._by_environment: dict[int, list[int]] = {}  # environment id -> its record ids, ascending
        self._pending: list[EnvironmentDeployment] = []  # planned, queued after the clock (id 0), by queue time
        self._builds_seen = 0
        self._attempts: dict[int, int] = {}  # deploying build id -> its attempt when its runs were taken
        self.late: set[int] = set()  # ids given in the last step and committed late: read from the next step on

    # -- reading (caller holds world.lock) ------------------------------------------------

    def environment(self, environment_id: int) -> Environment | None:
        return self.environments[environment_id - 1] if 1 <= environment_id <= len(self.environments) else None

    def of_project(self, project: int) -> list[Environment]:
        return [e for e in self.environments if e.project == project]

    @property
    def records(self) -> list[EnvironmentDeployment]:
        """Every deployment record that reads now (queued, committed), by id."""
        late = self.late
        return [r for r in self._index() if r.id not in late]

    def record(self, record_id: int) -> EnvironmentDeployment:
        """The record with this id, whether it reads now or is committed late."""
        return self._index()[record_id - 1]

    def records_of(self, environment_id: int) -> list[EnvironmentDeployment]:
        """The environment's records that read now, newest (highest id) first."""
        records, late = self._index(), self.late
        return [records[i - 1] for i in reversed(self._by_environment.get(environment_id, ())) if i not in late]

    def truth(self) -> dict[str, list[str]]:
        projects = self._world.projects
        envs = self.environments
        return {
            "distributedtask.environment": sorted(f"{projects[e.project].id}:{e.id}" for e in envs),
            "distributedtask.environment_deployment": sorted(
                f"{projects[r.project].id}:{r.environment_id}:{r.id}" for r in self._index()),
        }

    # -- the index -------------------------------------------------------------------------

    def _index(self, clock: int | None = None) -> list[EnvironmentDeployment]:
        """The records, the index built first if needed, as of ``clock`` (default: now)."""
        if self._records is None:
            self._records = []
            builds = builds_of(self._world)
            planned = self._planned(builds.builds)
            self._builds_seen = len(builds.builds)
            self._pending = sorted(planned, key=_order)
            self._admit(self._world.clock if clock is None else clock)
        return self._records

    def _planned(self, candidates: list) -> list[EnvironmentDeployment]:
        """The records of these builds' runs not known yet (id 0)."""
        builds = builds_of(self._world)
        planned = []
        for build in candidates:
            if not builds.deploys(build) or self._attempts.get(build.id) == build.attempt:
                continue
            known = self._attempts.get(build.id)
            self._attempts[build.id] = build.attempt
            definition = builds.definitions[build.definition - 1]
            for run in builds.deployment_runs(build):
                if known is not None and run.queued < build.rerun:
                    continue  # taken with the earlier attempt
                environment = self._by_name[(definition.project, run.environment)]
                planned.append(EnvironmentDeployment(0, environment.id, definition.project, build.id, definition.id,
                                                     run.stage, run.order, run.attempt, run.job, run.queued, run.started,
                                                     run.finished, run.result))
        return planned

    def _admit(self, clock: int) -> int:
        """Give ids to the pending records queued by ``clock``; returns how many."""
        records = cast(list[EnvironmentDeployment], self._records)
        due = 0
        while due < len(self._pending) and self._pending[due].queued <= clock:
            due += 1
        for planned in self._pending[:due]:
            record = _numbered(planned, len(records) + 1)
            records.append(record)
            self._by_environment.setdefault(record.environment_id, []).append(record.id)
        self._pending = self._pending[due:]
        return due

    # -- Domain ----------------------------------------------------------------------------

    def advance(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """New runs and re-runs of this step plan records; those queued by now get their ids."""
        if self._records is None:
            self._index(clock - 3600)  # as of the step before: this step's records are counted as if it had been
        self.late = set()  # the last step's late records are committed now
        builds = builds_of(self._world).builds
        start = max(0, min(self._builds_seen, len(builds) - _RECENT))
        fresh = self._planned(builds[start:])
        self._builds_seen = len(builds)
        if fresh:
            self._pending = sorted(self._pending + fresh, key=_order)
        added = self._admit(clock)
        if added:
            counts["environment_deployments"] = counts.get("environment_deployments", 0) + added
            if self._world.semantics.late_visible:
                self._commit_late(random.Random(f"{self._seed}:late-records:{clock}"), self._index()[-added:], counts)

    def _commit_late(self, rng: random.Random, admitted: list[EnvironmentDeployment], counts: dict[str, int]) -> None:
        """Some of the records given ids in this step below a higher id of their environment are committed after
        it: they read from the next step on. distributedtask Environmentdeployment Records - List (6.0+, taskAgent-onprem.json) pages
        newest first by id (``continuationToken``, ``top``): a reader that stops at the highest id it read
        never sees them."""
        highest: dict[int, int] = {}
        for record in admitted:
            highest[record.environment_id] = max(highest.get(record.environment_id, 0), record.id)
        for record in admitted:
            if record.id < highest[record.environment_id] and rng.random() < LATE_SHARE:
                self.late.add(record.id)
                counts["environment_deployments_late"] = counts.get("environment_deployments_late", 0) + 1


def _order(record: EnvironmentDeployment) -> tuple[int, int, int, int]:
    return record.queued, record.build_id, record.stage_order, record.attempt


def _numbered(record: EnvironmentDeployment, record_id: int) -> EnvironmentDeployment:
    return EnvironmentDeployment(record_id, record.environment_id, record.project, record.build_id, record.definition_id,
                                 record.stage, record.stage_order, record.attempt, record.job, record.queued,
                                 record.started, record.finished, record.result)


def build_environments(world: "World", seed: int, scale: str) -> EnvironmentDomain:
    return EnvironmentDomain(world, seed, scale)


def environments_of(world: "World") -> EnvironmentDomain:
    return cast(EnvironmentDomain, world.domain("environments"))

"""Build timelines, generated on demand: Stage -> Phase -> Job -> Task records.

The records (ids, names, planned times and results) are a pure function of the build; what a
request sees of them depends on the clock: a record is pending before its start, inProgress
until its finish, then completed. A failed or canceled task makes the rest of its job and the
later stages skipped; a partially succeeded build has one task succeededWithIssues.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from standins.ado_simulator.world.pipelines.builds import Build

__all__ = ["TimelineRecord", "DeploymentRun", "timeline_records", "timeline_record_ids", "deployment_runs",
           "DEPLOY_PREFIX"]

_STAGE_PLANS = (("Build",),) * 3 + (("Build", "Test"),) * 2 + (("Build", "Test", "Deploy"),)
_WORK = {
    "Build": (("Restore packages", "333b11bd-d341-40d9-afcf-b32d5ce6f23b", "NuGetCommand", "2.221.0"),
              ("Build solution", "71a9a2d3-a98a-4caa-96ab-affca411ecda", "VSBuild", "1.231.0"),
              ("Run unit tests", "ef087383-ee5e-42c7-9a53-ab56c98420f9", "VSTest", "2.229.0"),
              ("Publish artifacts", "2ff763a7-ce83-4e1f-bc89-0ae63477cebe", "PublishBuildArtifacts", "1.224.0")),
    "Test": (("Run integration tests", "d9bafed4-0b18-4f58-968d-86655b4d2ce9", "CmdLine", "2.212.0"),
             ("Publish test results", "0b0f01ed-7dde-43ff-9cbb-e48954daf9b1", "PublishTestResults", "2.230.0")),
    "Deploy": (("Download artifacts", "a433f589-fce1-4460-9ee6-44a624aeb1fb", "DownloadBuildArtifacts", "0.228.0"),
               ("Deploy to staging", "e213ff0f-5d5c-4791-802d-52ea3e7be1f1", "PowerShell", "2.228.0")),
}
DEPLOY_PREFIX = "Deploy_"  # stage name prefix of a deploying pipeline's stages: Deploy_<environment name>
_DEPLOY_WORK = (("Download pipeline artifact", "61f2a582-95ae-4948-b34d-a1b3c4f6a737", "DownloadPipelineArtifact", "2.198.0"),
                ("Deploy web app", "497d490f-eea7-4f2b-ab94-48d9c1acdcb1", "AzureRmWebAppDeployment", "4.236.0"),
                ("Smoke test", "e213ff0f-5d5c-4791-802d-52ea3e7be1f1", "PowerShell", "2.228.0"))
_DEPLOY_BAD = (0, 0, 1, 2, 3, 3)  # the stage a deploying run fails in (Build, Dev, Test, Production; 3 stages after Build)
_CHECKOUT = ("6d15af64-176c-496d-b583-fd2ae21d4df4", "Checkout", "1.0.0")
_ERRORS = ("Process completed with exit code 1.", "The build failed: 3 compile errors.", "2 tests failed.")
_WARNINGS = ("The MSBuild version parameter has been deprecated.", "Found 2 obsolete API usages.")
_BAD = {"failed": "failed", "canceled": "canceled", "partiallySucceeded": "succeededWithIssues"}


@dataclass(frozen=True, slots=True)
class TimelineRecord:
    """One record as the clock shows it: ``start``/``finish``/``result`` are None until reached."""

    id: str
    parent: str | None
    type: str  # Stage | Phase | Job | Task
    name: str
    identifier: str | None  # stages, phases and jobs only
    order: int
    start: int | None
    finish: int | None
    state: str  # pending | inProgress | completed
    result: str | None
    attempt: int
    previous: tuple[tuple[int, str, str], ...]  # (attempt, timelineId, recordId) of earlier attempts
    worker: str | None
    queue_id: int | None
    errors: int
    warnings: int
    issue: str | None
    log_id: int | None
    change_id: int
    task: tuple[str, str, str] | None  # (id, name, version)


@dataclass(frozen=True, slots=True)
class DeploymentRun:
    """One attempt of a deploy stage's deployment job that was queued (a YAML environment deployment record)."""

    stage: str  # the stage name, ``Deploy_<environment>``
    order: int  # the stage's position in the run (1-based, as the Stage record's ``order``)
    attempt: int  # stage attempt (= the job's attempt)
    job: str
    queued: int
    started: int
    finished: int
    result: str  # succeeded | succeededWithIssues | failed | canceled

    @property
    def environment(self) -> str:
        return self.stage[len(DEPLOY_PREFIX):]


@dataclass(slots=True)
class _Plan:
    """A record before the clock is applied: planned window (None: skipped) and result."""

    id: str
    parent: str | None
    type: str
    name: str
    identifier: str | None
    order: int
    window: tuple[int, int] | None
    result: str
    attempt: int = 1
    previous: tuple[tuple[int, str, str], ...] = ()
    worker: str | None = None
    queue_id: int | None = None
    errors: int = 0
    warnings: int = 0
    issue: str | None = None
    log_id: int | None = None
    task: tuple[str, str, str] | None = None
    decided: int = 0  # re-run records: when skipped ones are decided (the latest attempt's finish)


def timeline_records(key: str, build: "Build", yaml: bool, repo_name: str, queue_id: int, clock: int,
                     deploy: tuple[str, ...] = ()) -> list[TimelineRecord]:
    """The records of ``build`` as seen at ``clock``; ``key`` seeds everything but the clock.

    A re-run build (``build.attempt`` > 1) shows attempt 1 up to the stage that failed, and from that
    stage on the latest attempt: ``attempt`` = the build's attempt, ``previousAttempts`` one entry per
    earlier attempt, new windows from ``build.rerun`` to ``build.finished`` and the new result.
    ``deploy`` (environment names) makes the stages Build, Deploy_<env>... of a deploying pipeline."""
    _, by_stage, first_finish = _plans(key, build, yaml, repo_name, queue_id, deploy)
    plans = [plan for stage_plans in by_stage for plan in stage_plans]
    log_ids = iter(range(1, len(plans) + 1))
    for plan in plans:
        if plan.type in ("Job", "Task") and plan.window is not None:
            plan.log_id = next(log_ids)
    return [_as_seen(plan, change + (len(plans) if plan.decided else 0), clock, plan.decided or first_finish)
            for change, plan in enumerate(plans, start=1)]


def deployment_runs(key: str, build: "Build", repo_name: str, queue_id: int, deploy: tuple[str, ...]) -> list[DeploymentRun]:
    """Every deployment job attempt of the deploy stages of ``build`` that was (or will be) queued, planned
    times (the clock is not applied), in queue order. A stage retried inside the run has a failed attempt 1 in
    the first part of its window; a re-run adds the latest attempt of the stages it ran again."""
    if not deploy:
        return []
    original, final, _ = _plans(key, build, True, repo_name, queue_id, deploy)
    runs: list[DeploymentRun] = []
    for index, plans in enumerate(original):
        runs += _runs_of(index, plans)
        if final[index] is not plans:
            runs += _runs_of(index, final[index])
    return sorted(runs, key=lambda r: (r.queued, r.order, r.attempt))


def _runs_of(index: int, plans: list[_Plan]) -> list[DeploymentRun]:
    stage, job = plans[0], plans[2]
    if not stage.name.startswith(DEPLOY_PREFIX) or stage.window is None or job.window is None:
        return []
    begin, (start, finish) = stage.window[0], job.window
    if stage.decided or job.attempt == 1:  # a re-run's attempt, or a stage that ran once
        return [DeploymentRun(stage.name, index + 1, job.attempt, job.name, start - 1, start, finish, job.result)]
    first_end = max(begin + 1, start - 2)  # retried inside the run: attempt 1 failed in the first part
    return [DeploymentRun(stage.name, index + 1, 1, job.name, begin, begin + 1, first_end, "failed"),
            DeploymentRun(stage.name, index + 1, job.attempt, job.name, start - 1, start, finish, job.result)]


def _plans(key: str, build: "Build", yaml: bool, repo_name: str, queue_id: int,
           deploy: tuple[str, ...]) -> tuple[list[list[_Plan]], list[list[_Plan]], int]:
    """(the plans of attempt 1 per stage, the plans as they are now per stage, attempt 1's finish)."""
    rng = random.Random(key)
    first_finish, first_result = build.first if build.attempt > 1 else (build.finished, build.result)
    stages, jobs, ids = _skeleton(rng, yaml, repo_name, build.branch, deploy)
    retried = rng.randrange(len(stages)) if rng.random() < 0.1 else -1
    bad = _BAD.get(first_result)
    bad_stage = (len(stages) - 1 if bad != "succeededWithIssues" else rng.randrange(len(stages))) if bad else -1
    if deploy and bad and bad != "succeededWithIssues":
        bad_stage = min(len(stages) - 1, rng.choice(_DEPLOY_BAD))
    bad_step = rng.choice([i for i, step in enumerate(jobs[bad_stage]) if step[1]]) if bad else -1
    worker = f"{'Linux' if queue_id % 2 == 0 else 'Build'}-Agent-{rng.randint(1, 6):02d}"
    running = len(stages) if bad_stage < 0 or bad == "succeededWithIssues" else bad_stage + 1
    windows = _split(rng, build.started + 1, first_finish - 1, running)
    by_stage: list[list[_Plan]] = []
    stage_ids: list[list[str]] = []
    next_id = iter(ids)
    for index, (stage, steps) in enumerate(zip(stages, jobs)):
        window = windows[index] if index < running else None
        own_ids = [next(next_id) for _ in range(3 + len(steps))]
        attempts = 2 if index == retried else 1
        previous = ((1, _guid(rng.getrandbits(128)), _guid(rng.getrandbits(128))),) if attempts == 2 else ()
        stage_result = bad if index == bad_stage else "skipped" if window is None else "succeeded"
        by_stage.append(_stage_plans(rng, own_ids, index, stage, steps, yaml, window, stage_result,
                                     bad_step if index == bad_stage else -1, bad, attempts, previous, worker, queue_id,
                                     split=index == retried))
        stage_ids.append(own_ids)
    original = list(by_stage)
    if build.attempt > 1:
        _rerun(random.Random(f"{key}:attempt:{build.attempt}"), build, stages, jobs, yaml, by_stage, stage_ids,
               max(bad_stage, 0), worker, queue_id)
    return original, by_stage, first_finish


def _stage_plans(rng: random.Random, ids: list[str], index: int, stage: str, steps: list, yaml: bool,
                 window: tuple[int, int] | None, stage_result: str, bad_step: int, bad: str | None, attempts: int,
                 previous: tuple[tuple[int, str, str], ...], worker: str, queue_id: int, split: bool = False) -> list[_Plan]:
    """The Stage, Phase, Job and Task plans of one stage (``bad_step`` >= 0: that step ends ``bad``). A deploy
    stage's job starts a second after its stage (queued at the stage's start); with ``split`` (a stage retried
    inside the run) its latest attempt takes the last part of the window, the failed attempt 1 the first."""
    job_name = "Agent job 1" if stage == "__default" else stage
    stage_id, phase_id, job_id = ids[:3]
    identifier = stage if yaml else "__default"
    plans = [_Plan(stage_id, None, "Stage", stage, identifier, index + 1, window, stage_result, attempts, previous),
             _Plan(phase_id, stage_id, "Phase", job_name, f"{identifier}.{job_name.replace(' ', '_')}", 1,
                   window, stage_result, attempts, previous)]
    job_window = window
    if window is not None and stage.startswith(DEPLOY_PREFIX):
        begin, end = window
        job_window = (min(end, begin + (max(4, (end - begin) * 2 // 5) if split else 1)), end)
    job = _Plan(job_id, phase_id, "Job", job_name, f"{identifier}.{job_name.replace(' ', '_')}.__default", 1,
                job_window, stage_result, attempts, previous, worker, queue_id)
    plans.append(job)
    step_windows = _split(rng, job_window[0] + 2, job_window[1], len(steps)) if job_window else [None] * len(steps)
    failed_before = False
    for order, ((name, task), step_window, step_id) in enumerate(zip(steps, step_windows, ids[3:]), start=1):
        result = "succeeded" if step_window else "skipped"
        step = _Plan(step_id, job_id, "Task", name, None, order, step_window, result, attempts, (), worker, task=task)
        if order - 1 == bad_step:
            step.result = bad or result
            failed_before = bad != "succeededWithIssues"
            if bad == "failed":
                step.errors, step.issue = rng.randint(1, 2), rng.choice(_ERRORS)
            elif bad == "succeededWithIssues":
                step.warnings, step.issue = rng.randint(1, 3), rng.choice(_WARNINGS)
        elif failed_before and task is not None:
            step.result, step.window = "skipped", None
        plans.append(step)
    job.errors = sum(p.errors for p in plans[3:])
    job.warnings = sum(p.warnings for p in plans[3:])
    return plans


def _rerun(rng: random.Random, build: "Build", stages: tuple[str, ...], jobs: list, yaml: bool,
           by_stage: list[list[_Plan]], stage_ids: list[list[str]], start: int, worker: str, queue_id: int) -> None:
    """Replace the plans of stages ``start``.. with the latest attempt's (same record ids)."""
    bad = _BAD.get(build.result)
    count = len(stages) - start
    bad_stage = (len(stages) - 1 if bad != "succeededWithIssues" else start + rng.randrange(count)) if bad else -1
    running = count if bad_stage < 0 or bad == "succeededWithIssues" else bad_stage - start + 1
    windows = _split(rng, build.rerun + 1, build.finished - 1, running)
    for offset, index in enumerate(range(start, len(stages))):
        before = by_stage[index][0]
        earlier = before.previous + tuple(
            (n, _guid(rng.getrandbits(128)), _guid(rng.getrandbits(128))) for n in range(before.attempt, before.attempt + build.attempt - 1)
        )
        attempts = before.attempt + build.attempt - 1
        window = windows[offset] if offset < running else None
        steps = jobs[index]
        bad_step = rng.choice([i for i, step in enumerate(steps) if step[1]]) if index == bad_stage else -1
        result = bad if index == bad_stage else "skipped" if window is None else "succeeded"
        plans = _stage_plans(rng, stage_ids[index], index, stages[index], steps, yaml, window, result, bad_step,
                             bad if index == bad_stage else None, attempts, earlier, worker, queue_id)
        for plan in plans:
            plan.decided = build.finished
            if plan.type == "Task":
                plan.previous = earlier
        by_stage[index] = plans


def timeline_record_ids(key: str, yaml: bool, deploy: tuple[str, ...] = ()) -> list[str]:
    """Just the record ids of a build's timeline (the same as ``timeline_records`` gives), cheaply."""
    return _skeleton(random.Random(key), yaml, "", "", deploy)[2]


def _skeleton(rng: random.Random, yaml: bool, repo_name: str, branch: str,
              deploy: tuple[str, ...] = ()) -> tuple[tuple[str, ...], list, list[str]]:
    """Stages, the steps of each stage's job, and every record id (stage, phase, job, steps; per stage)."""
    if deploy:
        stages: tuple[str, ...] = ("Build",) + tuple(DEPLOY_PREFIX + name for name in deploy)
    else:
        stages = rng.choice(_STAGE_PLANS) if yaml else ("__default",)
    jobs = [_job_steps(rng, stage, yaml, repo_name, branch) for stage in stages]
    count = sum(3 + len(steps) for steps in jobs)
    return stages, jobs, [_guid(rng.getrandbits(128)) for _ in range(count)]


def _guid(bits: int) -> str:
    """A version-4 GUID string from 128 random bits."""
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _job_steps(rng: random.Random, stage: str, yaml: bool, repo_name: str, branch: str) -> list[tuple[str, tuple | None]]:
    """(name, task reference or None) of the steps of one job, in order."""
    steps: list[tuple[str, tuple | None]] = [("Initialize job", None)]
    if stage.startswith(DEPLOY_PREFIX):  # a deployment job: no checkout
        chosen = sorted(rng.sample(range(len(_DEPLOY_WORK)), rng.randint(2, len(_DEPLOY_WORK))))
        steps += [(_DEPLOY_WORK[i][0], _DEPLOY_WORK[i][1:]) for i in chosen]
        return steps + [("Finalize Job", None)]
    work = _WORK.get(stage, _WORK["Build"])
    chosen = sorted(rng.sample(range(len(work)), rng.randint(1, len(work))))
    checkout = f"Checkout {repo_name}@{branch.removeprefix('refs/heads/')} to s" if yaml else "Get sources"
    steps.append((checkout, _CHECKOUT))
    steps += [(work[i][0], (work[i][1], work[i][2], work[i][3])) for i in chosen]
    if yaml:
        steps.append((f"Post-job: {checkout}", _CHECKOUT))
    steps.append(("Finalize Job", None))
    return steps


def _split(rng: random.Random, start: int, end: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive windows covering [start, end] (each at least a second)."""
    end = max(end, start + parts)
    weights = [rng.uniform(0.5, 3.0) for _ in range(parts)]
    total = sum(weights)
    windows, at, spent = [], start, 0.0
    for weight in weights:
        spent += weight
        until = max(at + 1, start + round((end - start) * spent / total))
        windows.append((at, until))
        at = until
    return windows


def _as_seen(plan: _Plan, change: int, clock: int, decided: int) -> TimelineRecord:
    """The record at ``clock``: skipped ones are decided when the build finishes."""
    if plan.window is None:
        done = clock >= decided
        state, start, finish, result = ("completed", None, None, plan.result) if done else ("pending", None, None, None)
    else:
        begin, end = plan.window
        if end <= clock:
            state, start, finish, result = "completed", begin, end, plan.result
        elif begin <= clock:
            state, start, finish, result = "inProgress", begin, None, None
        else:
            state, start, finish, result = "pending", None, None, None
    return TimelineRecord(plan.id, plan.parent, plan.type, plan.name, plan.identifier, plan.order, start, finish, state,
                          result, plan.attempt, plan.previous, plan.worker if start is not None else None,
                          plan.queue_id, plan.errors if result else 0, plan.warnings if result else 0,
                          plan.issue if result else None, plan.log_id if start is not None else None, change, plan.task)

"""Lead time for changes: first commit -> the first successful production deployment that ships it.

docs/metrics.md: a build's changes are the commits since the previous build of its definition on
its branch (``git log previous..this``), each with its commit time (the change's ``timestamp``: the
committer date). A succeeded (or
partially succeeded) production deployment of build B ships the changes of every build b of B's
definition and branch with ``b.id <= B.id`` that has change records (completed, not deleted).
A change (commit sha) counts once, at the earliest such deployment's finish, minus its timestamp.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from typing import TYPE_CHECKING

from standins.ado_simulator.truth.deployments import GOOD, ProductionDeployment
from standins.ado_simulator.truth.figures import MetricTruth, Sample, duration_metric
from standins.ado_simulator.truth.instants import iso_instant, seconds_between
from standins.ado_simulator.world.model import Commit
from standins.ado_simulator.world.pipelines.builds import (
    COMPLETED,
    Build,
    BuildDomain,
    builds_of,
)

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["build_changes", "change_leads", "lead_time"]


def build_changes(world: World, domain: BuildDomain, build: Build) -> list[Commit]:
    """The build's changes as the model defines them (``BuildDomain.changes``: ``git log previous..this``
    against the previous build of its definition and branch), newest first."""
    return domain.changes(build)


def lead_time(world: World, deployments: list[ProductionDeployment]) -> MetricTruth:
    """Count, p50, p90 of the changes that reached production, per build pipeline (definition name) and per
    week of the deployment."""
    return duration_metric("lead_time", change_leads(world, deployments).values())


def change_leads(world: World, deployments: list[ProductionDeployment]) -> dict[str, Sample]:
    """Commit sha -> its lead time sample (group = the build pipeline, end = the first deployment shipping it)."""
    domain = builds_of(world)
    # (definition, branch) -> the good deployments' (build id, finish), to ask "first finish with build >= b"
    shipped: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for deployment in deployments:
        build = domain.build(deployment.build_id)
        if deployment.result in GOOD and build is not None and not build.deleted:
            shipped[(build.definition, build.branch)].append((build.id, deployment.finish_us))
    earliest: dict[str, tuple[int, int, str]] = {}  # sha -> (finish, commit time, build pipeline)
    for (definition, branch), pairs in shipped.items():
        pairs.sort()
        ids = [build_id for build_id, _ in pairs]
        suffix_min = [finish for _, finish in pairs]
        for i in range(len(suffix_min) - 2, -1, -1):
            suffix_min[i] = min(suffix_min[i], suffix_min[i + 1])
        for build_id in domain.by_definition[definition]:
            if build_id > ids[-1]:
                break
            build = domain.builds[build_id - 1]
            if build.branch != branch or build.deleted or build.status != COMPLETED:
                continue
            finish = suffix_min[bisect_left(ids, build_id)]
            pipeline = domain.definitions[definition - 1].name
            for commit in build_changes(world, domain, build):
                known = earliest.get(commit.commit_id)
                if known is None or finish < known[0]:
                    earliest[commit.commit_id] = (finish, iso_instant(commit.commit_date), pipeline)
    return {sha: Sample(pipeline, seconds_between(authored, finish), finish)
            for sha, (finish, authored, pipeline) in earliest.items()}

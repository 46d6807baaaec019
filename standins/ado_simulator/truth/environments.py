"""YAML environment deployments (Server 2020+, api-version 6.0) as production deployments.

docs/metrics.md: the deployment records of a production environment, grouped by (environment,
owner run, stage attempt): one deployment per group, finished when every record has a finish
time (the latest is the deployment's), result the worst of the group (failed > canceled >
partiallySucceeded > succeeded); its build is the run, its pipeline (definition, environment).
The records are the world's ``environments`` domain (``EnvironmentDomain.records``: those queued
by the clock; ``seen(clock)`` what a reader sees of their times and result).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from standins.ado_simulator.truth.deployments import ProductionDeployment, is_production
from standins.ado_simulator.truth.instants import US
from standins.ado_simulator.world.pipelines.builds import builds_of

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["WORST", "YAML_SINCE", "yaml_deployments"]

YAML_SINCE = "6.0"
WORST = ("failed", "canceled", "partiallySucceeded", "succeeded")  # the first met is the group's result
_RESULTS = {"succeededWithIssues": "partiallySucceeded"}  # a record's TaskResult as a deployment result


def _domain(world: World) -> Any | None:
    try:
        return world.domain("environments")
    except KeyError:
        return None  # a world without YAML environments


def yaml_deployments(world: World) -> list[ProductionDeployment]:
    """Finished deployments to production YAML environments, one per (environment, run, stage attempt)."""
    domain = _domain(world)
    if domain is None:
        return []
    builds = builds_of(world)
    groups: dict[tuple[int, int, int], list] = defaultdict(list)
    for record in domain.records:
        environment = domain.environment(record.environment_id)
        if environment is not None and is_production(environment.name):
            groups[(record.environment_id, record.build_id, record.attempt)].append(record)
    found = []
    for (environment_id, build_id, _), records in sorted(groups.items()):
        seen = [record.seen(world.clock) for record in records]
        if any(finish is None for _, finish, _ in seen):
            continue  # not finished
        results = {_RESULTS.get(result, result) for _, _, result in seen}
        result = next((r for r in WORST if r in results), None)
        if result is None:
            continue
        definition = builds.definitions[records[0].definition_id - 1]
        environment = domain.environment(environment_id)
        found.append(ProductionDeployment("yaml", f"yaml:{definition.id}:{environment_id}",
                                          f"{definition.name} / {environment.name}", build_id, result,
                                          max(finish for _, finish, _ in seen) * US))
    return found

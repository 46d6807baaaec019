"""YAML environment deployments (Server 2020+, api-version 6.0) as production deployments.

docs/metrics.md: the deployment records of a production environment, grouped by (environment,
owner run, stage attempt): one deployment per group, finished when every record has a finish
time (the latest is the deployment's), result the worst of the group (failed > canceled >
partiallySucceeded > succeeded); its build is the run, its pipeline (definition, environment).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from standins.ado_simulator.truth.deployments import ProductionDeployment

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["YAML_SINCE", "yaml_deployments"]

YAML_SINCE = "6.0"


def yaml_deployments(world: World) -> list[ProductionDeployment]:
    """Finished deployments to production YAML environments (none while the world has no environments)."""
    return []

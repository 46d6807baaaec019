"""Extension point: a ``Domain`` is one API area's data (builds, work items, TFVC...).

Each area lives in its own modules: a builder that generates its data from the base world
(people, projects, repositories, git history) and a route module. To add one:

1. write ``build_<area>(world, seed, scale) -> Domain`` with a frozen-dataclass data model;
2. append it to ``DOMAIN_BUILDERS`` below (order = generation order; later domains may read
   earlier ones with ``world.domain(name)``);
3. append its route module (``ROUTES`` + ``LOCATIONS``) to ``AREAS`` in ``app.py``.

``truth`` and ``advance`` are called with ``world.lock`` held; route handlers that read
mutable domain state must take ``world.lock`` too.
"""

from __future__ import annotations

import random
from typing import Callable, Protocol

from standins.ado_simulator.world.pipelines.builds import build_builds
from standins.ado_simulator.world.pipelines.environments import build_environments
from standins.ado_simulator.world.git.pull_requests import build_pull_requests
from standins.ado_simulator.world.pipelines.releases import build_releases
from standins.ado_simulator.world.teams import build_teams
from standins.ado_simulator.world.tfvc import build_tfvc
from standins.ado_simulator.world.boards.wit_generation import build_work_items

__all__ = ["Domain", "DOMAIN_BUILDERS"]


class Domain(Protocol):
    name: str
    # Record types that only exist from some api-version on (e.g. {"core.identity": "6.0"}):
    # ``World.truth(max_version)`` leaves them out for older server profiles.
    min_versions: dict[str, str]

    def truth(self) -> dict[str, list[str]]:
        """Record type -> sorted keys of everything of this area that exists now."""

    def advance(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        """One step (an hour) of activity at Unix time ``clock``; add what was created to ``counts``."""


# (world, seed, scale) -> Domain, in generation order.
DOMAIN_BUILDERS: tuple[Callable[..., Domain], ...] = (
    build_teams, build_work_items,
    build_pull_requests,
    build_tfvc, build_builds, build_releases, build_environments,
)

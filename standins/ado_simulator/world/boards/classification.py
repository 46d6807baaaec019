"""Classification nodes: each project's area tree and iteration tree (two-week sprints).

Node ids are integers unique in the collection; ``identifier`` is the node's GUID. Paths are
tuples of names from the root (the root is named after the project). Both trees are one level
deep, like a new project's: areas per team, sprints "Sprint 1".."Sprint n" under the iteration
root. Sprints run two weeks, Monday to Sunday, back to back (so exactly one is current);
``plan_sprints`` extends the tree as the clock moves on.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterator

from standins.ado_simulator.world.generate import DAY, EPOCH, guid

__all__ = ["AREA", "ITERATION", "ClassificationNode", "ProjectTree", "SPRINT_DAYS", "FIRST_SPRINT", "SPRINT_HORIZON",
           "time_frame"]

AREA = "area"
ITERATION = "iteration"
SPRINT_DAYS = 14
FIRST_SPRINT = EPOCH - 4 * 7 * DAY  # Monday 2023-12-04: history starts in the third sprint
SPRINT_HORIZON = 90 * DAY  # sprints are planned this far ahead of the clock


@dataclass(frozen=True, slots=True)
class ClassificationNode:
    id: int
    identifier: str
    structure: str  # AREA or ITERATION
    path: tuple[str, ...]  # names from the root; the root is (project name,)
    parent_id: int | None
    start: int | None = None  # sprint dates (midnight UTC)
    finish: int | None = None
    sprint: int = 0  # 1-based sprint number, 0 for other nodes

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def item_path(self) -> str:
        """As work items and team settings write it: ``Project\\Sprint 2``."""
        return "\\".join(self.path)

    @property
    def node_path(self) -> str:
        """As classification nodes write it: ``\\Project\\Iteration\\Sprint 2``."""
        group = "Area" if self.structure == AREA else "Iteration"
        return "\\" + "\\".join((self.path[0], group) + self.path[1:])


def time_frame(node: ClassificationNode, now: int) -> str:
    """past / current / future of an iteration relative to ``now`` (dates are whole days)."""
    assert node.start is not None and node.finish is not None
    today = now - now % DAY
    if node.finish < today:
        return "past"
    return "current" if node.start <= today else "future"


class ProjectTree:
    """Both classification trees of one project. Grows (new sprints) under the World's lock."""

    __slots__ = ("project_id", "areas", "iterations", "sprints", "_children", "_by_path", "_sprint_starts")

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        self.areas: list[ClassificationNode] = []  # index = area index used by work items
        self.iterations: list[ClassificationNode] = []  # the root, then the sprints
        self.sprints: list[ClassificationNode] = []  # by sprint number (sprints[n - 1])
        self._children: dict[int, list[ClassificationNode]] = {}
        self._by_path: dict[tuple[str, tuple[str, ...]], ClassificationNode] = {}
        self._sprint_starts: list[int] = []

    def add(self, node: ClassificationNode) -> ClassificationNode:
        (self.areas if node.structure == AREA else self.iterations).append(node)
        if node.parent_id is not None:
            self._children.setdefault(node.parent_id, []).append(node)
        self._by_path[(node.structure, tuple(p.lower() for p in node.path[1:]))] = node
        if node.sprint:
            self.sprints.append(node)
            self._sprint_starts.append(node.start or 0)
        return node

    @property
    def area_root(self) -> ClassificationNode:
        return self.areas[0]

    @property
    def iteration_root(self) -> ClassificationNode:
        return self.iterations[0]

    def children(self, node: ClassificationNode) -> list[ClassificationNode]:
        return self._children.get(node.id, [])

    def nodes(self) -> Iterator[ClassificationNode]:
        yield from self.areas
        yield from self.iterations

    def find(self, structure: str, relative: tuple[str, ...]) -> ClassificationNode | None:
        """A node by its path below the root (case-insensitive); ``()`` is the root."""
        return self._by_path.get((structure, tuple(p.lower() for p in relative)))

    def sprint_at(self, when: int) -> ClassificationNode | None:
        """The sprint whose days contain ``when`` (None before the first one)."""
        index = bisect_right(self._sprint_starts, when) - 1
        if index < 0:
            return None
        sprint = self.sprints[index]
        return sprint if when < (sprint.finish or 0) + DAY else None

    def plan_sprints(self, until: int, next_id: Iterator[int], rng: random.Random) -> list[ClassificationNode]:
        """Add sprints until one starts after ``until``; returns the new nodes."""
        added = []
        root = self.iteration_root
        while not self.sprints or (self.sprints[-1].start or 0) <= until:
            number = len(self.sprints) + 1
            start = FIRST_SPRINT + (number - 1) * SPRINT_DAYS * DAY
            sprint = ClassificationNode(next(next_id), guid(rng), ITERATION, (root.name, f"Sprint {number}"), root.id,
                                        start, start + (SPRINT_DAYS - 1) * DAY, number)
            added.append(self.add(sprint))
        return added

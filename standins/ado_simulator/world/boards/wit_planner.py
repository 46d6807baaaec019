"""Choosing plausible work item activity: new items (with a parent), and the next change of an item.

Shared by generation and ``advance`` so both produce the same kind of history: states move
along the type's lifecycle (now and then reopened), people are reassigned among the project's
team members, items follow the sprints, get comments, edits and links to commits of their
project's repositories. ``CurrentValues`` keeps each item's latest values in compact arrays
(what WIQL filters on and what the planner reads).
"""

from __future__ import annotations

import random
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from standins.ado_simulator.world.boards.wit_process import TYPES, TYPES_BY_NAME, WorkItemTypeDef
from standins.ado_simulator.world.boards.work_item_history import HIERARCHY, Change, LinkTable, WorkItem

if TYPE_CHECKING:
    from standins.ado_simulator.world.teams import TeamsDomain
    from standins.ado_simulator.world.world import World

__all__ = ["Artifact", "CurrentValues", "Planner", "LEAF_TYPES"]

_PARENT_TYPE = {"Feature": "Epic", "User Story": "Feature", "Task": "User Story", "Bug": "User Story"}
_CODE_TYPES = frozenset(TYPES.index(TYPES_BY_NAME[n]) for n in ("task", "bug", "user story"))
_FIELD_CHANGES = frozenset({Change.STATE, Change.ASSIGN, Change.ITERATION, Change.AREA, Change.EDIT})
WITH_COMMENT_SHARE = 0.6  # of field changes that come with a comment: then most comments are such saves
LEAF_TYPES = frozenset(TYPES.index(TYPES_BY_NAME[n]) for n in ("task", "bug"))  # never parents: safe to delete


@dataclass(frozen=True, slots=True)
class Artifact:
    """A "Fixed in Commit" artifact link target."""

    project_id: str
    repository_id: str
    commit_id: str


class CurrentValues:
    """Latest values of every work item (index = id), kept in step with the revision log."""

    __slots__ = ("state", "assignee", "area", "iteration", "changed_by", "comments", "deleted")

    def __init__(self) -> None:
        self.state = bytearray(1)
        self.assignee = array("H", [0])  # person index + 1
        self.area = array("I", [0])
        self.iteration = array("I", [0])
        self.changed_by = array("H", [0])
        self.comments = array("H", [0])
        self.deleted = bytearray(1)

    def create(self, item: WorkItem) -> None:
        assert item.id == len(self.state), "work item ids are dense"
        self.state.append(0)
        self.assignee.append(item.assignee)
        self.area.append(item.area)
        self.iteration.append(item.iteration)
        self.changed_by.append(item.created_by)
        self.comments.append(0)
        self.deleted.append(0)

    def apply(self, item: WorkItem, change: int, actor: int, param: int) -> None:
        """The same rules as ``work_item_history.replay``, for the fields kept here."""
        i = item.id
        self.changed_by[i] = actor
        if change & Change.WITH_COMMENT:
            self.comments[i] += 1
            change &= Change.KIND
        if change == Change.STATE:
            self.state[i] = param
            if TYPES[item.type].states[param] == "Active" and not self.assignee[i]:
                self.assignee[i] = actor + 1
        elif change == Change.ASSIGN:
            self.assignee[i] = param
        elif change == Change.ITERATION:
            self.iteration[i] = param
        elif change == Change.AREA:
            self.area[i] = param
        elif change == Change.COMMENT:
            self.comments[i] += 1
        elif change == Change.DELETE:
            self.deleted[i] = 1


class Planner:
    """Decides what happens to work items; reads ``current`` and the teams' trees and staff."""

    def __init__(self, world: "World", teams: "TeamsDomain", current: CurrentValues, artifacts: list[Artifact]) -> None:
        self.world = world
        self.teams = teams
        self.current = current
        self.artifacts = artifacts
        self._project_weights = [max(1, len(world.project_repositories(p.id))) for p in world.projects]
        self._type_weights = [t.weight for t in TYPES]
        self._parents: dict[tuple[int, int], list[int]] = {}  # (project, type) -> ids that can be parents

    def new_item(self, rng: random.Random, item_id: int, when: int, links: LinkTable) -> WorkItem:
        """A new work item created at ``when``; its parent link (if any) is added to ``links``."""
        project_index = rng.choices(range(len(self.world.projects)), self._project_weights)[0]
        project = self.world.projects[project_index]
        kind = rng.choices(range(len(TYPES)), self._type_weights)[0]
        staff = self.teams.staff[project.id]
        tree = self.teams.trees[project.id]
        sprint = tree.sprint_at(when)
        iteration = sprint.id if sprint is not None and rng.random() < 0.7 else tree.iteration_root.id
        assignee = rng.choice(staff) + 1 if rng.random() < 0.6 else 0
        parent_link = 0
        parent_type = _PARENT_TYPE.get(TYPES[kind].name)
        if parent_type is not None:
            candidates = self._parents.get((project_index, TYPES.index(TYPES_BY_NAME[parent_type.lower()])), [])
            if candidates and rng.random() < 0.85:
                parent_link = links.add(rng.choice(candidates[-20:]), item_id, HIERARCHY) + 1
        item = WorkItem(item_id, project_index, kind, rng.choice(staff), assignee, rng.choice(tree.areas).id, iteration,
                        rng.choice((1, 2, 2, 2, 3, 3, 4)), parent_link)
        if kind not in LEAF_TYPES:
            self._parents.setdefault((project_index, kind), []).append(item_id)
        return item

    def actor(self, rng: random.Random, item: WorkItem) -> int:
        """Who makes a change: mostly the assignee, else someone of the project's teams."""
        assignee = self.current.assignee[item.id] - 1
        if assignee >= 0 and rng.random() < 0.7:
            return assignee
        return rng.choice(self.teams.staff[self.world.projects[item.project].id])

    def change(self, rng: random.Random, item: WorkItem, when: int) -> tuple[int, int, int]:
        """(kind, actor, param) of the item's next revision at ``when``."""
        current, kind = self.current, TYPES[item.type]
        i, state, last = item.id, self.current.state[item.id], len(kind.states) - 1
        actor = self.actor(rng, item)
        project = self.world.projects[item.project]
        roll = rng.random()
        if roll < 0.3 and state < last:
            return Change.STATE, actor, state + 1
        if roll < 0.33 and state == last:
            return Change.STATE, actor, _reopen_state(kind)
        if roll < 0.43:
            assignee = current.assignee[i] - 1
            others = [p for p in self.teams.staff[project.id] if p != assignee]
            if others and (assignee < 0 or rng.random() < 0.9):
                return Change.ASSIGN, actor, rng.choice(others) + 1
            return Change.ASSIGN, actor, 0
        if roll < 0.53 and state < last:
            sprint = self.teams.trees[project.id].sprint_at(when)
            if sprint is not None and sprint.id != current.iteration[i]:
                return Change.ITERATION, actor, sprint.id
        if roll < 0.72:
            return Change.COMMENT, actor, current.comments[i] + 1
        if roll < 0.8 and item.type in _CODE_TYPES:
            artifact = self._commit_link(rng, project.id, when)
            if artifact is not None:
                return Change.ARTIFACT, actor, artifact
        if roll < 0.83:
            areas = [a.id for a in self.teams.trees[project.id].areas if a.id != current.area[i]]
            return Change.AREA, actor, rng.choice(areas)
        return Change.EDIT, actor, rng.randrange(4) | rng.randrange(1, 64) << 2

    @staticmethod
    def with_comment(rng: random.Random, change: int) -> int:
        """``change``, flagged ``WITH_COMMENT`` most of the time for a field change: users write why they
        move the state, reassign or re-plan in the same save (``comments_with_changes`` semantics)."""
        if change in _FIELD_CHANGES and rng.random() < WITH_COMMENT_SHARE:
            return change | Change.WITH_COMMENT
        return change

    def _commit_link(self, rng: random.Random, project_id: str, when: int) -> int | None:
        """Index of a new artifact: a recent commit (before ``when``) of one of the project's repositories."""
        repos = self.world.project_repositories(project_id)
        if not repos:
            return None
        repo = rng.choice(repos)
        with self.world.reading(repo.id) as history:
            end = bisect_right(history.commits, when, key=lambda c: c.commit_time)
            if end == 0:
                return None
            commit = history.commits[rng.randrange(max(0, end - 20), end)]
        self.artifacts.append(Artifact(project_id, repo.id, commit.commit_id))
        return len(self.artifacts) - 1


def _reopen_state(kind: WorkItemTypeDef) -> int:
    return kind.states.index("Active") if "Active" in kind.states else 0

"""Boards domain: work items with full revision histories, links, comments and a recycle bin.

Ids are exactly 1..``work_items`` at generation and the revision log holds exactly
``work_item_revisions`` revisions (``scales.AREA_SCALES``). Items are created over the git
history's year, in their project's areas and sprints, assigned to the project's team members.
Features hang under epics, stories under features, tasks and bugs under stories (the parent
gets a revision when a child is linked); some items are related to each other, some link to
commits. A few tasks and bugs are deleted (recycle bin: gone from work item routes and WIQL,
their revisions stay in reporting with ``includeDeleted``).

``advance`` creates items, adds revisions to live ones (state moves, reassignments, sprint
moves, comments, edits, commit links), adds and removes links, deletes comments and items.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from standins.ado_simulator.world.model import Person, Project
from standins.ado_simulator.world.boards.wit_planner import LEAF_TYPES, Artifact, CurrentValues, Planner
from standins.ado_simulator.world.boards.wit_process import FIELDS, TYPES
from standins.ado_simulator.world.boards.work_item_history import (
    HIERARCHY,
    RELATED_LINK,
    Change,
    ItemState,
    LinkTable,
    ReplayCache,
    RevisionLog,
    WorkItem,
    adds_comment,
    replay,
    stamp,
)

if TYPE_CHECKING:
    from standins.ado_simulator.world.teams import TeamsDomain
    from standins.ado_simulator.world.world import World

__all__ = ["Comment", "WorkItemsDomain", "LINK_NAMES"]

LINK_NAMES = {HIERARCHY: "System.LinkTypes.Hierarchy-Forward", RELATED_LINK: "System.LinkTypes.Related"}
_NEW_PER_STEP = {"tiny": (0, 2), "small": (1, 3), "medium": (2, 6), "large": (4, 12)}
_CHANGES_PER_STEP = {"tiny": (2, 5), "small": (3, 8), "medium": (8, 25), "large": (20, 60)}
_LAST_STATE = tuple(len(t.states) - 1 for t in TYPES)


@dataclass(frozen=True, slots=True)
class Comment:
    work_item_id: int
    id: int
    rev: int  # the revision that added it (its System.History)
    created: int  # stamp (ms)
    author: int  # person index
    deleted: int  # stamp of the deletion, 0 = not deleted


class WorkItemsDomain:
    """Work items, their revision log, links, artifacts and comments (see the module docstring)."""

    name = "work_items"
    min_versions = {"wit.comment": "6.0"}

    def __init__(self, world: "World", teams: "TeamsDomain", scale: str) -> None:
        self.world = world
        self.teams = teams
        self.scale = scale
        self.items: list[WorkItem | None] = [None]  # index = id
        self.log = RevisionLog()
        self.replays = ReplayCache()  # reporting reads go on from an item's last read state (call under the lock)
        self.links = LinkTable()
        self.artifacts: list[Artifact] = []
        self.current = CurrentValues()
        self.deleted_at: dict[int, int] = {}  # item id -> stamp of its deletion
        self.deleted_comments: dict[tuple[int, int], int] = {}  # (item id, comment id) -> stamp
        self.destroyed: set[int] = set()  # ids destroyed for good (``destroyed_work_items`` semantics)
        self.planner = Planner(world, teams, self.current, self.artifacts)
        self._live: list[int] = []
        self._live_index: dict[int, int] = {}
        self._comment_rng: random.Random | None = None  # during an advance with the comments_with_changes semantics

    # -- lookups (call under the World's lock) -------------------------------------------

    def item(self, item_id: int) -> WorkItem | None:
        """A live work item (None when unknown or deleted)."""
        if not 0 < item_id < len(self.items) or self.current.deleted[item_id]:
            return None
        return self.items[item_id]

    def project(self, item: WorkItem) -> Project:
        return self.world.projects[item.project]

    def person(self, index: int) -> Person:
        return self.world.people[index]

    def history(self, item: WorkItem, until: int | None = None) -> Iterator[ItemState]:
        """The item's state after each revision (one object updated in place)."""
        return replay(self.log, item, TYPES[item.type], until)

    def state(self, item: WorkItem, as_of: int | None = None) -> ItemState | None:
        """The latest state, or the last one at or before ``as_of`` (ms; None before the item existed)."""
        rev = None
        if as_of is not None:
            log = self.log
            rev = sum(1 for p in log.by_item[item.id] if log.stamp(p) <= as_of)
            if rev == 0:
                return None
        result = None
        for result in self.history(item, rev):
            pass
        return result

    def comments(self, item: WorkItem) -> list[Comment]:
        found = []
        for state in self.history(item):
            if state.history:
                deleted = self.deleted_comments.get((item.id, state.history), 0)
                found.append(Comment(item.id, state.history, state.rev, state.changed, state.changed_by, deleted))
        return found

    def live_link(self, link: int, at: int | None = None) -> bool:
        """False once either end was deleted (at or before stamp ``at``, or by now)."""
        for end in (self.links.source[link], self.links.target[link]):
            deleted = self.deleted_at.get(end)
            if deleted is not None and (at is None or deleted <= at):
                return False
        return True

    # -- Domain --------------------------------------------------------------------------

    def truth(self) -> dict[str, list[str]]:
        c = self.world.collection.id
        log, links, deleted = self.log, self.links, self.current.deleted
        live = [i for i in range(1, len(self.items)) if not deleted[i]]
        comments = [
            f"{c}:{i}:{n}" for i in live for n in range(1, self.current.comments[i] + 1)
            if (i, n) not in self.deleted_comments
        ]
        return {
            "wit.field": sorted(f"{c}:{f.reference_name}" for f in FIELDS),
            "wit.work_item_type": sorted(f"{p.id}:{t.name}" for p in self.world.projects for t in TYPES),
            "wit.work_item": sorted(f"{c}:{i}" for i in live),
            "wit.work_item_revision": sorted(f"{c}:{log.item[p]}:{log.rev[p]}" for p in range(len(log))
                                             if log.item[p] not in self.destroyed),
            "wit.work_item_link": sorted(
                f"{c}:{links.source[k]}:{LINK_NAMES[links.kind[k]]}:{links.target[k]}"
                for k in range(len(links)) if links.active[k]
            ),
            "wit.comment": sorted(comments),
        }

    def advance(self, rng: random.Random, clock: int, counts: dict[str, int]) -> None:
        actions = (["new"] * rng.randint(*_NEW_PER_STEP[self.scale]) + ["change"] * rng.randint(*_CHANGES_PER_STEP[self.scale])
                   + ["relate"] * (rng.random() < 0.3) + ["unlink"] * (rng.random() < 0.15)
                   + ["delete"] * (rng.random() < 0.08) + ["uncomment"] * (rng.random() < 0.1))
        rng.shuffle(actions)
        times = sorted(rng.sample(range(clock - 3599, clock - 59), len(actions)))
        perform = {"new": self._new, "change": self._change, "relate": self._relate, "unlink": self._unlink,
                   "delete": self._delete, "uncomment": self._uncomment}
        semantics = self.world.semantics
        self._comment_rng = (random.Random(f"{self.world.seed}:{self.scale}:with_comment:{clock}")
                             if semantics.comments_with_changes else None)
        for action, when in zip(actions, times):
            perform[action](rng, when, counts)
        self._comment_rng = None
        if semantics.destroyed_work_items:
            self._destroy(random.Random(f"{self.world.seed}:{self.scale}:destroy:{clock}"), clock - 30, counts)

    # -- activity --------------------------------------------------------------------------

    def _revise(self, item: WorkItem, when: int, change: int, actor: int, param: int, counts: dict[str, int]) -> None:
        self.log.append(item.id, when, change, actor, param)
        self.current.apply(item, change, actor, param)
        counts["work_item_revisions"] = counts.get("work_item_revisions", 0) + 1

    def _pick_live(self, rng: random.Random, wanted=lambda item: True, tries: int = 8) -> WorkItem | None:
        for _ in range(tries if self._live else 0):
            item = self.items[rng.choice(self._live)]
            if item is not None and wanted(item):
                return item
        return None

    def add_live(self, item_id: int) -> None:
        self._live_index[item_id] = len(self._live)
        self._live.append(item_id)

    def _new(self, rng: random.Random, when: int, counts: dict[str, int]) -> None:
        item = self.planner.new_item(rng, len(self.items), when, self.links)
        self.items.append(item)
        self.current.create(item)
        self.add_live(item.id)
        self._revise(item, when, Change.CREATE, item.created_by, item.parent_link, counts)
        counts["work_items"] = counts.get("work_items", 0) + 1
        if item.parent_link:
            link = item.parent_link - 1
            self.links.record(link, when, True)
            parent = self.items[self.links.source[link]]
            assert parent is not None
            self._revise(parent, when, Change.LINK_ADD, item.created_by, link, counts)
            counts["work_item_links"] = counts.get("work_item_links", 0) + 1

    def _change(self, rng: random.Random, when: int, counts: dict[str, int]) -> None:
        open_item = self._pick_live(rng, lambda it: self.current.state[it.id] < _LAST_STATE[it.type], 3)
        item = open_item or self._pick_live(rng)
        if item is not None:
            change, actor, param = self.planner.change(rng, item, when)
            if self._comment_rng is not None:
                change = self.planner.with_comment(self._comment_rng, change)
            self._revise(item, when, change, actor, param, counts)
            if adds_comment(change):
                counts["comments"] = counts.get("comments", 0) + 1

    def _relate(self, rng: random.Random, when: int, counts: dict[str, int]) -> None:
        first = self._pick_live(rng)
        if first is None:
            return
        second = self._pick_live(rng, lambda it: it.project == first.project and it.id != first.id)
        if second is None:
            return
        source, target = sorted((first.id, second.id))
        if any(self.links.other_end(k, source) == target for k in self._links_of(source)):
            return
        link = self.links.add(source, target, RELATED_LINK)
        self.links.record(link, when, True)
        actor = self.planner.actor(rng, first)
        for item in (first, second):
            self._revise(item, when, Change.LINK_ADD, actor, link, counts)
        counts["work_item_links"] = counts.get("work_item_links", 0) + 1

    def _unlink(self, rng: random.Random, when: int, counts: dict[str, int]) -> None:
        """Remove an active link (both ends are live: deleting an item ends its links)."""
        for _ in range(8 if len(self.links) else 0):
            link = rng.randrange(len(self.links))
            source, target = self.items[self.links.source[link]], self.items[self.links.target[link]]
            if self.links.active[link] and source is not None and target is not None:
                self.links.record(link, when, False)
                actor = self.planner.actor(rng, source)
                self._revise(source, when, Change.LINK_REMOVE, actor, link, counts)
                self._revise(target, when, Change.LINK_REMOVE, actor, link, counts)
                return

    def _delete(self, rng: random.Random, when: int, counts: dict[str, int]) -> None:
        item = self._pick_live(rng, lambda it: it.type in LEAF_TYPES)
        if item is None:
            return
        self._revise(item, when, Change.DELETE, self.planner.actor(rng, item), 0, counts)
        self._bury(item, when)
        counts["work_items_deleted"] = counts.get("work_items_deleted", 0) + 1

    def _bury(self, item: WorkItem, when: int) -> None:
        """After the item's DELETE revision: its links end (reporting sees them go inactive)."""
        self.deleted_at[item.id] = stamp(when, item.id, self.log.revisions(item.id))
        for link in self._links_of(item.id):
            self.links.record(link, when, False)
        index = self._live_index.pop(item.id)
        moved = self._live.pop()
        if moved != item.id:
            self._live[index] = moved
            self._live_index[moved] = index

    def _destroy(self, rng: random.Random, when: int, counts: dict[str, int]) -> None:
        """Now and then a work item is destroyed: a live task or bug directly (``DELETE …/workitems/{id}?destroy=true``)
        or one from the recycle bin (``DELETE …/recyclebin/{id}``). wit 5.0-7.1 (workItemTracking-onprem.json):
        "Destroys the specified work item permanently from the Recycle Bin. This action can not be undone." and
        "if the destroy parameter has been set to true, it destroys the work item permanently". Permanently: it is
        gone from every route, and its revisions from the reporting stream even with includeDeleted (the spec
        says nothing more; what is gone is gone). A directly destroyed item leaves no deleting revision behind;
        its links end as when it is deleted."""
        if rng.random() >= 0.3:
            return
        binned = sorted(set(self.deleted_at) - self.destroyed)
        if binned and rng.random() < 0.3:
            self.destroyed.add(rng.choice(binned))
        else:
            item = self._pick_live(rng, lambda it: it.type in LEAF_TYPES)
            if item is None:
                return
            self.current.deleted[item.id] = 1
            self._bury(item, when)
            self.destroyed.add(item.id)
        counts["work_items_destroyed"] = counts.get("work_items_destroyed", 0) + 1

    def _links_of(self, item_id: int) -> list[int]:
        item = self.items[item_id]
        state = self.state(item) if item is not None else None
        return [k for k in state.links if self.links.active[k]] if state is not None else []

    def _uncomment(self, rng: random.Random, when: int, counts: dict[str, int]) -> None:
        item = self._pick_live(rng, lambda it: self.current.comments[it.id] > 0)
        if item is not None:
            key = (item.id, rng.randint(1, self.current.comments[item.id]))
            self.deleted_comments.setdefault(key, when * 1000)


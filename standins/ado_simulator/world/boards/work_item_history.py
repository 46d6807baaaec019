"""Compact storage of work item history, and replaying it into field values.

``RevisionLog`` holds every revision of every work item in watermark order (the order the
reporting API streams them): parallel ``array`` columns of item id, revision number, time,
change kind + actor and a kind-specific parameter. A revision's field values are never
stored: ``replay`` rebuilds them from the item's revisions 1..n, which keeps two million
revisions in a few tens of megabytes (``ReplayCache`` keeps recently read items' last state, so a
walk of the log in watermark order replays each revision once). ``LinkTable`` does the same for work item links and
their change events (the reporting links stream).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Iterator

from standins.ado_simulator.world.boards.wit_process import WorkItemTypeDef

__all__ = ["Change", "adds_comment", "RevisionLog", "LinkTable", "ItemState", "WorkItem", "HIERARCHY", "RELATED_LINK", "stamp", "replay",
           "ReplayCache"]


class Change:
    """Revision kinds (the ``param`` column's meaning in brackets)."""

    CREATE = 0  # [parent link index + 1, or 0]
    STATE = 1  # [target state index]
    ASSIGN = 2  # [person index + 1, 0 = unassigned]
    ITERATION = 3  # [iteration node id]
    AREA = 4  # [area node id]
    COMMENT = 5  # [comment id]
    EDIT = 6  # [edit code: low 2 bits = which field, the rest = the value]
    LINK_ADD = 7  # [link index]
    LINK_REMOVE = 8  # [link index]
    ARTIFACT = 9  # [artifact index]
    DELETE = 10  # [0]
    # A flag on the kinds above (never on COMMENT): the same save also added a comment, the item's
    # next comment id (a user moves the state and writes why). Only worlds with the
    # ``comments_with_changes`` semantics have such revisions.
    WITH_COMMENT = 0x80
    KIND = 0x7F  # the kind without the flag


def adds_comment(code: int) -> bool:
    """True when the revision whose kind byte is ``code`` added a comment (alone or with another change)."""
    return code & Change.KIND == Change.COMMENT or bool(code & Change.WITH_COMMENT)


HIERARCHY = 0  # link kinds in LinkTable.kind: source = parent, target = child
RELATED_LINK = 1


def stamp(seconds: int, item_id: int, rev: int) -> int:
    """Milliseconds since the epoch of a revision: its second plus a fixed, id-derived millisecond."""
    return seconds * 1000 + (item_id * 7919 + rev * 104729) % 1000


@dataclass(frozen=True, slots=True)
class WorkItem:
    """What a work item is created with; everything later lives in the RevisionLog."""

    id: int
    project: int  # index into world.projects
    type: int  # index into wit_process.TYPES
    created_by: int  # index into world.people
    assignee: int  # person index + 1, 0 = unassigned
    area: int  # classification node id
    iteration: int  # classification node id
    priority: int
    parent_link: int  # link index + 1 (the link is part of the first revision), 0 = none


class RevisionLog:
    """All revisions in watermark order; ``by_item[id]`` lists an item's log positions, revision order."""

    __slots__ = ("item", "rev", "time", "code", "param", "by_item")

    def __init__(self) -> None:
        self.item = array("I")
        self.rev = array("I")
        self.time = array("I")
        self.code = array("I")  # kind | actor << 8
        self.param = array("I")
        self.by_item: list[array] = [array("I")]  # id 0 unused

    def __len__(self) -> int:
        return len(self.item)

    def append(self, item_id: int, when: int, kind: int, actor: int, param: int) -> int:
        while len(self.by_item) <= item_id:
            self.by_item.append(array("I"))
        positions = self.by_item[item_id]
        position = len(self.item)
        self.item.append(item_id)
        self.rev.append(len(positions) + 1)
        self.time.append(when)
        self.code.append(kind | actor << 8)
        self.param.append(param)
        positions.append(position)
        return position

    def revisions(self, item_id: int) -> int:
        return len(self.by_item[item_id]) if item_id < len(self.by_item) else 0

    def kind(self, position: int) -> int:
        """The revision's change kind (without the ``WITH_COMMENT`` flag)."""
        return self.code[position] & Change.KIND

    def history_only(self, position: int) -> bool:
        """True when the revision only added a comment: ``System.History`` (and the comment count) alone changed."""
        return self.code[position] & 0xFF == Change.COMMENT

    def actor(self, position: int) -> int:
        return self.code[position] >> 8

    def stamp(self, position: int) -> int:
        return stamp(self.time[position], self.item[position], self.rev[position])


class LinkTable:
    """Work item links (index = link id) and the log of their changes (reporting links stream)."""

    __slots__ = ("source", "target", "kind", "active", "event_link", "event_time", "event_active")

    def __init__(self) -> None:
        self.source = array("I")
        self.target = array("I")
        self.kind = array("B")
        self.active = bytearray()
        self.event_link = array("I")
        self.event_time = array("I")
        self.event_active = bytearray()

    def __len__(self) -> int:
        return len(self.source)

    def add(self, source: int, target: int, kind: int) -> int:
        self.source.append(source)
        self.target.append(target)
        self.kind.append(kind)
        self.active.append(0)
        return len(self.source) - 1

    def record(self, link: int, when: int, active: bool) -> None:
        """A change event: the link became active (added) or inactive (removed, or an end deleted)."""
        self.active[link] = active
        self.event_link.append(link)
        self.event_time.append(when)
        self.event_active.append(active)

    def other_end(self, link: int, item_id: int) -> int:
        return self.target[link] if self.source[link] == item_id else self.source[link]


class ItemState:
    """A work item's values after some revision (mutable while replaying)."""

    __slots__ = ("rev", "position", "state", "reason", "assignee", "area", "iteration", "priority", "changed", "changed_by",
                 "created", "state_changed", "activated", "resolved", "closed", "comments", "history", "tags",
                 "description", "work", "links", "artifacts", "deleted", "change")

    def __init__(self) -> None:
        self.rev = 0
        self.position = -1
        self.state = 0  # index into the type's states
        self.reason = ""
        self.assignee = -1  # person index, -1 = unassigned
        self.area = 0
        self.iteration = 0
        self.priority = 2
        self.changed = 0  # stamp (ms)
        self.changed_by = 0
        self.created = 0
        self.state_changed = 0
        self.activated: tuple[int, int] | None = None  # (stamp, person)
        self.resolved: tuple[int, int] | None = None
        self.closed: tuple[int, int] | None = None
        self.comments = 0
        self.history: int = 0  # comment id whose text is this revision's System.History, 0 = none
        self.tags = 0
        self.description = 1  # description version
        self.work = 0  # value of the type's effort field (story points, remaining work...)
        self.links: dict[int, int] = {}  # link index -> stamp it was added
        self.artifacts: dict[int, int] = {}  # artifact index -> stamp it was added
        self.deleted = False
        self.change = 0  # the Change kind of this revision


def replay(log: RevisionLog, item: WorkItem, kind: WorkItemTypeDef, until: int | None = None,
           start: ItemState | None = None) -> Iterator[ItemState]:
    """The item's state after each of its revisions 1..``until`` (the same object, updated in place).

    ``start``: a state after some earlier revision of the item to go on from (its revisions after
    ``start.rev`` only; ``start`` itself is the object updated)."""
    positions = log.by_item[item.id]
    last = len(positions) if until is None else min(until, len(positions))
    if start is None:
        state = ItemState()
        state.area, state.iteration, state.priority = item.area, item.iteration, item.priority
    else:
        state = start
    for index in range(state.rev, last):
        position = positions[index]
        code, actor, param = log.code[position] & 0xFF, log.code[position] >> 8, log.param[position]
        change = code & Change.KIND
        when = stamp(log.time[position], item.id, index + 1)
        state.rev, state.position, state.change, state.changed, state.changed_by = index + 1, position, change, when, actor
        state.history = 0
        if change == Change.CREATE:
            state.created = state.state_changed = when
            state.assignee = item.assignee - 1
            state.reason = kind.reasons[kind.states[0]][0]
            if param:
                state.links[param - 1] = when
        elif change == Change.STATE:
            _move(state, kind, param, when, actor)
        elif change == Change.ASSIGN:
            state.assignee = param - 1
        elif change == Change.ITERATION:
            state.iteration = param
        elif change == Change.AREA:
            state.area = param
        elif change == Change.COMMENT:
            state.comments += 1
            state.history = param
        elif change == Change.EDIT:
            _edit(state, param)
        elif change == Change.LINK_ADD:
            state.links[param] = when
        elif change == Change.LINK_REMOVE:
            state.links.pop(param, None)
        elif change == Change.ARTIFACT:
            state.artifacts[param] = when
        elif change == Change.DELETE:
            state.deleted = True
        if code & Change.WITH_COMMENT:  # comment ids count up per item: this one is the next
            state.comments += 1
            state.history = state.comments
        yield state


def _move(state: ItemState, kind: WorkItemTypeDef, target: int, when: int, actor: int) -> None:
    name = kind.states[target]
    entering, again = kind.reasons[name]
    state.reason = again if target < state.state else entering
    state.state, state.state_changed = target, when
    if name == "Active":
        state.activated = (when, actor)
        state.resolved = state.closed = None
    elif name == "Resolved":
        state.resolved = (when, actor)
        state.closed = None
    elif name == "Closed":
        state.closed = (when, actor)
    elif name in ("New", "Design"):
        state.activated = state.resolved = state.closed = None
    if state.assignee < 0 and name == "Active":
        state.assignee = actor


def _edit(state: ItemState, code: int) -> None:
    which, value = code & 3, code >> 2
    if which == 0:
        state.priority = 1 + value % 4
    elif which == 1:
        state.description += 1
    elif which == 2:
        state.tags = value
    else:
        state.work = value


class ReplayCache:
    """The latest replayed state of recently read work items, to go on from at a later revision.

    A state after revision ``r`` depends only on the item's revisions 1..r, which never change once
    written (the log only grows), so a kept state stays right whatever the world does later. Bounded:
    cleared when full. Use: ``start = take(id, first)``, ``replay(..., start=start)`` (the revisions
    from ``first`` on are yielded), then ``keep(id, last state)``."""

    __slots__ = ("_capacity", "_states")

    def __init__(self, capacity: int = 100_000) -> None:
        self._states: dict[int, ItemState] = {}
        self._capacity = capacity

    def take(self, item_id: int, first: int) -> ItemState | None:
        """The kept state of the item to replay revision ``first`` on from (None: replay from the start);
        no longer kept (the replay updates it)."""
        kept = self._states.pop(item_id, None)
        return kept if kept is not None and kept.rev < first else None

    def keep(self, item_id: int, state: ItemState | None) -> None:
        if state is None:
            return
        if len(self._states) >= self._capacity:
            self._states.clear()
        self._states[item_id] = state

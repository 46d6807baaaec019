"""Generating the work items of a world: exact counts, a plausible history, all before the world's clock.

Two passes. The first creates the items (ids in creation order), their parent links, a few
related links and the items to delete, and so knows every revision that one item causes on
another (a parent's revision when a child is linked). The remaining revisions are spread
over the items, older items getting more. The second pass walks each item's revisions in
time order and lets the ``Planner`` decide what each free revision changes. Finally all
revisions are merged by time into the revision log (watermark order).
"""

from __future__ import annotations

import random
from array import array
from typing import TYPE_CHECKING

from standins.ado_simulator.world.generate import DAY, EPOCH
from standins.ado_simulator.world.scales import AREA_SCALES
from standins.ado_simulator.world.boards.wit_planner import LEAF_TYPES
from standins.ado_simulator.world.boards.work_item_history import RELATED_LINK, Change, WorkItem, stamp
from standins.ado_simulator.world.boards.work_items import WorkItemsDomain

if TYPE_CHECKING:
    from standins.ado_simulator.world.world import World

__all__ = ["build_work_items"]

Event = tuple[int, int, int, int]  # (time, change kind or -1 = free, actor, param)
_FREE = -1


def build_work_items(world: "World", seed: int, scale: str) -> WorkItemsDomain:
    """Exactly ``work_items`` items (ids 1..n) with exactly ``work_item_revisions`` revisions in total."""
    domain = WorkItemsDomain(world, world.domain("teams"), scale)  # type: ignore[arg-type]
    spec = AREA_SCALES[scale]
    # comments saved with a field change: their own random stream, so the rest of the history stays as it was
    comment_rng = random.Random(f"{seed}:{scale}:work_items:with_comment") if world.semantics.comments_with_changes else None
    _generate(domain, random.Random(f"{seed}:{scale}:work_items"), spec.work_items, spec.work_item_revisions, comment_rng)
    return domain


def _generate(domain: WorkItemsDomain, rng: random.Random, count: int, revisions: int,
              comment_rng: random.Random | None = None) -> None:
    end = domain.world.clock - 3600  # advance starts one hour later: history never overlaps it
    created = sorted(rng.randint(EPOCH, end - 3600) for _ in range(count))
    fixed: dict[int, list[Event]] = {}
    link_events: list[tuple[int, int, bool]] = []
    items = _create_items(domain, rng, created, fixed, link_events)
    doomed = _choose_deletions(rng, items, created, end, count)
    caused = sum(len(events) for events in fixed.values())
    _relate(domain, rng, items, doomed, created, end, min(count // 20, (revisions - count - caused - len(doomed)) // 2),
            fixed, link_events)
    for item_id, when in doomed.items():
        fixed.setdefault(item_id, []).append((when, Change.DELETE, domain.planner.actor(rng, items[item_id - 1]), 0))
        if items[item_id - 1].parent_link:
            link_events.append((when, items[item_id - 1].parent_link - 1, False))
    free = revisions - count - sum(len(events) for events in fixed.values())
    if free < 0:
        raise ValueError(f"{revisions} revisions are too few for {count} work items")
    weights = [((doomed.get(i + 1) or end) - c) / (end - EPOCH) * rng.uniform(0.5, 1.5) + 0.05 for i, c in enumerate(created)]
    columns = _walk(domain, rng, items, created, fixed, _split(free, weights), doomed, end, comment_rng)
    _fill_log(domain, columns)
    for when, link, active in sorted(link_events, key=lambda e: e[0]):
        domain.links.record(link, when, active)
    for item in items:
        if not domain.current.deleted[item.id]:
            domain.add_live(item.id)


def _create_items(domain: WorkItemsDomain, rng: random.Random, created: list[int], fixed: dict[int, list[Event]],
                  link_events: list[tuple[int, int, bool]]) -> list[WorkItem]:
    items = []
    links = domain.links
    for item_id, when in enumerate(created, 1):
        item = domain.planner.new_item(rng, item_id, when, links)
        domain.items.append(item)
        domain.current.create(item)
        items.append(item)
        if item.parent_link:
            link = item.parent_link - 1
            link_events.append((when, link, True))
            fixed.setdefault(links.source[link], []).append((when + rng.randint(1, 90), Change.LINK_ADD, item.created_by, link))
    return items


def _choose_deletions(rng: random.Random, items: list[WorkItem], created: list[int], end: int, count: int) -> dict[int, int]:
    """About 1% of the tasks and bugs (at least one), each deleted some time after its creation."""
    leaves = [item.id for item in items if item.type in LEAF_TYPES and created[item.id - 1] < end - 3 * DAY]
    chosen = rng.sample(leaves, min(len(leaves), max(1, count // 100)))
    return {i: rng.randint(created[i - 1] + DAY, end) for i in sorted(chosen)}


def _relate(domain: WorkItemsDomain, rng: random.Random, items: list[WorkItem], doomed: dict[int, int], created: list[int],
            end: int, count: int, fixed: dict[int, list[Event]], link_events: list[tuple[int, int, bool]]) -> None:
    """``count`` related links between live items of one project, each a revision on both ends."""
    by_project: dict[int, list[int]] = {}
    for item in items:
        if item.id not in doomed:
            by_project.setdefault(item.project, []).append(item.id)
    pairs: set[tuple[int, int]] = set()
    for _ in range(count * 3):
        if len(pairs) == count:
            break
        ids = by_project[items[rng.randrange(len(items))].project]
        pair = tuple(sorted(rng.sample(ids, 2))) if len(ids) > 1 else None
        if pair is None or pair in pairs:
            continue
        pairs.add(pair)  # type: ignore[arg-type]
        source, target = pair
        when = rng.randint(max(created[source - 1], created[target - 1]) + 60, end)
        link = domain.links.add(source, target, RELATED_LINK)
        link_events.append((when, link, True))
        actor = domain.planner.actor(rng, items[source - 1])
        for end_id in pair:
            fixed.setdefault(end_id, []).append((when, Change.LINK_ADD, actor, link))


def _split(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), adding up exactly."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    shares = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - shares[i], reverse=True)[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _walk(domain: WorkItemsDomain, rng: random.Random, items: list[WorkItem], created: list[int],
          fixed: dict[int, list[Event]], shares: list[int], doomed: dict[int, int], end: int,
          comment_rng: random.Random | None = None) -> tuple[array, ...]:
    """Every revision of every item, item by item in time order: (item, time, code, param) columns.
    With ``comment_rng`` most field changes also add a comment (``Planner.with_comment``)."""
    columns: tuple[array, ...] = (array("I"), array("I"), array("I"), array("I"))
    item_col, time_col, code_col, param_col = columns
    planner, current = domain.planner, domain.current
    for item, share in zip(items, shares):
        born = created[item.id - 1]
        limit = max(born + 60, doomed.get(item.id, end + 1) - 1)
        events = [(born, Change.CREATE, item.created_by, item.parent_link)] + fixed.get(item.id, [])
        events += [(rng.randint(born + 60, limit), _FREE, 0, 0) for _ in range(share)]
        events.sort(key=lambda e: e[0])  # CREATE stays first, DELETE last (see _choose_deletions)
        previous = born - 1
        for rev, (when, change, actor, param) in enumerate(events, 1):
            when = previous = max(when, previous + 1)
            if change == _FREE:
                change, actor, param = planner.change(rng, item, when)
                if comment_rng is not None:
                    change = planner.with_comment(comment_rng, change)
            if change != Change.CREATE:
                current.apply(item, change, actor, param)
            if change == Change.DELETE:
                domain.deleted_at[item.id] = stamp(when, item.id, rev)
            elif change == Change.COMMENT and rng.random() < 0.05:
                domain.deleted_comments[(item.id, param)] = max(when + 1, min(end, when + rng.randint(3600, 5 * DAY))) * 1000
            elif change & Change.WITH_COMMENT and comment_rng is not None and comment_rng.random() < 0.05:
                deleted = max(when + 1, min(end, when + comment_rng.randint(3600, 5 * DAY))) * 1000
                domain.deleted_comments[(item.id, current.comments[item.id])] = deleted
            item_col.append(item.id)
            time_col.append(when)
            code_col.append(change | actor << 8)
            param_col.append(param)
    return columns


def _fill_log(domain: WorkItemsDomain, columns: tuple[array, ...]) -> None:
    """The revisions merged by time (stable: one item's revisions keep their order) into the log."""
    item_col, time_col, code_col, param_col = columns
    log = domain.log
    for g in sorted(range(len(item_col)), key=time_col.__getitem__):
        code = code_col[g]
        log.append(item_col[g], time_col[g], code & 0xFF, code >> 8, param_col[g])

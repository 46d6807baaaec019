"""Work item cycle time from the revision log: first InProgress revision -> the last close.

docs/metrics.md: per work item, its revisions by ``rev`` (every revision the reporting stream
serves: deleted items' too, destroyed items' never), each revision's state category from its
type; cycle time = ``System.ChangedDate`` of the first revision of the final run of Completed
revisions minus that of the first InProgress revision. Items not Completed now, or never
InProgress, have no sample. Grouped per work item type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from standins.ado_simulator.truth.figures import MetricTruth, Sample, duration_metric
from standins.ado_simulator.truth.instants import revision_instant, seconds_between
from standins.ado_simulator.world.boards.wit_process import STATE_CATEGORY, TYPES

if TYPE_CHECKING:
    from standins.ado_simulator.world.boards.work_items import WorkItemsDomain
    from standins.ado_simulator.world.world import World

__all__ = ["work_item_cycle_time"]


def work_item_cycle_time(world: World) -> MetricTruth:
    domain = cast("WorkItemsDomain", world.domain("work_items"))
    samples = []
    for item in domain.items[1:]:
        if item is None or item.id in domain.destroyed:
            continue
        states = TYPES[item.type].states
        started: int | None = None
        closed: int | None = None  # first revision of the current run of Completed revisions
        for state in domain.history(item):
            category = STATE_CATEGORY[states[state.state]]
            changed = revision_instant(state.changed)
            if category == "InProgress" and started is None:
                started = changed
            if category == "Completed":
                closed = changed if closed is None else closed
            else:
                closed = None
        if started is not None and closed is not None:
            samples.append(Sample(TYPES[item.type].name, seconds_between(started, closed), closed))
    return duration_metric("work_item_cycle_time", samples)

"""WorkItemTable: a number per work item id in a dense array (satellite/streams/work_item_table.py)."""

from __future__ import annotations

from satellite.streams.work_item_table import DENSE_LIMIT, WorkItemTable


def test_get_set_discard_and_items_by_id() -> None:
    table = WorkItemTable("H", none=0xFFFF)
    assert table.get(5) is None and table.get(5, 7) == 7
    table[5] = 0
    table[3] = 2
    table[100_000] = 9
    assert table.get(5) == 0 and table.get(3) == 2 and table.get(4) is None and table.get(100_000) == 9
    table.discard(3)
    assert table.get(3, -1) == -1
    assert list(table.items()) == [(5, 0), (100_000, 9)]


def test_ids_past_the_dense_limit_or_negative_go_to_a_dict() -> None:
    table = WorkItemTable("I")
    table[DENSE_LIMIT + 5] = 1
    table[-3] = 2
    table[2] = 3
    assert len(table._values) < 2 * 1024  # the far ids did not grow the array
    assert table.get(DENSE_LIMIT + 5) == 1 and table.get(-3) == 2
    assert list(table.items()) == [(2, 3), (-3, 2), (DENSE_LIMIT + 5, 1)]
    table.discard(-3)
    assert table.get(-3) is None

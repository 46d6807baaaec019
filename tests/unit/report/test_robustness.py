"""A record lacking a field, or holding another type there, is skipped from its metric: never a crash.

Every field of every hand-written record (top level and one level down) is replaced in turn by a
missing value and by values of the wrong type; the whole report is computed each time.
"""

from __future__ import annotations

from dataclasses import replace

from standins.sei_receiver.report.build import report_of
from standins.sei_receiver.report.records import StoredRecord
from tests.unit.report.records import (
    build,
    change,
    classic_deployment,
    env_record,
    environment,
    pr,
    pr_commit,
    release,
    revision,
    snapshot,
    timeline,
    vote,
    work_item_type,
)

JUNK = (None, 7, -1.5, "x", "", [], [1, "a"], {}, {"id": {}}, True)
MISSING = object()


def records() -> list[StoredRecord]:
    return [
        build(1, "web CI", queued="2024-01-01T00:00:00Z", start="2024-01-01T00:01:00Z", finish="2024-01-01T00:09:00Z",
              changed="2024-01-02T00:00:00Z", received_at=1.8e9),
        timeline(1, "j", "Job", "Build", start="2024-01-01T00:01:00Z", finish="2024-01-01T00:08:00Z"),
        timeline(1, "s", "Stage", "Build", attempt=2),
        change(1, "abc", "2023-12-31T00:00:00Z"),
        release(1, 1, [("Prod", "succeeded", 2)]),
        classic_deployment(1, 1, "failed", "2024-01-01T01:00:00Z"),
        classic_deployment(2, 1, "succeeded", "2024-01-01T02:00:00Z", attempt=2),
        environment(5, "production"),
        env_record(1, 5, 1, "failed", "2024-01-03T00:00:00Z"),
        env_record(2, 5, 1, "succeeded", "2024-01-03T02:00:00Z", stage_attempt=2),
        pr(1, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
        pr_commit(1, "abc", "2023-12-31T00:00:00Z"),
        vote(1, 1, "2024-01-01T05:00:00Z", 10),
        *work_item_type("Bug"),
        revision(1, 1, "Active", "2024-01-01T00:00:00Z", received_at=1.8e9),
        revision(1, 2, "Closed", "2024-01-02T00:00:00Z", received_at=1.8e9),
        StoredRecord("git.push", "repo:1", {"date": "2024-01-02T00:00:00Z", "repository": {"project": {"name": "P"}}}, 1.8e9),
    ]


def variants():
    """(record index, path, value) for every field of every record, one and two levels deep."""
    for index, record in enumerate(records()):
        for name, value in record.data.items():
            for junk in (MISSING, *JUNK):
                yield index, (name,), junk
            if isinstance(value, dict):
                for inner in value:
                    for junk in (MISSING, None, 3, "x", [], {}):
                        yield index, (name, inner), junk
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for junk in (MISSING, None, "x", []):
                    yield index, (name, 0, next(iter(value[0]))), junk


def _replaced(data, path, junk):
    data = dict(data) if isinstance(data, dict) else list(data)
    head, rest = path[0], path[1:]
    if not rest:
        if junk is MISSING:
            del data[head]
        else:
            data[head] = junk
        return data
    data[head] = _replaced(data[head], rest, junk)
    return data


def test_the_intact_records_give_samples():
    document = report_of(snapshot(*records(), first_batch_at=1.7e9, api_versions=("7.0",))).to_json()
    assert all(m["skipped"] == 0 for m in document["metrics"].values())
    assert document["metrics"]["lead_time"]["summary"]["count"] == 1


def test_a_damaged_field_never_crashes_the_report():
    crashed = []
    for index, path, junk in variants():
        damaged = records()
        damaged[index] = replace(damaged[index], data=_replaced(damaged[index].data, path, junk))
        try:
            report_of(snapshot(*damaged, first_batch_at=1.7e9, api_versions=("7.0",))).to_json()
        except Exception as exc:  # noqa: BLE001 - every crash is listed
            crashed.append(f"{damaged[index].type} {'.'.join(map(str, path))}={junk!r}: {exc!r}")
    assert not crashed, "\n".join(crashed[:20])

"""satellite.streams.records: trim and the Record built by upsert/delete."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from satellite.streams.records import Record, delete, trim, upsert


def _reference_trim(data):
    """The plain recursive walk trim must agree with."""
    if type(data) is dict:
        return {key: _reference_trim(value) for key, value in data.items() if key != "_links"}
    if type(data) is list:
        return [_reference_trim(value) for value in data]
    return data


BODY = {
    "_links": {"self": {"href": "x"}},
    "id": 7,
    "createdBy": {"displayName": "A", "_links": {"avatar": {"href": "y"}}},
    "reviewers": [{"id": "r", "_links": {}}, [{"_links": 1, "deep": [[{"_links": None, "k": "v"}]]}], 3, None, "s"],
    "fields": {"System.Title": "t", "System.AssignedTo": {"uniqueName": "u", "_links": {"avatar": {}}}},
    "text": "_links",
    "empty": {},
}


def test_trim_removes_links_at_every_depth_in_place():
    data = copy.deepcopy(BODY)
    assert trim(data) is data
    assert data == _reference_trim(BODY)
    assert "_links" not in str(data.keys()) and data["reviewers"][1][0] == {"deep": [[{"k": "v"}]]}


@pytest.mark.parametrize("value", [None, 3, "s", 1.5, True, [], {}, [[{"_links": 1}]], [{"a": {"_links": 2}}]])
def test_trim_of_any_json_value(value):
    assert trim(copy.deepcopy(value)) == _reference_trim(value)


def test_records_are_frozen_dataclasses_built_as_before():
    record = upsert("git.pull_request", "k", {"id": 1, "_links": {}})
    assert (record.type, record.key, record.op, record.data) == ("git.pull_request", "k", "upsert", {"id": 1})
    assert record == Record("git.pull_request", "k", "upsert", record.observed_at, {"id": 1})
    assert Record(type="t", key="k", op="delete", observed_at="o", data=None) == Record("t", "k", "delete", "o", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.key = "other"  # type: ignore[misc]
    assert dataclasses.replace(record, key="k2").key == "k2"
    assert pickle.loads(pickle.dumps(record)) == record
    assert repr(delete("t", "k")).startswith("Record(type='t', key='k', op='delete', observed_at=")
    assert hash(Record("t", "k", "delete", "o", None)) == hash(Record("t", "k", "delete", "o", None))

"""The contract's nested records: a delete of a record removes the records nested in it (its
``NESTED_TYPES``, keyed ``<its key>:<id>``) that were stored before the delete, and nothing else."""

from __future__ import annotations

import uuid

from satellite.sealing.batch_format import BatchHeader, OpenedBatch
from satellite.streams import NESTED_TYPES
from standins.sei_receiver.storage import ReceiverStorage


def batch(*records: dict) -> OpenedBatch:
    header = BatchHeader(str(uuid.uuid4()), "sat", "acme", "tfs", "pipelines", "build.builds", 1, 1, "2026-12-04T00:00:00Z",
                         len(records), None, None, "r", "s")
    return OpenedBatch(header, records)


def record(record_type: str, key: str, op: str = "upsert", at: str = "2026-12-04T10:00:00Z") -> dict:
    return {"type": record_type, "key": key, "op": op, "observed_at": at, "data": None if op == "delete" else {"k": key}}


def live(storage: ReceiverStorage, record_type: str) -> list[str]:
    return sorted(r["key"] for r in storage.records(record_type) if r["op"] == "upsert")


def test_a_deleted_build_takes_its_timeline_records_and_changes_and_nothing_else(tmp_path):
    assert NESTED_TYPES["build.build"] == ("build.timeline_record", "build.change")
    storage = ReceiverStorage(tmp_path)
    storage.store_batch(batch(
        record("build.build", "c:1"), record("build.build", "c:12"),
        record("build.timeline_record", "c:1:a"), record("build.timeline_record", "c:12:b"),
        record("build.change", "c:1:sha1"), record("build.change", "c:12:sha2"),
        record("git.pull_request_thread", "c:1:t"),  # not nested in a build: same prefix, other type
    ))
    storage.store_batch(batch(record("build.build", "c:1", "delete", "2026-12-04T11:00:00Z"),
                              record("build.timeline_record", "c:1:late", at="2026-12-04T12:00:00Z")))
    assert live(storage, "build.build") == ["c:12"]
    assert live(storage, "build.timeline_record") == ["c:12:b", "c:1:late"]  # the one observed after the delete stays
    assert live(storage, "build.change") == ["c:12:sha2"]  # "c:12" is not nested in "c:1"
    assert live(storage, "git.pull_request_thread") == ["c:1:t"]
    storage.close()

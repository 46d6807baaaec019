"""The receiver's database read once into typed records: the live record of each (type, key) the report joins,
when its batch arrived, the first batch's arrival, and the server versions the heartbeats name."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["REPORT_TYPES", "Snapshot", "StoredRecord", "api_versions_of", "load_snapshot"]

REPORT_TYPES = (
    "build.build", "build.timeline_record", "build.change", "release.release", "release.deployment",
    "distributedtask.environment", "distributedtask.environment_deployment", "git.pull_request",
    "git.pull_request_commit", "git.pull_request_thread", "git.push", "wit.work_item_revision",
    "wit.work_item_type", "core.project",
)


@dataclass(frozen=True)
class StoredRecord:
    type: str
    key: str
    data: Mapping[str, Any]
    received_at: float | None = None  # when the batch that brought this version arrived (receiver clock)


@dataclass(frozen=True)
class Snapshot:
    """What the receiver holds now, by record type (live records only)."""

    records: Mapping[str, tuple[StoredRecord, ...]] = field(default_factory=dict)
    first_batch_at: float | None = None
    api_versions: tuple[str, ...] = ()  # from the heartbeats; () = unknown

    def of(self, record_type: str) -> tuple[StoredRecord, ...]:
        return self.records.get(record_type, ())

    @staticmethod
    def of_records(records: Iterable[StoredRecord], *, first_batch_at: float | None = None,
                   api_versions: Iterable[str] = ()) -> Snapshot:
        """A snapshot from records in memory (tests, other stores)."""
        grouped: dict[str, list[StoredRecord]] = {}
        for record in records:
            grouped.setdefault(record.type, []).append(record)
        return Snapshot({t: tuple(v) for t, v in grouped.items()}, first_batch_at, tuple(api_versions))


def api_versions_of(heartbeats: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The distinct ``integrations[].api_version`` of the heartbeats, sorted as versions."""
    found: set[str] = set()
    for body in heartbeats:
        integrations = body.get("integrations") if isinstance(body, Mapping) else None
        for item in integrations if isinstance(integrations, list) else ():
            version = item.get("api_version") if isinstance(item, Mapping) else None
            if isinstance(version, str) and version:
                found.add(version)
    return tuple(sorted(found, key=_version_key))


def _version_key(version: str) -> tuple:
    parts = version.split("-")[0].split(".")
    return tuple(int(p) if p.isdigit() else 0 for p in parts), version


def load_snapshot(db_path: Path, types: Iterable[str] = REPORT_TYPES) -> Snapshot:
    """Read ``receiver.db`` (read-only; a receiver may be writing it meanwhile)."""
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        wanted = tuple(types)
        marks = ",".join("?" * len(wanted))
        rows = conn.execute(
            f"SELECT r.type, r.key, r.data, b.received_at FROM records r LEFT JOIN batches b ON b.batch_id = r.batch_id"
            f" WHERE r.op = 'upsert' AND r.type IN ({marks}) ORDER BY r.type, r.key", wanted,
        ).fetchall()
        (first,) = conn.execute("SELECT MIN(received_at) FROM batches").fetchone()
        beats = [json.loads(body) for (body,) in conn.execute("SELECT body FROM heartbeats")]
    finally:
        conn.close()
    records = []
    for record_type, key, data, received_at in rows:
        parsed = json.loads(data) if data else None
        if isinstance(parsed, dict):
            records.append(StoredRecord(record_type, key, parsed, received_at))
    return Snapshot.of_records(records, first_batch_at=first, api_versions=api_versions_of(beats))

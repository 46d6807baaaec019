"""What ``satellite status`` and the status page show: read from the store, safe to call while the
agent runs (SQLite WAL lets readers and the writer work at once), never a secret."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from satellite.events.health import EventStatus, read_event_status, render_event_status
from satellite.store import OUTBOX_PAUSED_SINCE, Store
from satellite.remote.status import RemoteStatus, read_remote_status, render_remote_status
from satellite.version_skew import VersionSkew, current_skew

__all__ = ["StreamView", "StatusReport", "read_status", "render_status_table", "age_text", "time_text", "cursor_text"]

CURSOR_WIDTH = 32  # the table's cursor column; --json and status.json carry the stored summary


@dataclass(frozen=True, slots=True)
class StreamView:
    integration_id: str
    stream: str
    partitions: int
    last_success_at: float | None
    lag_s: float | None  # seconds since the last success
    cursor: str | None
    records_collected: int
    batches_delivered: int
    records_delivered: int
    failing_partitions: int
    last_error: str | None
    quarantined: int = 0  # items skipped as unreadable in the latest runs (read again at the next reconciliation)
    deletes_held: int = 0  # deletions a snapshot listing holds until the next one agrees (the delete guard)


@dataclass(frozen=True, slots=True)
class StatusReport:
    generated_at: float
    streams: tuple[StreamView, ...]
    outbox_batches: int
    outbox_bytes: int
    outbox_records: int
    oldest_batch_age_s: float | None
    dead_letters: int
    collection_paused_since: float | None
    version: VersionSkew | None = None  # this satellite's version against what SEI last announced
    remote: RemoteStatus | None = None  # SEI's recent commands and its pause (satellite.remote)
    events: tuple[EventStatus, ...] = ()  # per integration with events on: last event, waiting, stale (satellite.events)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def read_status(store: Store) -> StatusReport:
    now = time.time()
    cursors = store.cursor_summaries()
    held = store.held_deletes()
    streams = tuple(
        StreamView(
            s.integration_id, s.stream, s.partitions, s.last_success_at,
            round(now - s.last_success_at, 1) if s.last_success_at else None,
            cursors.get((s.integration_id, s.stream), (0, 0.0, None))[2],
            s.records_collected, s.batches_delivered, s.records_delivered, s.failing_partitions,
            s.last_error if s.failing_partitions else None,
            s.quarantined, held.get((s.integration_id, s.stream), 0),
        )
        for s in store.stream_statuses()
    )
    outbox = store.outbox_stats()
    paused = store.get_state(OUTBOX_PAUSED_SINCE)
    return StatusReport(
        generated_at=now,
        streams=streams,
        outbox_batches=outbox.batches,
        outbox_bytes=outbox.bytes,
        outbox_records=outbox.records,
        oldest_batch_age_s=round(now - outbox.oldest_created_at, 1) if outbox.oldest_created_at else None,
        dead_letters=outbox.dead_letters,
        collection_paused_since=float(paused) if paused else None,
        version=current_skew(store),
        remote=read_remote_status(store),
        events=read_event_status(store),
    )


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def time_text(at: float | None) -> str:
    """A UTC time to the minute (``2026-12-04 21:05Z``), or ``never``."""
    if at is None:
        return "never"
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%MZ")


def cursor_text(cursor: str | None, limit: int = CURSOR_WIDTH) -> str:
    """The newest cursor of a stream, shortened to ``limit`` characters (``-`` for none)."""
    if not cursor:
        return "-"
    return cursor if len(cursor) <= limit else cursor[: limit - 1] + "…"


def render_status_table(report: StatusReport) -> str:
    """Per stream: last success (UTC), lag (time since it), newest cursor, counts, last error; then the outbox."""
    header = ("integration", "stream", "parts", "last success", "lag", "cursor", "records", "delivered", "failing",
              "skipped", "held", "last error")
    rows = [header] + [
        (s.integration_id, s.stream, str(s.partitions), time_text(s.last_success_at), age_text(s.lag_s),
         cursor_text(s.cursor), str(s.records_collected), f"{s.records_delivered} in {s.batches_delivered}",
         str(s.failing_partitions), str(s.quarantined), str(s.deletes_held), (s.last_error or "")[:70])
        for s in report.streams
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    if any(s.quarantined or s.deletes_held for s in report.streams):
        lines.append("skipped: items a stream could not read (logged with route and id; read again at the next"
                     " reconciliation); held: deletions waiting for the next listing to agree")
    lines.append(
        f"outbox: {report.outbox_batches} batch(es), {report.outbox_records} record(s), {report.outbox_bytes} bytes,"
        f" oldest {age_text(report.oldest_batch_age_s)}; dead letters: {report.dead_letters}"
        + (f"; collection PAUSED (outbox full) for {age_text(time.time() - report.collection_paused_since)}"
           if report.collection_paused_since else "")
    )
    if report.version is not None and report.version.warning():
        lines.append(f"WARNING: {report.version.warning()}")
    if report.remote is not None:
        lines.extend(render_remote_status(report.remote))
    lines.extend(render_event_status(report.events))
    return "\n".join(lines)

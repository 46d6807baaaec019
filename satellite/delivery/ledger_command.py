"""``satellite ledger``: the batches SEI acknowledged, as the delivery ledger holds them (ids, counts,
digests, policy fingerprint, times: no record content, no names), as a table, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from satellite.config.units import format_duration, parse_duration
from satellite.store import LedgerEntry, Store

__all__ = ["FORMATS", "parse_since", "render_ledger", "show_ledger"]

FORMATS = ("table", "csv", "json")
SINCE_HINT = "a date (2026-11-30), a UTC date-time (2026-11-30T12:00:00Z) or a duration back from now (7d, 12h)"
_COLUMNS = ("batch_id", "integration_id", "stream", "seq", "record_count", "plaintext_sha256", "sealed_sha256", "policy",
            "sealed_at", "acknowledged_at", "answer")


def parse_since(text: str, now: float | None = None) -> float:
    """Seconds since the epoch of ``--since``: an ISO date or date-time (UTC unless it says), or a
    duration before ``now``.

    Raises:
        ValueError: none of those (its message is ``SINCE_HINT``).
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            return (time.time() if now is None else now) - parse_duration(text.strip()).total_seconds()
        except ValueError:
            raise ValueError(SINCE_HINT) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _row(entry: LedgerEntry) -> dict[str, object]:
    row = asdict(entry)
    row["sealed_at"], row["acknowledged_at"] = _iso(entry.sealed_at), _iso(entry.acknowledged_at)
    return row


def _short(digest: str | None) -> str:
    return digest[:12] + "…" if digest else "-"


def render_ledger(entries: list[LedgerEntry], output: str) -> str:
    """The entries in ``output`` format (``FORMATS``); digests are whole except in the table."""
    if output == "json":
        return json.dumps([_row(e) for e in entries], indent=2)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for entry in entries:
            writer.writerow({k: "" if v is None else v for k, v in _row(entry).items()})
        return buffer.getvalue().rstrip("\n")
    head = ("acknowledged", "batch", "integration", "stream", "seq", "records", "plaintext sha256", "sealed sha256",
            "policy", "answer")
    lines = [head] + [(_iso(e.acknowledged_at), e.batch_id, e.integration_id, e.stream, str(e.seq), str(e.record_count),
                       _short(e.plaintext_sha256), _short(e.sealed_sha256), e.policy or "-", e.answer) for e in entries]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    records = sum(e.record_count for e in entries)
    text.append(f"{len(entries)} batch(es), {records} record(s); digests shortened: --format csv or json shows them whole")
    return "\n".join(text)


def show_ledger(config, since: float | None = None, output: str = "table") -> int:
    """Print the ledger (rows acknowledged since ``since``, all by default); exit code 0."""
    retention: timedelta = config.delivery.ledger_retention
    store = Store(config.satellite.data_dir)
    try:
        entries = store.ledger(since)
    finally:
        store.close()
    print(render_ledger(entries, output))
    if output == "table":
        print(f"rows are kept {format_duration(retention)} (delivery.ledger_retention)")
    return 0

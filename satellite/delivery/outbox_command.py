"""``satellite outbox list|retry``: what waits for delivery, what SEI refused, and re-sending it."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

from satellite.store import OUTBOX_PAUSED_SINCE, Store

__all__ = ["list_outbox", "retry_outbox"]


def _age(seconds_since_epoch: float | None) -> str:
    if not seconds_since_epoch:
        return "-"
    age = max(0.0, time.time() - seconds_since_epoch)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if age >= size:
            return f"{age / size:.1f}{unit}"
    return f"{age:.0f}s"


def list_outbox(config, as_json: bool = False) -> int:
    """Print the outbox backlog and every dead letter. Exit code 1 when dead letters exist."""
    store = Store(config.satellite.data_dir)
    try:
        stats, dead, paused = store.outbox_stats(), store.dead_letters(), store.get_state(OUTBOX_PAUSED_SINCE)
    finally:
        store.close()
    if as_json:
        print(json.dumps({"outbox": asdict(stats), "collection_paused_since": float(paused) if paused else None,
                          "dead_letters": [asdict(d) for d in dead]}, indent=2))
        return 1 if dead else 0
    print(f"outbox: {stats.batches} batch(es), {stats.records} record(s), {stats.bytes} bytes, oldest {_age(stats.oldest_created_at)}"
          + (f"; collection paused (outbox full) for {_age(float(paused))}" if paused else ""))
    print(f"dead letters: {len(dead)}")
    for d in dead:
        print(f"  {d.batch_id}  {d.integration_id} {d.stream} #{d.seq}  {d.record_count} records  HTTP {d.status}"
              f"  rejected {_age(d.rejected_at)} ago: {d.reason}")
    if dead:
        print("re-send after fixing the cause: satellite outbox retry -c FILE --all (or the batch ids)")
    return 1 if dead else 0


def retry_outbox(config, batch_ids: list[str], retry_all: bool) -> int:
    """Move dead letters back into the outbox; the next sync or the running agent sends them."""
    if not batch_ids and not retry_all:
        print("outbox retry: name batch ids or pass --all")
        return 2
    store = Store(config.satellite.data_dir)
    try:
        known = {d.batch_id for d in store.dead_letters()}
        unknown = [b for b in batch_ids if b not in known]
        moved = store.retry_dead_letters(None if retry_all else batch_ids)
    finally:
        store.close()
    print(f"{moved} batch(es) back in the outbox")
    for batch_id in unknown:
        print(f"  not a dead letter: {batch_id}")
    return 1 if unknown else 0

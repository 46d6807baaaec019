"""BatchWriter: records -> sealed batches in the outbox, each stored with its cursor in one transaction."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from satellite.privacy.policy import PrivacyPolicy
from satellite.process_tuning import release_freed_memory
from satellite.sealing.batch_format import ndjson_line
from satellite.sealing.sealer import Sealer
from satellite.store import CursorKey, OutboxEntry, Store
from satellite.streams.base import Checkpoint, Quarantined, Record, StreamItem, content_hash
from satellite.sync.met_keys import MetKeys

__all__ = ["BatchWriter", "PendingBudget", "WriteResult"]


def _cursor_digest(cursor: str | None) -> str | None:
    return None if cursor is None else "sha256:" + content_hash(json.loads(cursor))


class PendingBudget:
    """The bytes of records the writers of one collector hold, not yet sealed, against one budget.

    Each writer's batch grows to ``max_records`` / ``max_bytes``; a collector runs many units side by
    side (a project's services, its repositories, the collection-wide streams), so without a shared
    budget the records held grow with the number of units open at once. A writer that finds the
    budget spent seals what it holds early (a smaller batch), once it holds at least ``min_batch``
    bytes, so that the budget is not spent in batches of a few records. Writers report in steps of
    ``step`` bytes (one lock per step, not per record)."""

    def __init__(self, max_bytes: int, *, min_batch: int = 256 * 1024, step: int = 64 * 1024) -> None:
        self.max_bytes = max_bytes
        self.min_batch = min_batch
        self.step = step
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        return self._held

    def change(self, delta: int) -> bool:
        """Add ``delta`` (negative: given back) to the bytes held; True when the budget is spent."""
        with self._lock:
            self._held += delta
            return self._held > self.max_bytes


@dataclass(frozen=True, slots=True)
class WriteResult:
    records: int
    batches: int
    counts_by_type: dict[str, int]
    complete: bool = True  # False: stopped (shutdown) before the stream's end
    quarantined: int = 0  # items the stream could not read, skipped


class BatchWriter:
    """Seals a stream's records into batches of at most ``max_records`` / ~``max_bytes``.

    A batch is stored together with the latest checkpoint that precedes its last record;
    a checkpoint with no records after it is stored on its own at the end.
    """

    def __init__(
        self,
        store: Store,
        sealer: Sealer,
        *,
        cursor_key: CursorKey,
        service: str,
        max_records: int,
        max_bytes: int,
        remember_keys: bool = False,
        tracked: tuple[str, ...] = (),
        on_record: Callable[[Record], None] | None = None,
        admit: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        on_quarantine: Callable[[Quarantined], None] | None = None,
        policy: PrivacyPolicy | None = None,
        budget: PendingBudget | None = None,
    ) -> None:
        """``remember_keys``: record the keys of every stored batch (for streams of immutable records).
        ``tracked``: record types whose live keys are stored with each batch, and noted in ``seen``
        (a stream's ``reconciled``).
        ``on_record``: called with every record as it is sealed (the demo counts what it collected).
        ``policy``: the privacy policy, applied here, between collection and sealing (the one place):
        a record out of scope is left out; the store keeps the keys as collected.
        ``budget``: shared with the other writers of the collector: a batch is sealed early while the
        writers together hold more than it allows."""
        self._budget = budget
        self._reported = 0  # of the batch being filled, bytes told to the budget
        self._policy = policy or PrivacyPolicy.none()
        self._remember_keys = remember_keys
        self._tracked = tracked
        self.seen: dict[str, MetKeys] = {t: MetKeys() for t in tracked}  # keys of tracked types written, any op
        self._admit = admit  # blocks while the outbox has no room (backpressure)
        self._should_stop = should_stop  # on shutdown: store what is in hand with its checkpoint, then return
        self._on_record = on_record
        self._on_quarantine = on_quarantine  # each item skipped as unreadable (the collector logs it)
        self._store = store
        self._sealer = sealer
        self._key = cursor_key
        self._service = service
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._holding: set[str] = set()  # keys of the batch being filled, with ``remember_keys``

    def holding(self, keys: list[str]) -> set[str]:
        """Which of ``keys`` are in the batch being filled (remembered once it is stored)."""
        return self._holding.intersection(keys)

    def write(self, items: Iterable[StreamItem]) -> WriteResult:
        try:
            return self._write(items)
        finally:  # a read or a store that failed: the records it held are not held any more
            self._report(0)

    def _report(self, pending_bytes: int) -> bool:
        """Tell the budget this writer now holds ``pending_bytes``; True when the budget is spent."""
        if self._budget is None or pending_bytes == self._reported:
            return False
        spent = self._budget.change(pending_bytes - self._reported)
        self._reported = pending_bytes
        return spent

    def _write(self, items: Iterable[StreamItem]) -> WriteResult:
        stored_cursor = self._store.get_cursor(self._key)
        checkpoint = stored_cursor
        # each record is encoded once, here: its line sizes the batch and goes into its one buffer as is
        # (a list of lines joined when sealed held every batch twice while it was sealed)
        ndjson = bytearray()
        count = 0  # records in the buffer
        keys: list[str] = []  # of the upserts, for ``remember_keys``
        live: list[tuple[str, str, bool]] = []  # (type, key, alive) of tracked types
        budget = self._budget
        records = batches = quarantined = 0
        counts: dict[str, int] = {}

        def flush() -> None:
            nonlocal ndjson, count, keys, live, stored_cursor, batches
            stored = count > 0
            if stored:
                self._store_batch(ndjson, count, keys, live, stored_cursor, checkpoint)
                batches += 1
            elif checkpoint != stored_cursor and checkpoint is not None:
                self._store.save_cursor(self._key, checkpoint)
            self._report(0)
            stored_cursor = checkpoint
            ndjson, count, keys, live = bytearray(), 0, [], []
            self._holding.clear()
            if stored:
                release_freed_memory()  # the batch's records and body are freed by now

        complete = True
        for item in items:
            if self._should_stop():
                complete = False
                break
            if isinstance(item, Checkpoint):
                checkpoint = item.cursor
                continue
            if isinstance(item, Quarantined):
                quarantined += 1
                if self._on_quarantine is not None:
                    self._on_quarantine(item)
                continue
            assert isinstance(item, Record)
            sealed = self._policy.apply(item)
            if sealed is None:
                continue
            line = ndjson_line(sealed.to_json())
            ndjson += line
            count += 1
            if item.op == "upsert" and self._remember_keys:
                keys.append(item.key)
                self._holding.add(item.key)
            if item.type in self.seen:
                live.append((item.type, item.key, item.op == "upsert"))
                self.seen[item.type].add(item.key)
            records += 1
            counts[item.type] = counts.get(item.type, 0) + 1
            if self._on_record is not None:
                self._on_record(sealed)
            if count >= self._max_records or len(ndjson) >= self._max_bytes:
                flush()
            elif budget is not None and len(ndjson) - self._reported >= budget.step:
                if self._report(len(ndjson)) and len(ndjson) >= budget.min_batch:
                    flush()
        flush()
        return WriteResult(records, batches, counts, complete, quarantined)

    def _store_batch(self, ndjson: bytearray, count: int, keys: list[str], live: list[tuple[str, str, bool]],
                     cursor_from: str | None, cursor_to: str | None) -> None:
        seq = self._store.next_seq(self._key.integration_id, self._key.stream)
        batch_id = str(uuid.uuid4())
        body = self._sealer.seal_ndjson(
            batch_id=batch_id,
            integration_id=self._key.integration_id,
            service=self._service,
            stream=self._key.stream,
            seq=seq,
            ndjson=ndjson,
            record_count=count,
            cursor_from=_cursor_digest(cursor_from),
            cursor_to=_cursor_digest(cursor_to),
            policy=self._policy.fingerprint,
        )
        plaintext = hashlib.sha256(ndjson)  # the delivery ledger's digest of what SEI decrypts (before compression)
        entry = OutboxEntry(batch_id, self._key.integration_id, self._key.stream, seq, count, body, plaintext.hexdigest())
        if self._admit is not None:
            self._admit(len(body))
        advance = (self._key, cursor_to) if cursor_to is not None and cursor_to != cursor_from else None
        delivered = (self._key, keys) if self._remember_keys else None
        self._store.commit_batch(entry, advance, delivered, (self._key, live) if self._tracked else None)

"""Upload lanes drain the whole outbox, however its batches are spread over the lanes.

Found by the crash test: after many kills the outbox held 250+ batches, the oldest 200 all of
one stream; the other lane looked at those 200, found none of its own and, collection being
over, stopped, leaving its batches behind (the run exited 1 with no error).
"""

from __future__ import annotations

import httpx
import pytest

from satellite.delivery.uploader import Uploader, _lane
from satellite.secret import Secret
from satellite.sei import SeiEndpoint
from satellite.store import OutboxEntry, Store

pytestmark = pytest.mark.reliability


def stream_in_lane(lane: int, lanes: int = 2) -> str:
    return next(f"s{i}" for i in range(100) if _lane(OutboxEntry("", "tfs", f"s{i}", 0, 0, b""), lanes) == lane)


def test_a_lane_whose_batches_lie_beyond_the_oldest_200_still_delivers_them(tmp_path):
    store = Store(tmp_path / "data")
    try:
        busy, quiet = stream_in_lane(0), stream_in_lane(1)
        for seq in range(1, 251):
            store.commit_batch(OutboxEntry(f"busy-{seq}", "tfs", busy, seq, 1, b"sealed"), None)
        for seq in range(1, 6):
            store.commit_batch(OutboxEntry(f"quiet-{seq}", "tfs", quiet, seq, 1, b"sealed"), None)
        sent: list[str] = []

        def answer(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers["idempotency-key"])
            return httpx.Response(201)

        with Uploader(store, SeiEndpoint("http://sei.test"), Secret("k"), concurrency=2, transport=httpx.MockTransport(answer)) as uploader:
            report = uploader.drain()
        assert report.delivered == 255 and store.outbox_stats().batches == 0
        assert [b for b in sent if b.startswith("quiet")] == [f"quiet-{seq}" for seq in range(1, 6)]  # in seq order
    finally:
        store.close()

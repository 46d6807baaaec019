"""A snapshot stream given a 200 that is not its list emits no delete and no checkpoint: the unit fails.

Regression (issue 12, item 2): single-GET lists read ``body.get("value", [])``, so a 200 with
``{}``, ``[]`` or a string made the stream take "no items" for an answer and emit ``delete`` for
every key it held, and a checkpoint forgetting them. One bad answer told SEI that every
repository was deleted. Every snapshot stream is run here as the collector runs it (list, then
diff, through the route tracker and the shape guard), holding keys in its cursor.
"""

from __future__ import annotations

import json

import httpx
import pytest

from satellite.ado.client import AdoClient, CollectionTarget
from satellite.config.model import PageSizes
from satellite.errors import AdoResponseError
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from satellite.streams import STREAMS, Checkpoint, Record, SnapshotStream, StreamContext
from satellite.sync.unit_guard import RouteTracker, guarded

URL = "https://tfs.example.test/tfs/DefaultCollection"
PROJECT_ID = "8a0b5c8e-1111-4f7e-9a35-000000000001"
# one parent that every scope's streams can read under (a project, a repository, a team)
PARENT = {"id": PROJECT_ID, "name": "Fabrikam", "projectId": PROJECT_ID, "project": {"id": PROJECT_ID}}
SNAPSHOT_STREAMS = [cls for cls in STREAMS if issubclass(cls, SnapshotStream)]
MALFORMED = {"empty object": {}, "empty list": [], "text": "Service Unavailable", "value not a list": {"count": 1, "value": "x"}}
HELD = 5  # keys in the stored cursor


def _answer(request: httpx.Request, body: object) -> httpx.Response:
    if request.method == "OPTIONS":  # api-version negotiation
        return httpx.Response(200, json={"count": 1, "value": [{"maxVersion": "7.0"}]})
    return httpx.Response(200, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def test_every_snapshot_stream_is_covered():
    assert len(SNAPSHOT_STREAMS) >= 14


@pytest.mark.parametrize("kind", list(MALFORMED))
@pytest.mark.parametrize("stream_class", SNAPSHOT_STREAMS, ids=lambda cls: cls.name)
def test_a_malformed_list_fails_the_unit_without_deletes_or_checkpoint(stream_class, kind):
    body = MALFORMED[kind]
    client = AdoClient(CollectionTarget(URL, "DefaultCollection"), Secret("unit-test-pat"),
                       retry=RetryPolicy(max_attempts=1, sleep=lambda seconds: None),
                       transport=httpx.MockTransport(lambda request: _answer(request, body)))
    stream = stream_class()
    tracker = RouteTracker(client)
    held = {f"held-key-{i}": f"{i:032x}" for i in range(HELD)}
    cursor = json.dumps({"hashes": held}, separators=(",", ":"))  # as the current release stores it
    ctx = StreamContext(tracker, f"DefaultCollection/{PROJECT_ID}", cursor, PageSizes(), collection_id="c0ffee")  # type: ignore[arg-type]
    emitted: list[Record | Checkpoint] = []
    try:
        with pytest.raises(AdoResponseError) as raised:
            items = list(guarded(lambda: stream.list(ctx, PARENT), tracker, stream.name))
            emitted.extend(guarded(lambda: stream.diff(ctx, PARENT, items), tracker, stream.name))
    finally:
        client.close()
    assert URL in str(raised.value)
    assert [i for i in emitted if isinstance(i, Record) and i.op == "delete"] == []
    assert [i for i in emitted if isinstance(i, Checkpoint)] == []

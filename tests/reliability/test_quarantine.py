"""Quarantine, not blockage (issue 15, items 2 and 3): one item a stream cannot read is skipped,
counted and reported (route and id, never its content) while the rest flows; the next
reconciliation reads it again."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from satellite.config import load_config
from satellite.metrics import REGISTRY
from satellite.retrying import RetryPolicy
from satellite.store import Store
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world

from tests.support import assert_mirrors_truth, start_simulator, write_config

from .torture_wrappers import BodyEditor

pytestmark = pytest.mark.reliability

FAST = RetryPolicy(max_attempts=2, initial_wait=0.01, max_wait=0.02)


def test_a_microsoft_shaped_comment_is_quarantined_and_the_rest_flows(tmp_path, receiver, key_files, env):
    """Microsoft's own example payloads for work item comments carry ``commentId`` instead of ``id``."""
    world = generate_world(seed=3, scale="tiny")
    bad: dict = {}

    def microsoft_shaped(path: str, data) -> None:
        if path.endswith("/comments") and not bad and isinstance(data, dict) and data.get("comments"):
            comment = data["comments"][0]
            bad.update(work_item=comment["workItemId"], id=comment["id"], text=comment.get("text"))
            comment["commentId"] = comment.pop("id")

    with start_simulator(world, wrap=lambda app: BodyEditor(app, microsoft_shaped)) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        counted = {"integration": "tfs-main", "stream": "wit.comments"}
        before = REGISTRY.get_sample_value("satellite_items_quarantined_total", counted) or 0
        with capture_logs() as logs:
            first = sync_once(config, ado_retry=FAST, upload_retry=FAST)
        assert REGISTRY.get_sample_value("satellite_items_quarantined_total", counted) == before + 1  # /metrics
    assert bad, "no comment was rewritten: the test proves nothing"
    assert first.ok, first.errors  # the stream did not fail
    comment_key = next(k for k in world.truth()["wit.comment"] if k.endswith(f":{bad['work_item']}:{bad['id']}"))
    assert comment_key not in receiver.keys_of("wit.comment")
    others = set(world.truth()["wit.comment"]) - {comment_key}
    assert others <= set(receiver.keys_of("wit.comment"))  # the rest flowed
    store = Store(tmp_path / "data")
    statuses = {s.stream: s for s in store.stream_statuses()}
    store.close()
    assert statuses["wit.comments"].quarantined == 1
    (event,) = [e for e in logs if e["event"] == "item_quarantined"]
    assert event["record_type"] == "wit.comment" and event["route"].endswith("/comments")  # what and where
    assert event["stream"] == "wit.comments" and "'id'" in event["reason"]
    if bad["text"]:
        assert bad["text"][:30] not in json.dumps(event, default=str)  # never its content

    # the next reconciliation (a full re-read) reads it again, from a server that answers it right
    store = Store(tmp_path / "data")
    store.reset_cursors("tfs-main")
    store.close()
    with start_simulator(world) as simulator:
        config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url,
                                          key_files=key_files), env=env)
        again = sync_once(config, ado_retry=FAST, upload_retry=FAST)
    assert again.ok, again.errors
    assert_mirrors_truth(receiver, world)
    store = Store(tmp_path / "data")
    assert {s.stream: s.quarantined for s in store.stream_statuses()}["wit.comments"] == 0
    store.close()


def test_status_and_heartbeat_show_the_count(tmp_path):
    from types import SimpleNamespace

    from satellite.agent.status import read_status, render_status_table
    from satellite.delivery.heartbeat import heartbeat_body
    from satellite.store import CursorKey

    store = Store(tmp_path)
    store.record_outcome(CursorKey("tfs", "wit.comments", "c/"), records=10, batches=1, quarantined=2)
    report = read_status(store)
    beat = heartbeat_body(SimpleNamespace(id="sat", tenant="acme"), store, started_at=0.0)
    store.close()
    (view,) = report.streams
    assert view.quarantined == 2
    assert "skipped" in render_status_table(report) and json.loads(report.to_json())["streams"][0]["quarantined"] == 2
    assert [s["quarantined"] for s in beat["streams"]] == [2]


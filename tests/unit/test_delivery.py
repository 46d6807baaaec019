"""Delivery built from a config file (``build_delivery``): the uploader and the heartbeat share one
API-key source read anew on use, and the heartbeat reads answers with the protocol's one rule."""

from __future__ import annotations

import json

import httpx
import pytest
from structlog.testing import capture_logs

from satellite.config import load_config
from satellite.delivery import build_delivery
from satellite.delivery.heartbeat import Heartbeat
from satellite.retrying import RetryPolicy
from satellite.sealing.keys import generate_key_files
from satellite.secret import Secret
from satellite.sei import ApiKeySource, SeiEndpoint
from satellite.store import OUTBOX_PAUSED_SINCE, OutboxEntry

ENDPOINT = "https://sei.example.test"


class Recorder:
    """A MockTransport handler: records each request, answers ``status`` (a list is used up in order)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses) or [200]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0], json={"ok": True})

    def keys(self, path: str) -> list[str]:
        return [r.headers["Authorization"] for r in self.requests if r.url.path == path]


@pytest.fixture
def config(tmp_path):
    keys = generate_key_files(tmp_path / "keys")
    (tmp_path / "api_key").write_text("CANARY-first-key")
    path = tmp_path / "satellite.yml"
    path.write_text(f"""\
satellite:
  id: unit-satellite
  tenant: acme
  endpoint: {ENDPOINT}
  api_key: ${{file:api_key}}
  encryption:
    recipient_key_id: {keys.recipient_key_id}
    recipient_public_key: ${{file:{keys.recipient_public}}}
    signing_private_key: ${{file:{keys.signing_private}}}
  data_dir: ./data
integrations:
  - id: tfs
    url: https://ado.example.test/tfs/DefaultCollection
    pat: CANARY-PAT-unit
""")
    return load_config(path)


def test_a_rotated_key_file_reaches_the_next_heartbeat_and_the_next_upload_alike(config, store, tmp_path):
    answers = Recorder(201)
    delivery = build_delivery(config, store, started_at=0.0, transport=httpx.MockTransport(answers),
                              api_key=ApiKeySource.from_config(config, max_age=0.0), retry=RetryPolicy(max_attempts=1))
    with delivery:
        assert delivery.heartbeat.send()
        store.commit_batch(OutboxEntry("b-1", "tfs", "git.commits", 1, 1, b"sealed-1"), None)
        assert delivery.uploader.drain().delivered == 1
        (tmp_path / "api_key").write_text("CANARY-rotated-key")
        assert delivery.heartbeat.send()
        store.commit_batch(OutboxEntry("b-2", "tfs", "git.commits", 2, 1, b"sealed-2"), None)
        assert delivery.uploader.drain().delivered == 1
    first, rotated = "Bearer CANARY-first-key", "Bearer CANARY-rotated-key"
    assert answers.keys("/v1/satellite/heartbeat") == [first, rotated]
    assert answers.keys("/v1/satellite/batches") == [first, rotated]


def test_by_default_the_key_source_re_reads_the_config_file(config, store, tmp_path):
    with build_delivery(config, store, started_at=0.0, transport=httpx.MockTransport(Recorder())) as delivery:
        assert delivery.api_key.get().reveal() == "CANARY-first-key"
        (tmp_path / "api_key").write_text("CANARY-rotated-key")
        assert delivery.api_key.refresh().reveal() == "CANARY-rotated-key"


def test_the_heartbeat_says_who_we_are_and_how_the_outbox_is(config, store):
    answers = Recorder(200)
    store.set_state(OUTBOX_PAUSED_SINCE, "1700000000.5")
    with build_delivery(config, store, started_at=0.0, transport=httpx.MockTransport(answers)) as delivery:
        assert delivery.heartbeat.send()
    body = json.loads(answers.requests[0].content)
    assert body["satellite_id"] == "unit-satellite" and body["outbox"]["paused_since"] == 1700000000.5
    assert "CANARY" not in answers.requests[0].content.decode()


def heartbeat(store, handler, key: str = "k") -> Heartbeat:
    class Settings:
        id, tenant = "s", None

    return Heartbeat(Settings(), SeiEndpoint(ENDPOINT), ApiKeySource.fixed(Secret(key)), store, 0.0, httpx.MockTransport(handler))


@pytest.mark.parametrize(("status", "accepted"), [(200, True), (201, True), (204, False), (401, False), (403, False),
                                                  (422, False), (503, False)])
def test_the_heartbeat_counts_only_an_accepted_answer_as_sent(store, status, accepted):
    with capture_logs() as logs:
        assert heartbeat(store, Recorder(status)).send() is accepted
    assert [e["event"] for e in logs] == ([] if accepted else ["heartbeat_refused"])


def test_a_heartbeat_that_cannot_reach_sei_is_logged_not_raised(store):
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with capture_logs() as logs:
        assert heartbeat(store, refuse).send() is False
    assert logs[0]["event"] == "heartbeat_failed" and "ConnectError" in logs[0]["error"]


def test_a_non_ascii_api_key_fails_the_heartbeat_with_a_clear_error_and_no_request(store):
    answers = Recorder()
    with capture_logs() as logs:
        assert heartbeat(store, answers, key="CANARY-schlüssel").send() is False
    assert answers.requests == []
    (event,) = logs
    assert event["event"] == "heartbeat_failed" and "satellite.api_key cannot be sent" in event["error"]
    assert "not ASCII" in event["error"] and "CANARY" not in event["error"]

"""Uploader against pytest-httpx: what is deleted, dead-lettered, retried, and what stops delivery."""

import threading

import httpx
import pytest

from satellite.delivery.uploader import Uploader
from satellite.errors import DeliveryError
from satellite.metrics import REGISTRY
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from satellite.sei import ApiKeySource, SeiEndpoint
from satellite.store import OutboxEntry, Store

ENDPOINT = "https://sei.example.test"
URL = f"{ENDPOINT}/v1/satellite/batches"
KEY = "CANARY-API-KEY-uploader-1"


class RecordingStop(threading.Event):
    """A stop event whose waits return at once and are recorded (the uploader sleeps through it)."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return self.is_set()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    for n in (1, 2):
        s.commit_batch(OutboxEntry(f"batch-{n}", "tfs", "git.commits", n, 10, b"SEIB-sealed-%d" % n), None)
    yield s
    s.close()


@pytest.fixture
def stop():
    return RecordingStop()


def make(store, stop, **kwargs):
    kwargs.setdefault("api_key", Secret(KEY))
    return Uploader(store, SeiEndpoint(ENDPOINT), kwargs.pop("api_key"), retry=RetryPolicy(max_attempts=None, initial_wait=0.01, max_wait=0.02),
                    stop=stop, concurrency=kwargs.pop("concurrency", 1), **kwargs)


def test_each_batch_is_posted_with_its_idempotency_key_and_deleted_on_201_or_200(httpx_mock, store, stop):
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Idempotency-Key": "batch-1"})
    httpx_mock.add_response(url=URL, status_code=200, match_headers={"Idempotency-Key": "batch-2"})
    with make(store, stop) as uploader:
        report = uploader.drain()
    assert (report.delivered, report.duplicates, report.dead_lettered) == (1, 1, [])
    assert store.outbox_stats().batches == 0
    first, second = httpx_mock.get_requests()
    assert first.content == b"SEIB-sealed-1" and second.content == b"SEIB-sealed-2"  # in seq order
    assert first.headers["Authorization"] == f"Bearer {KEY}"
    assert first.headers["Content-Type"] == "application/vnd.sei.sealed-batch"


@pytest.mark.parametrize("status", [408, 409, 429, 500, 503])
def test_transient_answers_are_retried_honouring_retry_after(httpx_mock, store, stop, status):
    httpx_mock.add_response(url=URL, status_code=status, headers={"Retry-After": "2"})
    httpx_mock.add_response(url=URL, status_code=201)
    httpx_mock.add_response(url=URL, status_code=201)
    with make(store, stop) as uploader:
        assert uploader.drain().delivered == 2
    assert 2.0 <= stop.waits[0] <= 2.5 and store.outbox_stats().batches == 0


def test_transient_failures_are_retried_forever_with_capped_backoff(httpx_mock, store, stop):
    for _ in range(25):
        httpx_mock.add_response(url=URL, status_code=503)
    httpx_mock.add_response(url=URL, status_code=201)
    httpx_mock.add_response(url=URL, status_code=201)
    with make(store, stop) as uploader:
        assert uploader.drain().delivered == 2
    assert len(stop.waits) >= 25 and max(stop.waits) <= 0.02


def test_network_errors_are_retried(httpx_mock, store, stop):
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL)
    httpx_mock.add_response(url=URL, status_code=201)
    httpx_mock.add_response(url=URL, status_code=201)
    with make(store, stop) as uploader:
        assert uploader.drain().delivered == 2
    assert len(stop.waits) == 1


@pytest.mark.parametrize("status", [400, 413, 422])
def test_permanent_rejects_become_dead_letters_that_can_be_retried(httpx_mock, store, stop, status):
    httpx_mock.add_response(url=URL, status_code=status, match_headers={"Idempotency-Key": "batch-1"}, text="bad batch")
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Idempotency-Key": "batch-2"})
    with make(store, stop) as uploader:
        report = uploader.drain()
    assert report.dead_lettered == ["batch-1"] and report.delivered == 1
    (dead,) = store.dead_letters()
    assert (dead.batch_id, dead.status, dead.reason) == ("batch-1", status, "bad batch")
    assert store.outbox_stats().batches == 0 and store.outbox_stats().dead_letters == 1
    assert store.retry_dead_letters() == 1
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Idempotency-Key": "batch-1"})
    with make(store, stop) as uploader:
        assert uploader.drain().delivered == 1
    assert store.dead_letters() == [] and store.outbox_stats().batches == 0


@pytest.mark.parametrize("status", [401, 403])
def test_credential_failures_stop_delivery_loudly_when_not_retrying(httpx_mock, store, stop, status):
    httpx_mock.add_response(url=URL, status_code=status)
    with make(store, stop) as uploader, pytest.raises(DeliveryError, match="api_key") as info:
        uploader.drain()
    assert KEY not in str(info.value)
    assert store.outbox_stats().batches == 2


def test_credential_failures_are_retried_slowly_with_the_key_read_anew(httpx_mock, store, stop):
    keys = iter(["old-key-value", "rotated-key-value"])
    httpx_mock.add_response(url=URL, status_code=401, match_headers={"Authorization": "Bearer old-key-value"})
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Authorization": "Bearer rotated-key-value"})
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Authorization": "Bearer rotated-key-value"})
    with make(store, stop, api_key=ApiKeySource(lambda: Secret(next(keys))), auth_retry_interval=300.0) as uploader:
        assert uploader.drain().delivered == 2
    assert 300.0 in stop.waits


def test_lanes_keep_each_stream_in_seq_order(httpx_mock, tmp_path, stop):
    store = Store(tmp_path / "lanes")
    for stream in ("git.commits", "wit.revisions", "build.builds"):
        for seq in range(1, 6):
            store.commit_batch(OutboxEntry(f"{stream}-{seq}", "tfs", stream, seq, 1, f"{stream}#{seq}".encode()), None)
    httpx_mock.add_response(url=URL, status_code=201, is_reusable=True)
    with make(store, stop, concurrency=3) as uploader:
        assert uploader.drain().delivered == 15
    sent = [r.content.decode() for r in httpx_mock.get_requests()]
    for stream in ("git.commits", "wit.revisions", "build.builds"):
        assert [s for s in sent if s.startswith(stream)] == [f"{stream}#{n}" for n in range(1, 6)]
    store.close()


def test_a_proxy_asking_for_credentials_stops_delivery_pointing_at_the_proxy(httpx_mock, store, stop):
    httpx_mock.add_response(url=URL, status_code=407)
    with make(store, stop) as uploader, pytest.raises(DeliveryError, match="satellite.proxy"):
        uploader.drain()
    assert store.outbox_stats().batches == 2 and store.dead_letters() == []


def test_a_non_ascii_api_key_is_a_clear_credentials_error_not_a_crash(httpx_mock, store, stop):
    with make(store, stop, api_key=Secret("CANARY-clé")) as uploader, pytest.raises(DeliveryError, match="not ASCII") as info:
        uploader.drain()
    assert "CANARY" not in str(info.value) and httpx_mock.get_requests() == []
    assert store.outbox_stats().batches == 2


def test_a_non_ascii_api_key_is_read_anew_like_a_refused_one(httpx_mock, store, stop):
    keys = iter(["CANARY-clé", "fixed-key-value"])
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Authorization": "Bearer fixed-key-value"}, is_reusable=True)
    with make(store, stop, api_key=ApiKeySource(lambda: Secret(next(keys))), auth_retry_interval=300.0) as uploader:
        assert uploader.drain().delivered == 2
    assert 300.0 in stop.waits


def upload_seconds(outcome: str) -> float:
    return REGISTRY.get_sample_value("satellite_upload_seconds_count", {"outcome": outcome}) or 0.0


def test_every_upload_attempt_is_timed_by_outcome(httpx_mock, store, stop):
    before = {o: upload_seconds(o) for o in ("stored", "duplicate", "retry", "dead_letter")}
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL)
    httpx_mock.add_response(url=URL, status_code=503)
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Idempotency-Key": "batch-1"})
    httpx_mock.add_response(url=URL, status_code=422, match_headers={"Idempotency-Key": "batch-2"})
    with make(store, stop) as uploader:
        uploader.drain()
    assert {o: upload_seconds(o) - n for o, n in before.items()} == {"stored": 1, "duplicate": 0, "retry": 2, "dead_letter": 1}
    assert REGISTRY.get_sample_value("satellite_upload_seconds_sum", {"outcome": "stored"}) > 0


def test_each_body_is_read_from_the_outbox_when_its_batch_is_sent_not_a_window_at_once(httpx_mock, tmp_path, stop):
    """The lanes look at a window of the outbox without bodies and read each body as they send it, so
    the sealed bytes in hand do not grow with the batches waiting; a batch gone meanwhile is skipped."""

    class CountingStore(Store):
        def __init__(self, path):
            super().__init__(path)
            self.read: list[str] = []

        def outbox_body(self, batch_id):
            self.read.append(batch_id)
            if batch_id == "batch-3":  # dead-lettered by `satellite outbox` while the lane looked
                self.dead_letter(batch_id, 400, "dropped")
            return super().outbox_body(batch_id)

    store = CountingStore(tmp_path)
    for n in (1, 2, 3, 4):
        store.commit_batch(OutboxEntry(f"batch-{n}", "tfs", "git.commits", n, 10, b"SEIB-sealed-%d" % n), None)
    assert [b.body for b in store.pending_batches(bodies=False)] == [b""] * 4
    read_when_sent: list[tuple[bytes, list[str]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        read_when_sent.append((request.content, list(store.read)))
        return httpx.Response(201)

    httpx_mock.add_callback(answer, url=URL, is_reusable=True)
    try:
        with make(store, stop) as uploader:
            report = uploader.drain()
    finally:
        store.close()
    assert read_when_sent == [(b"SEIB-sealed-1", ["batch-1"]), (b"SEIB-sealed-2", ["batch-1", "batch-2"]),
                              (b"SEIB-sealed-4", ["batch-1", "batch-2", "batch-3", "batch-4"])]
    assert report.delivered == 3

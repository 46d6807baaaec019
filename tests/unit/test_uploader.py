"""Uploader against pytest-httpx: what is deleted, kept, retried, and what stops the upload."""

import httpx
import pytest

from satellite.delivery.uploader import Uploader
from satellite.errors import DeliveryError
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from satellite.store import OutboxEntry, Store

ENDPOINT = "https://sei.example.test"
URL = f"{ENDPOINT}/v1/satellite/batches"


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    for n in (1, 2):
        s.commit_batch(OutboxEntry(f"batch-{n}", "tfs", "git.commits", n, 10, b"SEIB-sealed-%d" % n), None)
    yield s
    s.close()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def uploader(store, sleeps):
    u = Uploader(store, ENDPOINT, Secret("CANARY-API-KEY-uploader-1"),
                 retry=RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.02, sleep=sleeps.append))
    yield u
    u.close()


def test_each_batch_is_posted_with_its_idempotency_key_and_deleted_on_201_or_200(httpx_mock, store, uploader):
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Idempotency-Key": "batch-1"})
    httpx_mock.add_response(url=URL, status_code=200, match_headers={"Idempotency-Key": "batch-2"})
    report = uploader.drain()
    assert (report.delivered, report.duplicates, report.rejected) == (1, 1, ())
    assert store.outbox_stats().batches == 0
    first, second = httpx_mock.get_requests()
    assert first.content == b"SEIB-sealed-1" and second.content == b"SEIB-sealed-2"  # oldest first, in seq order
    assert first.headers["Authorization"] == "Bearer CANARY-API-KEY-uploader-1"
    assert first.headers["Content-Type"] == "application/vnd.sei.sealed-batch"


@pytest.mark.parametrize("status", [408, 409, 429, 500, 503])
def test_transient_answers_are_retried_honouring_retry_after(httpx_mock, store, uploader, sleeps, status):
    httpx_mock.add_response(url=URL, status_code=status, headers={"Retry-After": "2"})
    httpx_mock.add_response(url=URL, status_code=201)
    httpx_mock.add_response(url=URL, status_code=201)
    assert uploader.drain().delivered == 2
    assert sleeps and sleeps[0] >= 2.0 and store.outbox_stats().batches == 0


def test_network_errors_are_retried(httpx_mock, store, uploader, sleeps):
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=URL)
    httpx_mock.add_response(url=URL, status_code=201)
    httpx_mock.add_response(url=URL, status_code=201)
    assert uploader.drain().delivered == 2 and len(sleeps) == 1


@pytest.mark.parametrize("status", [400, 413, 422])
def test_permanent_rejects_are_kept_and_reported_never_deleted(httpx_mock, store, uploader, status):
    httpx_mock.add_response(url=URL, status_code=status, match_headers={"Idempotency-Key": "batch-1"})
    httpx_mock.add_response(url=URL, status_code=201, match_headers={"Idempotency-Key": "batch-2"})
    report = uploader.drain()
    assert report.rejected == ("batch-1",) and report.delivered == 1
    assert [b.batch_id for b in store.pending_batches()] == ["batch-1"]


@pytest.mark.parametrize("status", [401, 403])
def test_credential_failures_stop_the_upload_loudly(httpx_mock, store, uploader, status):
    httpx_mock.add_response(url=URL, status_code=status)
    with pytest.raises(DeliveryError, match="api_key") as info:
        uploader.drain()
    assert "CANARY-API-KEY" not in str(info.value)
    assert store.outbox_stats().batches == 2

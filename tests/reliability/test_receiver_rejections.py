"""Receiver hardening, what tests/integration/test_receiver.py does not already show.

That file covers: a repeat answered 200, 16 concurrent repeats storing once, 401 for a wrong API
key, 403 for an unregistered signing key, 422 for tampered/undecryptable/garbage bytes, 413
above the size limit, 400 for a mismatched Idempotency-Key. Here: a batch is never stored twice
across a receiver restart (durable de-duplication), 401 without any Authorization header, 422 for
a recipient key the receiver does not hold (a dropped rotation key), and a refusal stores nothing
and does not poison the batch id: the same batch sent right is then stored once.
"""

from __future__ import annotations

import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from satellite.sealing.keys import generate_key_files, load_ed25519_private, load_x25519_public
from satellite.sealing.sealer import Sealer

from tests.support import API_KEY

from .conftest import make_receiver

pytestmark = pytest.mark.reliability


def sealed(sealer: Sealer, records: int = 3) -> tuple[str, bytes]:
    batch_id = str(uuid.uuid4())
    docs = [{"type": "git.commit", "key": f"r:{i}:{secrets.token_hex(4)}", "op": "upsert", "observed_at": "2026-01-01T00:00:00Z",
             "data": {"i": i}} for i in range(records)]
    return batch_id, sealer.seal_records(batch_id=batch_id, integration_id="tfs", service="repos", stream="git.commits", seq=1,
                                         records=docs, cursor_from=None, cursor_to=None)


def post(url: str, batch_id: str, body: bytes, api_key: str | None = API_KEY) -> int:
    headers = {"Idempotency-Key": batch_id, "Content-Type": "application/vnd.sei.sealed-batch"}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.post(f"{url}/v1/satellite/batches", content=body, headers=headers).status_code


@pytest.fixture
def sealer(key_files) -> Sealer:
    return Sealer("sat", "acme", key_files.recipient_key_id, load_x25519_public(key_files.recipient_public.read_bytes()),
                  load_ed25519_private(key_files.signing_private.read_bytes()))


def test_a_batch_is_never_stored_twice_across_a_receiver_restart(tmp_path, key_files, sealer):
    batch_id, body = sealed(sealer)
    first = make_receiver(tmp_path / "receiver", key_files).start()
    try:
        assert post(first.url, batch_id, body) == 201
    finally:
        first.stop()
        first.storage.close()
    again = make_receiver(tmp_path / "receiver", key_files).start()  # same database, new process state
    try:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: post(again.url, batch_id, body), range(8)))
        assert statuses == [200] * 8
        stats = again.storage.stats()
        assert stats["batches"] == 1 and stats["records_received"] == 3
        assert not again.storage.received  # nothing newly stored
    finally:
        again.stop()
        again.storage.close()


def test_refusals_store_nothing_and_do_not_poison_the_batch_id(tmp_path, key_files, sealer, receivers):
    receiver = make_receiver(tmp_path / "receiver", key_files).start()
    receivers.append(receiver)
    batch_id, body = sealed(sealer)
    assert post(receiver.url, batch_id, body, api_key=None) == 401
    assert post(receiver.url, batch_id, body, api_key="CANARY-not-the-key") == 401
    assert post(receiver.url, batch_id, body[:-1] + bytes([body[-1] ^ 1])) == 422  # signature broken
    assert receiver.storage.stats()["batches"] == 0
    assert post(receiver.url, batch_id, body) == 201
    assert post(receiver.url, batch_id, body) == 200
    assert receiver.storage.stats()["records_received"] == 3


def test_a_recipient_key_the_receiver_does_not_hold_is_422(tmp_path, key_files, receivers):
    other = generate_key_files(tmp_path / "other-keys")  # e.g. a rotation key SEI already dropped
    receiver = make_receiver(tmp_path / "receiver", key_files).start()
    receivers.append(receiver)
    stranger = Sealer("sat", "acme", other.recipient_key_id, load_x25519_public(other.recipient_public.read_bytes()),
                      load_ed25519_private(key_files.signing_private.read_bytes()))
    batch_id, body = sealed(stranger)
    response = httpx.post(f"{receiver.url}/v1/satellite/batches", content=body,
                          headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": batch_id})
    assert response.status_code == 422 and other.recipient_key_id in response.json()["error"]
    assert receiver.storage.stats()["batches"] == 0

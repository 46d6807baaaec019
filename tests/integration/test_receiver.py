"""The reference receiver over real HTTP: authentication, signature, decryption, de-duplication, limits."""

from __future__ import annotations

import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.sealing.keys import load_ed25519_private, load_x25519_public
from satellite.sealing.sealer import Sealer

from tests.support import API_KEY

pytestmark = pytest.mark.integration


def make_batch(sealer: Sealer, records: int = 3, batch_id: str | None = None, payload_size: int = 10) -> tuple[str, bytes]:
    batch_id = batch_id or str(uuid.uuid4())
    docs = [
        {"type": "git.commit", "key": f"r:{i}", "op": "upsert", "observed_at": "2026-01-01T00:00:00Z", "data": {"x": secrets.token_hex(payload_size // 2)}}
        for i in range(records)
    ]
    body = sealer.seal_records(batch_id=batch_id, integration_id="tfs", service="repos", stream="git.commits", seq=1,
                               records=docs, cursor_from=None, cursor_to=None)
    return batch_id, body


@pytest.fixture
def sealer(key_files):
    return Sealer("sat", "acme", key_files.recipient_key_id, load_x25519_public(key_files.recipient_public.read_bytes()),
                  load_ed25519_private(key_files.signing_private.read_bytes()))


def post(receiver, body: bytes, batch_id: str, api_key: str = API_KEY) -> httpx.Response:
    return httpx.post(f"{receiver.url}/v1/satellite/batches", content=body,
                      headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": batch_id,
                               "Content-Type": "application/vnd.sei.sealed-batch"})


def test_stores_once_and_answers_a_repeat_with_200(receiver, sealer):
    batch_id, body = make_batch(sealer)
    assert post(receiver, body, batch_id).status_code == 201
    assert post(receiver, body, batch_id).status_code == 200
    stats = receiver.stats()
    assert stats["batches"] == 1 and stats["records_received"] == 3 and stats["types"]["git.commit"]["live"] == 3


def test_stores_batches_of_every_format_version(receiver, sealer):
    """Batches sealed before a format change wait in outboxes: the receiver reads each version."""
    from dataclasses import replace

    from satellite.sealing.batch_format import FORMATS

    for version in sorted(FORMATS):
        batch_id, body = make_batch(replace(sealer, version=FORMATS[version]))
        assert body[4] == version
        assert post(receiver, body, batch_id).status_code == 201
    assert receiver.stats()["batches"] == len(FORMATS)


def test_concurrent_repeats_store_the_batch_once(receiver, sealer):
    batch_id, body = make_batch(sealer)
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: post(receiver, body, batch_id).status_code, range(16)))
    assert statuses.count(201) == 1 and statuses.count(200) == 15
    assert receiver.stats()["batches"] == 1


def test_unknown_api_key_is_401(receiver, sealer):
    batch_id, body = make_batch(sealer)
    assert post(receiver, body, batch_id, api_key="wrong").status_code == 401
    assert httpx.get(f"{receiver.url}/v1/satellite/stats").status_code == 401


def test_unregistered_signing_key_is_403(receiver, key_files):
    stranger = Sealer("sat", "acme", key_files.recipient_key_id, load_x25519_public(key_files.recipient_public.read_bytes()),
                      Ed25519PrivateKey.generate())
    batch_id, body = make_batch(stranger)
    assert post(receiver, body, batch_id).status_code == 403


def test_tampered_or_undecryptable_batches_are_422(receiver, sealer, key_files):
    batch_id, body = make_batch(sealer)
    tampered = body[:-100] + bytes([body[-100] ^ 1]) + body[-99:]
    assert post(receiver, tampered, batch_id).status_code == 422
    wrong_recipient = Sealer("sat", "acme", key_files.recipient_key_id, X25519PrivateKey.generate().public_key(), sealer.signer)
    other_id, other_body = make_batch(wrong_recipient)
    assert post(receiver, other_body, other_id).status_code == 422
    assert post(receiver, b"SEIB\x01garbage", "x").status_code == 422
    assert receiver.stats()["batches"] == 0


def test_oversized_batch_is_413(receiver, sealer):
    batch_id, body = make_batch(sealer, records=50, payload_size=100_000)  # random hex: ~2.5 MB after gzip
    assert len(body) > 2 * 1024 * 1024
    assert post(receiver, body, batch_id).status_code == 413


def test_oversized_batch_without_a_length_is_413(receiver, sealer):
    """A chunked body (no Content-Length) is refused too (read with the cap, not held whole first)."""
    batch_id, body = make_batch(sealer, records=50, payload_size=100_000)

    def chunks():
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    response = httpx.post(f"{receiver.url}/v1/satellite/batches", content=chunks(),
                          headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": batch_id})
    assert response.status_code == 413


def test_idempotency_key_must_match_the_batch(receiver, sealer):
    _, body = make_batch(sealer)
    assert post(receiver, body, str(uuid.uuid4())).status_code == 400

"""The reference receiver and ``satellite check`` with hybrid MLKEM768-X25519 recipient keys (issue 21):
batches of both KEMs stored, an unknown suite and a tampered hybrid batch refused with 422, the probe
and the check naming the KEM."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import pytest

from satellite.check import SEI, run_checks
from satellite.config import load_config
from satellite.sealing.batch_format import HYBRID_SUITE, BatchHeader, read_header
from satellite.sealing.keys import (
    KEM_HYBRID,
    generate_key_files,
    kem_of,
    load_ed25519_private,
    load_recipient_public,
)
from satellite.sealing.sealer import Sealer
from satellite.secret import Secret
from satellite.sei import PROBE_PATH, PROBE_STREAM
from standins.loopback import serve_in_thread
from standins.sei_receiver import ReceiverStorage, create_receiver_app
from standins.sei_receiver.command import load_receiver_keys
from tests.support import API_KEY, start_receiver, write_config

pytestmark = pytest.mark.integration

RECORDS = [{"type": "git.commit", "key": f"r:{i}", "op": "upsert", "observed_at": "2026-01-01T00:00:00Z", "data": {"n": i}}
           for i in range(3)]
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/vnd.sei.sealed-batch"}


@pytest.fixture
def hybrid_files(tmp_path):
    return generate_key_files(tmp_path / "hybrid-keys", kem=KEM_HYBRID)


@pytest.fixture
def hybrid_receiver(tmp_path, hybrid_files):
    receiver = start_receiver(tmp_path / "receiver", hybrid_files)
    yield receiver
    receiver.close()


def sealer_of(files) -> Sealer:
    public = load_recipient_public(files.recipient_public.read_bytes())
    return Sealer("sat", "acme", files.recipient_key_id, public, load_ed25519_private(files.signing_private.read_bytes()))


def post(receiver, body: bytes, batch_id: str, path: str = "/v1/satellite/batches") -> httpx.Response:
    return httpx.post(f"{receiver.url}{path}", content=body, headers={**HEADERS, "Idempotency-Key": batch_id})


def batch(sealer: Sealer, stream: str = "git.commits", records=RECORDS) -> tuple[str, bytes]:
    batch_id = str(uuid.uuid4())
    return batch_id, sealer.seal_records(batch_id=batch_id, integration_id="tfs", service="repos", stream=stream, seq=1,
                                         records=records, cursor_from=None, cursor_to=None)


def resigned(sealed: bytes, signer, **changes) -> bytes:
    header_len = int.from_bytes(sealed[5:9], "big")
    header = read_header(sealed)
    raw = BatchHeader(**{**{f: getattr(header, f) for f in header.__slots__}, **changes}).canonical_bytes()
    body = sealed[:5] + len(raw).to_bytes(4, "big") + raw + sealed[9 + header_len : -64]
    return body + signer.sign(body)


def test_hybrid_batches_are_stored_and_tampered_ones_refused(hybrid_receiver, hybrid_files):
    sealer = sealer_of(hybrid_files)
    batch_id, body = batch(sealer)
    assert body[4] == 3 and read_header(body).suite["kem_id"] == "0x647a"
    tampered = [body[:-100] + bytes([body[-100] ^ 1]) + body[-99:]]  # the payload
    header_end = 9 + int.from_bytes(body[5:9], "big")
    for index in (header_end + 10, header_end + 1100):  # the ML-KEM and the X25519 part of the encapsulation, re-signed
        changed = body[:index] + bytes([body[index] ^ 1]) + body[index + 1 : -64]
        tampered.append(changed + sealer.signer.sign(changed))
    for forged in tampered:
        answer = post(hybrid_receiver, forged, batch_id)
        assert answer.status_code == 422, answer.text
    assert hybrid_receiver.stats()["batches"] == 0
    assert post(hybrid_receiver, body, batch_id).status_code == 201
    assert post(hybrid_receiver, body, batch_id).status_code == 200
    assert hybrid_receiver.stats()["records_received"] == 3


def test_an_unknown_suite_is_422(hybrid_receiver, hybrid_files):
    sealer = sealer_of(hybrid_files)
    batch_id, body = batch(sealer)
    for suite in ({**HYBRID_SUITE.header(), "kem_id": "0x0042", "kem": "ML-KEM-1024"}, {**HYBRID_SUITE.header(), "kdf_id": "0x0003"}):
        answer = post(hybrid_receiver, resigned(body, sealer.signer, suite=suite), batch_id)
        assert answer.status_code == 422 and "unknown HPKE suite" in answer.json()["error"]
    stranger = Sealer("sat", "acme", hybrid_files.recipient_key_id, sealer.recipient, load_ed25519_private(
        generate_key_files(hybrid_files.recipient_private.parent.parent / "other").signing_private.read_bytes()))
    other_id, other = batch(stranger)  # refused for its suite before its (unregistered) signer is looked at
    answer = post(hybrid_receiver, resigned(other, stranger.signer, suite={**HYBRID_SUITE.header(), "aead_id": "0x0001"}), other_id)
    assert answer.status_code == 422


def test_a_receiver_holding_both_kinds_opens_both(tmp_path, key_files):
    """``satellite receiver --recipient-key`` takes either kind of private key file (told apart by its
    PEM label); a batch whose suite is not its key's kind is refused."""
    hybrid = generate_key_files(tmp_path / "new", kem=KEM_HYBRID)
    keys = load_receiver_keys([Secret(API_KEY)], [str(key_files.recipient_private), f"sei-pq={hybrid.recipient_private}"],
                              [key_files.signing_public])
    assert {k: kem_of(v) for k, v in keys.recipients.items()} == {key_files.recipient_key_id: "x25519", "sei-pq": KEM_HYBRID}
    old = sealer_of(key_files)
    new = replace(sealer_of(hybrid), recipient_key_id="sei-pq", signer=old.signer)
    storage = ReceiverStorage(tmp_path / "receiver")
    try:
        with serve_in_thread(create_receiver_app(storage, keys)) as receiver:
            for sealer, version in ((old, 2), (new, 3)):
                batch_id, body = batch(sealer)
                assert body[4] == version
                assert post(receiver, body, batch_id).status_code == 201
            misfiled = replace(new, recipient_key_id=key_files.recipient_key_id)  # hybrid suite, the X25519 key's id
            batch_id, body = batch(misfiled)
            answer = post(receiver, body, batch_id)
            assert answer.status_code == 422 and "is x25519" in answer.json()["error"]
    finally:
        storage.close()


def test_the_probe_and_the_check_name_the_kem(tmp_path, hybrid_receiver, hybrid_files):
    sealer = sealer_of(hybrid_files)
    batch_id, probe = batch(sealer, stream=PROBE_STREAM, records=[])
    answer = post(hybrid_receiver, probe, batch_id, PROBE_PATH)
    assert answer.status_code == 200 and answer.json()["kem"] == KEM_HYBRID
    config = load_config(write_config(tmp_path / "sat", ado_url="http://127.0.0.1:9/tfs/DefaultCollection",
                                      endpoint=hybrid_receiver.url, key_files=hybrid_files),
                         env={"TEST_SEI_API_KEY": API_KEY})
    keys = next(r for r in run_checks(config) if r.integration == SEI and r.check == "keys")
    assert keys.ok, keys
    assert f"recipient key {hybrid_files.recipient_key_id} (KEM mlkem768-x25519: MLKEM768-X25519, hybrid post-quantum)" in keys.detail
    assert hybrid_receiver.stats()["batches"] == 0

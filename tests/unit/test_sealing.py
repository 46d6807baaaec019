import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from satellite.errors import SealingError
from satellite.sealing.batch_format import BatchHeader, encode_records, open_sealed, read_header, seal
from satellite.sealing.keys import generate_key_files, load_ed25519_private, load_x25519_public, public_key_id

RECORDS = [
    {"type": "git.commit", "key": f"r:{i:040x}", "op": "upsert", "observed_at": "2026-01-01T00:00:00Z", "data": {"comment": "ünïcode ✓"}}
    for i in range(3)
]


def make_header(**changes):
    fields = dict(
        batch_id="7d0c6f9e-2b7e-4a57-9d4e-4f3f8e6d1a10", satellite_id="sat-1", tenant="acme", integration_id="tfs",
        service="repos", stream="git.commits", seq=3, schema_version=1, created_at="2026-01-01T00:00:00Z",
        record_count=len(RECORDS), cursor_from=None, cursor_to="sha256:abc", recipient_key_id="rk", signer_key_id="sk",
    )
    fields.update(changes)
    return BatchHeader(**fields)


@pytest.fixture(scope="module")
def keys():
    return X25519PrivateKey.generate(), Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def sealed(keys):
    recipient, signer = keys
    return seal(make_header(), encode_records(RECORDS), recipient.public_key(), signer)


def test_round_trip(keys, sealed):
    recipient, signer = keys
    opened = open_sealed(sealed, recipient, signer.public_key())
    assert opened.header == read_header(sealed)
    assert opened.header.batch_id == make_header().batch_id
    assert list(opened.records) == RECORDS
    assert sealed[:4] == b"SEIB" and sealed[4] == 1


def test_plaintext_is_not_in_the_sealed_bytes(sealed):
    assert "ünïcode".encode() not in sealed and b"git.commit" + b'","key' not in sealed


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def test_every_header_byte_is_protected(keys, sealed):
    recipient, signer = keys
    header_len = int.from_bytes(sealed[5:9], "big")
    for index in range(0, 9 + header_len):
        with pytest.raises(SealingError):
            open_sealed(_flip(sealed, index), recipient, signer.public_key())


def test_every_payload_and_signature_byte_is_protected(keys, sealed):
    recipient, signer = keys
    header_end = 9 + int.from_bytes(sealed[5:9], "big")
    for index in range(header_end, len(sealed)):
        with pytest.raises(SealingError):
            open_sealed(_flip(sealed, index), recipient, signer.public_key())


def test_header_cannot_be_moved_onto_another_payload(keys):
    """Re-signing with the right key still fails: the header is bound into the HPKE info."""
    recipient, signer = keys
    first = seal(make_header(), encode_records(RECORDS), recipient.public_key(), signer)
    other = seal(make_header(seq=4), encode_records(RECORDS), recipient.public_key(), signer)
    header_end = 9 + int.from_bytes(first[5:9], "big")
    other_header_end = 9 + int.from_bytes(other[5:9], "big")
    spliced_body = other[:other_header_end] + first[header_end:-64]
    forged = spliced_body + signer.sign(spliced_body)
    with pytest.raises(SealingError, match="decrypt"):
        open_sealed(forged, recipient, signer.public_key())


def test_wrong_keys_and_truncation(keys, sealed):
    recipient, signer = keys
    with pytest.raises(SealingError, match="signature"):
        open_sealed(sealed, recipient, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(SealingError, match="decrypt"):
        open_sealed(sealed, X25519PrivateKey.generate(), signer.public_key())
    for cut in (0, 5, 20, len(sealed) - 65, len(sealed) - 1):
        with pytest.raises(SealingError):
            open_sealed(sealed[:cut], recipient, signer.public_key())


def test_record_count_must_match(keys):
    recipient, signer = keys
    sealed = seal(make_header(record_count=99), encode_records(RECORDS), recipient.public_key(), signer)
    with pytest.raises(SealingError, match="record count"):
        open_sealed(sealed, recipient, signer.public_key())


def test_generate_key_files(tmp_path):
    files = generate_key_files(tmp_path / "keys")
    for private in (files.recipient_private, files.signing_private):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
        assert b"BEGIN PRIVATE KEY" in private.read_bytes()
    recipient = load_x25519_public(files.recipient_public.read_bytes())
    signer = load_ed25519_private(files.signing_private.read_bytes())
    assert public_key_id(recipient) == files.recipient_key_id
    assert public_key_id(signer.public_key()) == files.signer_key_id
    with pytest.raises(FileExistsError):
        generate_key_files(tmp_path / "keys")
    replaced = generate_key_files(tmp_path / "keys", overwrite=True)
    assert replaced.signer_key_id != files.signer_key_id

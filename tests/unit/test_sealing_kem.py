"""Hybrid post-quantum sealing (issue 21): MLKEM768-X25519 recipient keys, format version 3 whose
header names the HPKE suite, and X25519 batches unchanged (version 2).

The suite ids in the header are checked against what the library does: a hybrid batch is opened here
with RFC 9180's key schedule written out (and the X-Wing combiner of draft-ietf-hpke-pq), which only
works with the KEM id 0x647a the header names.
"""

import hashlib
import hmac
import os
import re
import stat

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from satellite.errors import SealingError
from satellite.sealing.batch_format import (
    CURRENT,
    FORMATS,
    HYBRID_SUITE,
    MAGIC,
    X25519_SUITE,
    BatchHeader,
    ndjson_line,
    open_sealed,
    read_header,
    seal,
    version_for,
)
from satellite.sealing.keys import (
    KEM_HYBRID,
    KEM_X25519,
    HybridPrivateKey,
    generate_key_files,
    kem_of,
    load_recipient_private,
    load_recipient_public,
    public_key_id,
)
from satellite.sealing.sealer import Sealer

RECORDS = [{"type": "git.commit", "key": f"r:{i}", "op": "upsert", "data": {"comment": "secret for years ✓"}} for i in range(5)]
BATCH = {"batch_id": "b-1", "integration_id": "tfs", "service": "repos", "stream": "git.commits", "seq": 1, "cursor_from": None,
         "cursor_to": "c"}


@pytest.fixture(scope="module")
def signer():
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module", params=[KEM_X25519, KEM_HYBRID])
def recipient(request):
    return X25519PrivateKey.generate() if request.param == KEM_X25519 else HybridPrivateKey.generate()


def sealer_for(recipient, signer, **changes) -> Sealer:
    public = recipient.public_key()
    return Sealer("sat-1", "acme", public_key_id(public), public, signer, **changes)


def test_round_trip_with_each_kind_of_key(recipient, signer):
    sealer = sealer_for(recipient, signer)
    sealed = sealer.seal_records(records=RECORDS, **BATCH)
    opened = open_sealed(sealed, recipient, signer.public_key())
    assert list(opened.records) == RECORDS and opened.header == read_header(sealed)
    assert opened.header.content_encoding == CURRENT.codec.name  # the compression does not depend on the KEM
    if kem_of(recipient) == KEM_X25519:  # what every receiver reads, byte for byte the format it was
        assert sealed[4] == CURRENT.number and opened.header.suite == X25519_SUITE.names
    else:
        assert sealed[4] == 3 and sealer.writes is FORMATS[3]
        assert opened.header.suite == {"kem": "MLKEM768-X25519", "kem_id": "0x647a", "kdf": "HKDF-SHA256", "kdf_id": "0x0001",
                                       "aead": "AES-256-GCM", "aead_id": "0x0002"}


def test_version_3_seals_either_kem_and_names_it(recipient, signer):
    sealed = sealer_for(recipient, signer, version=FORMATS[3]).seal_records(records=RECORDS, **BATCH)
    header = read_header(sealed)
    expected = X25519_SUITE if kem_of(recipient) == KEM_X25519 else HYBRID_SUITE
    assert sealed[4] == 3 and header.suite == expected.header()
    assert list(open_sealed(sealed, recipient, signer.public_key()).records) == RECORDS


def test_the_key_decides_the_version():
    assert version_for(X25519_SUITE) is CURRENT
    assert version_for(HYBRID_SUITE) is FORMATS[3]


def test_hybrid_overhead_is_the_kem_ciphertext(signer):
    """Besides the header (the suite's ids, the longer key id), 1,120 bytes of encapsulation instead of 32."""
    batches = {kem_of(k): sealer_for(k, signer).seal_records(records=RECORDS, **BATCH)
               for k in (X25519PrivateKey.generate(), HybridPrivateKey.generate())}
    beyond_header = {kem: len(b) - int.from_bytes(b[5:9], "big") for kem, b in batches.items()}
    assert beyond_header[KEM_HYBRID] - beyond_header[KEM_X25519] == 1120 - 32


# -- the suite ids are the library's ---------------------------------------------------------------


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _open_by_hand(sealed: bytes, seed: bytes, kem_id: int) -> bytes:
    """RFC 9180 base mode, HKDF-SHA256 and AES-256-GCM, with the MLKEM768-X25519 shared secret of
    draft-ietf-hpke-pq (X-Wing), written out from the specifications; the payload, or InvalidTag."""
    header_len = int.from_bytes(sealed[5:9], "big")
    header_bytes, ciphertext = sealed[9 : 9 + header_len], sealed[9 + header_len : -64]
    info = MAGIC + b"3" + hashlib.sha256(header_bytes).digest()
    expanded = hashlib.shake_256(seed).digest(96)
    mlkem, x25519 = MLKEM768PrivateKey.from_seed_bytes(expanded[:64]), X25519PrivateKey.from_private_bytes(expanded[64:])
    enc, sealed_payload = ciphertext[:1120], ciphertext[1120:]
    ct_pq, ct_t = enc[:1088], enc[1088:]
    pk_t = x25519.public_key().public_bytes_raw()
    shared = hashlib.sha3_256(mlkem.decapsulate(ct_pq) + x25519.exchange(X25519PublicKey.from_public_bytes(ct_t))
                              + ct_t + pk_t + bytes.fromhex("5c2e2f2f5e5c")).digest()
    suite_id = b"HPKE" + kem_id.to_bytes(2, "big") + (1).to_bytes(2, "big") + (2).to_bytes(2, "big")

    def labeled_extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
        return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)

    def labeled_expand(prk: bytes, label: bytes, context: bytes, length: int) -> bytes:
        labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + context
        return hmac.new(prk, labeled + b"\x01", hashlib.sha256).digest()[:length]  # one block: length <= 32

    context = b"\x00" + labeled_extract(b"", b"psk_id_hash", b"") + labeled_extract(b"", b"info_hash", info)
    secret = labeled_extract(shared, b"secret", b"")
    key, nonce = labeled_expand(secret, b"key", context, 32), labeled_expand(secret, b"base_nonce", context, 12)
    return AESGCM(key).decrypt(nonce, sealed_payload, b"")


def test_the_hybrid_kem_id_in_the_header_is_the_one_the_library_uses(signer):
    seed = os.urandom(32)
    hybrid = HybridPrivateKey.from_seed(seed)
    sealed = sealer_for(hybrid, signer).seal_records(records=RECORDS, **BATCH)
    assert int(read_header(sealed).suite["kem_id"], 16) == 0x647A == HYBRID_SUITE.kem_id
    payload = _open_by_hand(sealed, seed, HYBRID_SUITE.kem_id)
    assert payload == CURRENT.codec.compress(b"".join(ndjson_line(r) for r in RECORDS))
    for other in (0x0041, 0x0020, 0x0030):  # ML-KEM-768 alone, DHKEM(X25519), X25519Kyber768Draft00
        with pytest.raises(InvalidTag):
            _open_by_hand(sealed, seed, other)


def test_hybrid_keys_expand_their_seed_as_the_draft_says():
    """draft-connolly-cfrg-xwing-kem, appendix C, first vector: the public key's first and last bytes."""
    seed = bytes.fromhex("7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26")
    raw = HybridPrivateKey.from_seed(seed).public_key().raw
    assert len(raw) == 1216
    assert raw.hex().startswith("e2236b35a8c24b39b10aa1323a96a919a2ced88400633a7b07131713fc14b2b5b19cfc3d")
    assert raw.hex().endswith("eff389b27dce59844570216223593d4ba32d9abac8cd049040ef6534")


# -- tampering, unknown suites, the wrong kind of key -----------------------------------------------


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.fixture(scope="module")
def hybrid_batch(signer):
    hybrid = HybridPrivateKey.generate()
    return hybrid, sealer_for(hybrid, signer).seal_records(records=RECORDS, **BATCH)


def test_tampered_hybrid_batches_are_refused(hybrid_batch, signer):
    """Every header byte; the KEM ciphertext (ML-KEM part, X25519 part), the payload and the
    signature at a stride; re-signed by the right signer, a changed KEM ciphertext or payload
    still does not decrypt."""
    hybrid, sealed = hybrid_batch
    header_end = 9 + int.from_bytes(sealed[5:9], "big")
    for index in [*range(header_end), *range(header_end, len(sealed), 7), len(sealed) - 1]:
        with pytest.raises(SealingError):
            open_sealed(_flip(sealed, index), hybrid, signer.public_key())
    for index in (header_end, header_end + 1087, header_end + 1088, header_end + 1119, header_end + 1120, len(sealed) - 65):
        body = _flip(sealed, index)[:-64]
        with pytest.raises(SealingError, match="decrypt"):
            open_sealed(body + signer.sign(body), hybrid, signer.public_key())


def _resealed_header(sealed: bytes, signer, **changes) -> bytes:
    """The batch with header fields changed, re-signed by the right signer."""
    header_len = int.from_bytes(sealed[5:9], "big")
    header = read_header(sealed)
    raw = BatchHeader(**{**{f: getattr(header, f) for f in header.__slots__}, **changes}).canonical_bytes()
    body = sealed[:5] + len(raw).to_bytes(4, "big") + raw + sealed[9 + header_len : -64]
    return body + signer.sign(body)


@pytest.mark.parametrize("suite", [
    {**HYBRID_SUITE.header(), "kem_id": "0x0041", "kem": "ML-KEM-768"},  # a suite no one registered
    {**HYBRID_SUITE.header(), "aead_id": "0x0003"},  # known ids, names that do not match them
    {**HYBRID_SUITE.header(), "kem_id": "x"},
    {"kem": "MLKEM768-X25519"},
])
def test_an_unknown_suite_is_refused_before_any_key(hybrid_batch, signer, suite):
    hybrid, sealed = hybrid_batch
    forged = _resealed_header(sealed, signer, suite=suite)
    with pytest.raises(SealingError, match="suite"):
        read_header(forged)
    with pytest.raises(SealingError, match="suite"):
        open_sealed(forged, hybrid, signer.public_key())


def test_a_hybrid_batch_relabelled_as_x25519_does_not_open(hybrid_batch, signer):
    hybrid, sealed = hybrid_batch
    forged = _resealed_header(sealed, signer, suite=X25519_SUITE.header())
    with pytest.raises(SealingError, match="sealed with DHKEM"):
        open_sealed(forged, hybrid, signer.public_key())


def test_the_wrong_kind_of_key_is_a_sealing_error(hybrid_batch, signer):
    hybrid, sealed = hybrid_batch
    with pytest.raises(SealingError, match="is x25519"):
        open_sealed(sealed, X25519PrivateKey.generate(), signer.public_key())
    with pytest.raises(SealingError, match="decrypt"):
        open_sealed(sealed, HybridPrivateKey.generate(), signer.public_key())
    for version in (1, 2):  # versions 1 and 2 are X25519 only
        with pytest.raises(SealingError, match="cannot seal"):
            sealer_for(hybrid, signer, version=FORMATS[version]).seal_records(records=RECORDS, **BATCH)
    x25519_batch = sealer_for(X25519PrivateKey.generate(), signer).seal_records(records=RECORDS, **BATCH)
    with pytest.raises(SealingError, match="is mlkem768-x25519"):
        open_sealed(x25519_batch, hybrid, signer.public_key())


def test_seal_gives_a_version_3_header_the_suite_of_the_key(signer):
    hybrid = HybridPrivateKey.generate()
    header = BatchHeader(batch_id="b", satellite_id="s", tenant="t", integration_id="i", service="repos", stream="x", seq=1,
                         schema_version=1, created_at="2026-01-01T00:00:00Z", record_count=0, cursor_from=None, cursor_to=None,
                         recipient_key_id="rk", signer_key_id="sk", content_encoding="gzip")
    sealed = seal(header, FORMATS[1].codec.compress(b""), hybrid.public_key(), signer, FORMATS[3])
    assert read_header(sealed).suite == HYBRID_SUITE.header() and read_header(sealed).content_encoding == "gzip"
    assert open_sealed(sealed, hybrid, signer.public_key()).records == ()
    with pytest.raises(SealingError, match="content encoding"):
        seal(BatchHeader(**{**{f: getattr(header, f) for f in header.__slots__}, "content_encoding": "brotli"}), b"",
             hybrid.public_key(), signer, FORMATS[3])


# -- key files ----------------------------------------------------------------------------------


def armor_label(pem: str) -> str:
    """The RFC 7468 label of ``pem``'s first line (``-----BEGIN <label>-----``)."""
    found = re.fullmatch(r"-----BEGIN ([A-Z0-9 -]+)-----", pem.splitlines()[0])
    assert found, pem.splitlines()[0]
    return found.group(1)


def test_generate_hybrid_key_files(tmp_path):
    files = generate_key_files(tmp_path / "keys", kem=KEM_HYBRID)
    assert stat.S_IMODE(os.stat(files.recipient_private).st_mode) == 0o600
    private_pem, public_pem = files.recipient_private.read_text(), files.recipient_public.read_text()
    assert armor_label(private_pem) == "MLKEM768-X25519 PRIVATE KEY"
    assert armor_label(public_pem) == "MLKEM768-X25519 PUBLIC KEY"
    assert max(len(line) for line in public_pem.splitlines()) <= 64
    private, public = load_recipient_private(private_pem), load_recipient_public(public_pem, KEM_HYBRID)
    assert private.public_key() == public and public_key_id(public) == files.recipient_key_id
    assert files.recipient_key_id.startswith("mlkem768-x25519:")
    assert "seed" not in repr(private) and private_pem.split("\n")[1] not in repr(private)
    x25519 = generate_key_files(tmp_path / "old")
    assert kem_of(load_recipient_private(x25519.recipient_private.read_bytes())) == KEM_X25519


def test_a_key_of_the_other_kind_is_named_in_the_error(tmp_path):
    hybrid = generate_key_files(tmp_path / "h", kem=KEM_HYBRID)
    x25519 = generate_key_files(tmp_path / "x")
    with pytest.raises(ValueError, match="set kem: mlkem768-x25519"):
        load_recipient_public(hybrid.recipient_public.read_text(), KEM_X25519)
    with pytest.raises(ValueError, match="set kem: x25519"):
        load_recipient_public(x25519.recipient_public.read_text(), KEM_HYBRID)
    cut = hybrid.recipient_public.read_text().replace("\n", "", 3)[:-80] + "\n-----END MLKEM768-X25519 PUBLIC KEY-----\n"
    with pytest.raises(ValueError):
        load_recipient_public(cut)
    with pytest.raises(ValueError, match="32-byte seed"):
        HybridPrivateKey.from_seed(b"\0" * 31)

import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

import zstandard

from satellite.errors import SealingError
from satellite.sealing.batch_format import (
    CURRENT,
    FORMATS,
    MAGIC,
    BatchHeader,
    decode_records,
    encode_records,
    open_sealed,
    read_header,
    seal,
)
from satellite.sealing.keys import generate_key_files, load_ed25519_private, load_x25519_public, public_key_id
from satellite.sealing.sealer import Sealer

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


def seal_as(version: int, keys, **changes) -> bytes:
    """A batch of ``RECORDS`` in format ``version`` (1: gzip, 2: zstd)."""
    recipient, signer = keys
    encoding = FORMATS[version].codec.name
    header = make_header(content_encoding=encoding, **changes)
    return seal(header, encode_records(RECORDS, encoding), recipient.public_key(), signer, FORMATS[version])


@pytest.fixture(scope="module", params=sorted(FORMATS), ids=lambda v: f"v{v}")
def sealed(request, keys):
    """A batch of every version the format has: each stays readable."""
    return seal_as(request.param, keys)


def test_round_trip(keys, sealed):
    recipient, signer = keys
    opened = open_sealed(sealed, recipient, signer.public_key())
    assert opened.header == read_header(sealed)
    assert opened.header.batch_id == make_header().batch_id
    assert list(opened.records) == RECORDS
    assert sealed[:4] == b"SEIB" and sealed[4] in FORMATS
    assert opened.header.content_encoding == FORMATS[sealed[4]].codec.name


def test_version_1_is_gzip_and_2_is_zstd(keys):
    assert seal_as(1, keys)[4] == 1 and FORMATS[1].codec.name == "gzip"
    assert seal_as(2, keys)[4] == 2 and FORMATS[2].codec.name == "zstd"
    assert seal(make_header(), encode_records(RECORDS), keys[0].public_key(), keys[1])[4] == 1  # a gzip header: version 1


def test_the_sealer_writes_the_current_version(keys):
    recipient, signer = keys
    sealer = Sealer("sat-1", "acme", "rk", recipient.public_key(), signer)
    sealed = sealer.seal_records(batch_id="b", integration_id="tfs", service="repos", stream="git.commits", seq=1,
                                 records=RECORDS, cursor_from=None, cursor_to=None)
    assert CURRENT.number == 2 and sealed[4] == 2
    opened = open_sealed(sealed, recipient, signer.public_key())
    assert opened.header.content_encoding == "zstd" and list(opened.records) == RECORDS


def test_a_header_that_disagrees_with_its_version_is_refused(keys):
    recipient, signer = keys
    with pytest.raises(SealingError, match="content encoding"):
        seal(make_header(content_encoding="gzip"), encode_records(RECORDS), recipient.public_key(), signer, FORMATS[2])
    with pytest.raises(SealingError, match="suite"):
        seal(make_header(suite={"kem": "other"}), encode_records(RECORDS), recipient.public_key(), signer, FORMATS[1])


def test_a_batch_moved_to_another_version_does_not_open(keys):
    """Re-signed with the right key, a version-2 batch relabelled as version 1 (and its header's
    encoding with it) still fails: the version is bound into the HPKE info."""
    recipient, signer = keys
    original = seal_as(2, keys)
    header_len = int.from_bytes(original[5:9], "big")
    header = read_header(original)
    relabelled = BatchHeader(**{**{f: getattr(header, f) for f in header.__slots__}, "content_encoding": "gzip"})
    raw = relabelled.canonical_bytes()
    body = MAGIC + bytes([1]) + len(raw).to_bytes(4, "big") + raw + original[9 + header_len : -64]
    with pytest.raises(SealingError, match="decrypt"):
        open_sealed(body + signer.sign(body), recipient, signer.public_key())


def test_an_unknown_version_is_refused(keys, sealed):
    recipient, signer = keys
    body = sealed[:4] + bytes([99]) + sealed[5:-64]
    with pytest.raises(SealingError, match="unsupported sealed batch version 99"):
        open_sealed(body + signer.sign(body), recipient, signer.public_key())


def test_zstd_payload_cap_is_checked_before_inflating() -> None:
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\n" * (8 * 1024 * 1024))
    assert len(bomb) < 2048
    with pytest.raises(SealingError, match="inflates beyond"):
        decode_records(bomb, max_bytes=1024 * 1024, encoding="zstd")
    assert decode_records(bomb, max_bytes=16 * 1024 * 1024, encoding="zstd") == ()
    undeclared = zstandard.ZstdCompressor(write_content_size=False).compress(b'{"a":1}\n')
    with pytest.raises(SealingError, match="not zstd"):
        decode_records(undeclared, encoding="zstd")
    cut = zstandard.ZstdCompressor().compress(b'{"a":1}\n' * 1000)[:-4]
    with pytest.raises(SealingError, match="not zstd"):
        decode_records(cut, encoding="zstd")


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


@pytest.mark.parametrize("version", sorted(FORMATS))
def test_header_cannot_be_moved_onto_another_payload(keys, version):
    """Re-signing with the right key still fails: the header is bound into the HPKE info."""
    recipient, signer = keys
    first = seal_as(version, keys)
    other = seal_as(version, keys, seq=4)
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


@pytest.mark.parametrize("version", sorted(FORMATS))
def test_record_count_must_match(keys, version):
    recipient, signer = keys
    sealed = seal_as(version, keys, record_count=99)
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


def test_zstd_codecs_are_shared_not_one_per_thread() -> None:
    """A compressor is made only when none is free: as many as ran at once, not one per thread."""
    import threading

    from satellite.sealing.batch_format import _FreeList

    made: list[int] = []
    free_list = _FreeList(lambda: made.append(len(made)) or len(made))

    def use_in_thread() -> None:
        free_list.run(lambda codec: b"")

    for _ in range(5):  # one after another, in five threads: the same one each time
        worker = threading.Thread(target=use_in_thread)
        worker.start()
        worker.join()
    assert made == [0]
    # two at once (one inside the other): a second one, kept for later
    assert free_list.run(lambda outer: free_list.run(lambda inner: bytes([outer, inner]))) == bytes([1, 2])
    assert made == [0, 1]
    assert free_list.run(lambda codec: b"ok") == b"ok" and made == [0, 1]


def test_no_more_compressors_than_allowed_are_in_use_at_once() -> None:
    """With ``most`` 2, a third thread waits for one given back: a burst of sealers leaves two behind, not three."""
    import threading

    from satellite.sealing.batch_format import _FreeList

    made: list[int] = []
    free_list = _FreeList(lambda: made.append(len(made)) or len(made), most=2)
    inside, release = threading.Semaphore(0), threading.Event()
    used: list[int] = []

    def seal() -> None:
        def use(codec: int) -> bytes:
            used.append(codec)
            inside.release()
            release.wait(10)
            return b""
        free_list.run(use)

    threads = [threading.Thread(target=seal) for _ in range(3)]
    for thread in threads:
        thread.start()
    assert inside.acquire(timeout=10) and inside.acquire(timeout=10)
    assert not inside.acquire(timeout=0.2)  # the third waits (it cannot get in while the two hold theirs)
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(used) == 3 and made == [0, 1]  # the third used one of the two

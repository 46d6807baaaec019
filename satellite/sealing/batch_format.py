"""Sealed batch format, versions 1 to 3: pure functions, no I/O.

Bytes on the wire and at rest::

    b"SEIB" | version (1 byte) | header length (4 bytes, big-endian) | header | payload | signature

- header: canonical JSON (sorted keys, compact, UTF-8) describing the batch (``BatchHeader``):
  batch_id, satellite_id, tenant, integration_id, service, stream, seq, schema_version, created_at,
  record_count, cursor_from, cursor_to, content_encoding, suite, recipient_key_id, signer_key_id,
  and ``policy``: the fingerprint (``sha256:<hex>``) of the privacy policy that shaped the records
  (``satellite.privacy.policy``; docs/privacy.md). ``policy`` is optional: batches sealed before it
  have none and stay valid; a header without it is byte for byte what it was.
- payload: HPKE base mode (RFC 9180) to the SEI recipient key with the batch's suite; ``info`` =
  b"SEIB" + the version in ASCII digits + SHA-256(header), so a header cannot be moved onto another
  payload, nor a batch onto another version. Plaintext = the batch's compression of
  newline-delimited JSON records.
- signature: Ed25519 (64 bytes) by the satellite over every byte before it.

Versions (``FORMATS``; docs/batch_format.md):

- 1: gzip (level 6), DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. Read, no longer written.
- 2: zstd (level 3, one frame that declares its content size), same HPKE suite. Written since
  issue 18: measured on simulator records, about 7x less CPU than gzip level 6 for a payload 30%
  smaller (docs/benchmarks.md, section 4).
- 3: the header names both, independently: ``content_encoding`` (any of ``CODECS``) and ``suite``
  (any of ``SUITES``, by its RFC 9180 ids: ``kem_id``, ``kdf_id``, ``aead_id`` as ``0x`` + 4 hex
  digits, with the names). Issue 21: written for a hybrid MLKEM768-X25519 recipient key (KEM id
  0x647a, draft-ietf-hpke-pq), so that a header says which KEM sealed it; an unknown suite is
  refused (``SealingError``) before any key is looked up.

Versions 1 and 2 fix the compression and the HPKE suite; their header repeats both
(``content_encoding``, ``suite``) and must agree with its version. The satellite writes ``CURRENT``
to an X25519 key (what every receiver reads) and version 3 only to a key of another suite
(``version_for``): the recipient key SEI publishes decides, so a fleet moves to the hybrid KEM by
key rotation, with no flag day. A new version is one more ``FormatVersion`` in ``FORMATS``; every
version stays readable.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import threading
import zlib
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Mapping

import zstandard
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from satellite import json_codec
from satellite.errors import SealingError
from satellite.sealing.keys import (KEM_HYBRID, KEM_X25519, HybridPrivateKey, HybridPublicKey, RecipientPrivateKey,
                                    RecipientPublicKey, kem_of)

__all__ = [
    "BatchHeader",
    "OpenedBatch",
    "Codec",
    "CODECS",
    "FormatVersion",
    "FORMATS",
    "CURRENT",
    "format_for",
    "version_for",
    "SUITE_NAMES",
    "SuiteSpec",
    "SUITES",
    "X25519_SUITE",
    "HYBRID_SUITE",
    "suite_for_kem",
    "suite_named",
    "MAGIC",
    "VERSION",
    "seal",
    "open_sealed",
    "read_header",
    "encode_records",
    "ndjson_line",
    "compress_lines",
    "decode_records",
]

MAGIC = b"SEIB"
SIGNATURE_LEN = 64
_PREFIX = struct.Struct(">4sBI")
MAX_HEADER_LEN = 64 * 1024
_INFLATE_STEP = 1024 * 1024
GZIP_LEVEL = 6
ZSTD_LEVEL = 3  # docs/benchmarks.md section 4: levels 1-4 cost about the same; 5 and up 3x more for 20% smaller


# -- compression ------------------------------------------------------------------------------


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)  # mtime=0: reproducible bytes


def _gunzip(compressed: bytes, max_bytes: int | None) -> bytes:
    if max_bytes is None:
        return gzip.decompress(compressed)
    # a step at a time into one buffer: the peak is the cap, not a multiple of it
    inflater, text, pending = zlib.decompressobj(wbits=31), bytearray(), compressed  # wbits 31: gzip framing
    while pending and not inflater.eof:
        text += inflater.decompress(pending, _INFLATE_STEP)
        pending = inflater.unconsumed_tail
        if len(text) > max_bytes:
            raise SealingError(f"batch payload inflates beyond {max_bytes} bytes")
    if not inflater.eof:
        raise EOFError("gzip stream is cut")
    return bytes(text)


class _FreeList:
    """zstandard's (de)compressors are not thread-safe, and a level-3 compressor keeps ~3.5 MiB of
    tables and window: one per thread was one per collecting thread (dozens, most sealing rarely).
    A thread takes one that is free, or makes one; it is given back after use: there are only as many
    as ran at once. ``most``: no more than that many in use at once (a thread waits for one), else the
    rare moment of a long run when more threads sealed at once would leave that many behind for good."""

    def __init__(self, make: Callable[[], Any], most: int | None = None) -> None:
        self._make = make
        self._free: list = []  # list.pop/append are atomic under the GIL
        self._slots = threading.BoundedSemaphore(most) if most else None

    def run(self, use: Callable[[Any], bytes]) -> bytes:
        if self._slots is None:
            return self._run(use)
        with self._slots:
            return self._run(use)

    def _run(self, use: Callable[[Any], bytes]) -> bytes:
        try:
            codec = self._free.pop()
        except IndexError:
            codec = self._make()
        try:
            return use(codec)
        finally:
            self._free.append(codec)


COMPRESSING_AT_ONCE = 2  # zstd leaves the GIL while it compresses: two cores' worth; a third sealer waits ~15 ms
_COMPRESSORS = _FreeList(lambda: zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_content_size=True), most=COMPRESSING_AT_ONCE)
_DECOMPRESSORS = _FreeList(zstandard.ZstdDecompressor)


def _zstd(data: bytes) -> bytes:
    return _COMPRESSORS.run(lambda compressor: compressor.compress(data))


def _unzstd(compressed: bytes, max_bytes: int | None) -> bytes:
    """One zstd frame that declares its size: the cap is checked before anything is inflated, and the
    decompressor never writes more than the frame declared."""
    size = zstandard.frame_content_size(compressed)
    if size < 0:
        raise ValueError("zstd frame does not declare its content size")
    if max_bytes is not None and size > max_bytes:
        raise SealingError(f"batch payload inflates beyond {max_bytes} bytes")
    return _DECOMPRESSORS.run(lambda decompressor: decompressor.decompress(compressed))


@dataclass(frozen=True, slots=True)
class Codec:
    """A payload compression: its ``content_encoding`` name and both directions
    (``decompress(data, max_bytes)``: a SealingError beyond ``max_bytes``, found before it is held)."""

    name: str
    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes, int | None], bytes]


GZIP = Codec("gzip", _gzip, _gunzip)
ZSTD = Codec("zstd", _zstd, _unzstd)
CODECS = {codec.name: codec for codec in (GZIP, ZSTD)}


# -- HPKE suites ------------------------------------------------------------------------------

SUITE_NAMES = {"kem": "DHKEM(X25519, HKDF-SHA256)", "kdf": "HKDF-SHA256", "aead": "AES-256-GCM"}


@dataclass(frozen=True, slots=True)
class SuiteSpec:
    """An HPKE suite: its RFC 9180 ids, its names, the kind of recipient key it seals to
    (``keys.KEMS``) and the library's suite."""

    kem: str
    kem_id: int
    kdf_id: int
    aead_id: int
    names: Mapping[str, str]
    hpke: hpke.Suite

    @property
    def ids(self) -> tuple[int, int, int]:
        return self.kem_id, self.kdf_id, self.aead_id

    def header(self) -> dict[str, str]:
        """A version-3 header's ``suite``: the names, and the ids as ``0x`` + 4 hex digits."""
        ids = {"kem_id": self.kem_id, "kdf_id": self.kdf_id, "aead_id": self.aead_id}
        return {**self.names, **{name: f"0x{value:04x}" for name, value in ids.items()}}


_HKDF_SHA256, _AES_256_GCM = 0x0001, 0x0002  # RFC 9180 section 7.2 and 7.3
X25519_SUITE = SuiteSpec(KEM_X25519, 0x0020, _HKDF_SHA256, _AES_256_GCM, SUITE_NAMES,
                         hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM))
# KEM id 0x647a: MLKEM768-X25519 (X-Wing) in draft-ietf-hpke-pq; the library does not expose its ids,
# tests/unit/test_sealing_kem.py checks this one by opening a batch with the RFC 9180 key schedule.
HYBRID_SUITE = SuiteSpec(KEM_HYBRID, 0x647A, _HKDF_SHA256, _AES_256_GCM,
                         {"kem": "MLKEM768-X25519", "kdf": "HKDF-SHA256", "aead": "AES-256-GCM"},
                         hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM))
SUITES: Mapping[tuple[int, int, int], SuiteSpec] = {suite.ids: suite for suite in (X25519_SUITE, HYBRID_SUITE)}


def suite_for_kem(kem: str) -> SuiteSpec:
    """The suite that seals to a recipient key of kind ``kem``."""
    for suite in SUITES.values():
        if suite.kem == kem:
            return suite
    raise SealingError(f"no HPKE suite for a {kem!r} recipient key")


def suite_named(named: Mapping[str, str] | None) -> SuiteSpec:
    """The suite a version-3 header's ``suite`` names (ids and names must be a registered suite's)."""
    if named is None:
        raise SealingError("batch header names no HPKE suite")
    try:
        ids = tuple(int(named[name], 16) for name in ("kem_id", "kdf_id", "aead_id"))
    except (KeyError, ValueError):
        raise SealingError("batch header's suite has no valid kem_id, kdf_id and aead_id") from None
    suite = SUITES.get(ids)
    if suite is None or dict(named) != suite.header():
        shown = ", ".join(f"{name} {named.get(name)}" for name in ("kem_id", "kdf_id", "aead_id"))
        raise SealingError(f"unknown HPKE suite ({shown})"[:200])
    return suite


# -- versions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormatVersion:
    """One version of the format: the payload's compression and the HPKE suite that seals it.
    ``suite`` None: the header names the suite and the compression (version 3; ``codec`` is then
    only a default for callers that pick one: the ``Sealer`` writes ``CURRENT``'s compression)."""

    number: int
    codec: Codec
    suite: SuiteSpec | None

    @property
    def header_names_suite(self) -> bool:
        return self.suite is None

    def info(self, header_bytes: bytes) -> bytes:
        """HPKE ``info``: binds the header and the version (version 1: b"SEIB1" + SHA-256(header))."""
        return MAGIC + str(self.number).encode() + hashlib.sha256(header_bytes).digest()


FORMATS: Mapping[int, FormatVersion] = {
    1: FormatVersion(1, GZIP, X25519_SUITE),
    2: FormatVersion(2, ZSTD, X25519_SUITE),
    3: FormatVersion(3, ZSTD, None),
}
CURRENT = FORMATS[2]  # what the satellite writes to an X25519 key (compression: issue 18)
VERSION = CURRENT.number


def version_for(suite: SuiteSpec) -> FormatVersion:
    """The version the satellite writes to a recipient key of ``suite``: ``CURRENT`` when it seals
    with that suite (every receiver reads it), else the oldest version whose header names its suite."""
    if CURRENT.suite == suite:
        return CURRENT
    return min((v for v in FORMATS.values() if v.header_names_suite), key=lambda v: v.number)


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """What a batch is, in the clear (authenticated by the signature and bound into HPKE)."""

    batch_id: str
    satellite_id: str
    tenant: str
    integration_id: str
    service: str
    stream: str
    seq: int
    schema_version: int
    created_at: str
    record_count: int
    cursor_from: str | None
    cursor_to: str | None
    recipient_key_id: str
    signer_key_id: str
    content_encoding: str = "gzip"
    suite: Mapping[str, str] | None = None
    policy: str | None = None  # fingerprint of the privacy policy that shaped the records; absent before it

    def canonical_bytes(self) -> bytes:
        body = asdict(self)
        body["suite"] = dict(self.suite or SUITE_NAMES)
        if self.policy is None:
            del body["policy"]  # a batch without a policy has the header it always had
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "BatchHeader":
        """The header, every field of its JSON type (a list where a key id belongs is a SealingError
        naming the field, never a crash of whoever looks the key id up)."""
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SealingError(f"batch header is not valid: {exc.__class__.__name__}") from None
        if not isinstance(body, dict):
            raise SealingError("batch header is not a JSON object")
        unknown = sorted(set(body) - set(_HEADER_TYPES))
        missing = sorted(name for name in _HEADER_TYPES if name not in body and name not in _HEADER_OPTIONAL)
        if unknown or missing:
            raise SealingError(f"batch header fields: unknown {unknown[:5]}, missing {missing}")
        for name, value in body.items():
            if not _HEADER_TYPES[name](value):
                raise SealingError(f"batch header field {name!r} has the wrong type")
        return cls(**body)


def _text(value: object) -> bool:
    return isinstance(value, str)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_HEADER_TYPES = {
    **{name: _text for name in ("batch_id", "satellite_id", "tenant", "integration_id", "service", "stream", "created_at",
                                "recipient_key_id", "signer_key_id", "content_encoding")},
    "seq": _count, "schema_version": _count, "record_count": _count,
    "cursor_from": lambda v: v is None or isinstance(v, str), "cursor_to": lambda v: v is None or isinstance(v, str),
    "suite": lambda v: v is None or isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
    "policy": lambda v: v is None or isinstance(v, str),
}
_HEADER_OPTIONAL = frozenset({"content_encoding", "suite", "policy"})


@dataclass(frozen=True, slots=True)
class OpenedBatch:
    header: BatchHeader
    records: tuple[dict, ...]


def ndjson_line(record: Mapping) -> bytes:
    """One record as a line of NDJSON (compact UTF-8 JSON and a newline)."""
    return json_codec.dumps(record) + b"\n"


def compress_lines(lines: Iterable[bytes], encoding: str = "gzip") -> bytes:
    """NDJSON lines compressed as ``encoding`` (a ``content_encoding``: "gzip" or "zstd")."""
    return CODECS[encoding].compress(b"".join(lines))


def encode_records(records: Iterable[Mapping], encoding: str = "gzip") -> bytes:
    """Records as compressed NDJSON (``encoding``: "gzip" or "zstd")."""
    return compress_lines((ndjson_line(r) for r in records), encoding)


def decode_records(compressed: bytes, max_bytes: int | None = None, encoding: str = "gzip") -> tuple[dict, ...]:
    """The records of a compressed NDJSON payload; ``max_bytes`` caps the inflated size (a SealingError
    beyond it, found before the payload is inflated past it: a small payload that inflates to
    gigabytes is never held)."""
    codec = CODECS.get(encoding)
    if codec is None:
        raise SealingError(f"unknown content encoding {encoding!r}")
    try:
        text = codec.decompress(compressed, max_bytes)
        return tuple(json_codec.loads(line) for line in text.splitlines() if line)
    except (OSError, EOFError, ValueError, zlib.error, zstandard.ZstdError) as exc:
        raise SealingError(f"batch payload is not {encoding} NDJSON: {exc.__class__.__name__}") from None


def format_for(header: BatchHeader) -> FormatVersion:
    """What ``seal`` uses when not told: a header naming a suite by its ids, the oldest version whose
    header names it; else the oldest version whose compression is the header's ``content_encoding``."""
    if header.suite is not None and "kem_id" in header.suite:
        return min((v for v in FORMATS.values() if v.header_names_suite), key=lambda v: v.number)
    for number in sorted(FORMATS):
        if FORMATS[number].header_names_suite:
            continue
        if FORMATS[number].codec.name == header.content_encoding:
            return FORMATS[number]
    raise SealingError(f"unknown content encoding {header.content_encoding!r}")


def seal(
    header: BatchHeader,
    compressed_payload: bytes,
    recipient: RecipientPublicKey,
    signer: Ed25519PrivateKey,
    version: FormatVersion | None = None,
) -> bytes:
    """Encrypt ``compressed_payload`` (compressed as the header says) to ``recipient`` and sign the
    whole batch, as ``version`` (default: ``format_for(header)``). A version-3 header without a
    ``suite`` gets the suite of the recipient key's kind."""
    version = version or format_for(header)
    if version.header_names_suite and header.suite is None:
        header = replace(header, suite=suite_for_kem(kem_of(recipient)).header())
    _, suite = _resolve(header, version)
    if kem_of(recipient) != suite.kem:
        raise SealingError(f"a {kem_of(recipient)} recipient key cannot seal with {suite.names['kem']}")
    header_bytes = header.canonical_bytes()
    key = recipient.key if isinstance(recipient, HybridPublicKey) else recipient
    ciphertext = suite.hpke.encrypt(compressed_payload, key, info=version.info(header_bytes))
    body = _PREFIX.pack(MAGIC, version.number, len(header_bytes)) + header_bytes + ciphertext
    return body + signer.sign(body)


def _resolve(header: BatchHeader, version: FormatVersion) -> tuple[Codec, SuiteSpec]:
    """The compression and suite of a batch: fixed by versions 1 and 2 (the header must agree), named
    by the header in version 3 (a SealingError for an unknown one)."""
    if version.suite is None:
        codec = CODECS.get(header.content_encoding)
        if codec is None:
            raise SealingError(f"unknown content encoding {header.content_encoding!r}")
        return codec, suite_named(header.suite)
    if header.content_encoding != version.codec.name:
        raise SealingError(f"content encoding {header.content_encoding!r} is not version {version.number}'s")
    if header.suite is not None and dict(header.suite) != dict(version.suite.names):
        raise SealingError(f"suite {dict(header.suite)} is not version {version.number}'s")
    return version.codec, version.suite


def _split(sealed: bytes) -> tuple[FormatVersion, BatchHeader, bytes, bytes, bytes, bytes]:
    """(version, header, header bytes, ciphertext, signed body, signature); checks framing only."""
    if len(sealed) < _PREFIX.size + SIGNATURE_LEN:
        raise SealingError("batch is truncated")
    magic, number, header_len = _PREFIX.unpack_from(sealed)
    if magic != MAGIC:
        raise SealingError("not a sealed batch (bad magic)")
    version = FORMATS.get(number)
    if version is None:
        raise SealingError(f"unsupported sealed batch version {number}")
    if header_len > MAX_HEADER_LEN or _PREFIX.size + header_len + SIGNATURE_LEN > len(sealed):
        raise SealingError("batch header length is out of bounds")
    header_bytes = sealed[_PREFIX.size : _PREFIX.size + header_len]
    body, signature = sealed[:-SIGNATURE_LEN], sealed[-SIGNATURE_LEN:]
    ciphertext = body[_PREFIX.size + header_len :]
    header = BatchHeader.from_bytes(header_bytes)
    if version.header_names_suite:
        suite_named(header.suite)  # an unknown suite: refused before any key is looked up
    return version, header, header_bytes, ciphertext, body, signature


def read_header(sealed: bytes) -> BatchHeader:
    """The header, unauthenticated: use it only to pick keys, then call ``open_sealed``."""
    return _split(sealed)[1]


def open_sealed(
    sealed: bytes,
    recipient: RecipientPrivateKey,
    signer: Ed25519PublicKey,
    max_plaintext: int | None = None,
) -> OpenedBatch:
    """Verify the signature, decrypt and decode a batch of any version in ``FORMATS``
    (``max_plaintext``: the inflated payload's cap).

    Raises:
        SealingError: framing, signature, decryption or payload check failed.
    """
    version, header, header_bytes, ciphertext, body, signature = _split(sealed)
    try:
        signer.verify(signature, body)
    except InvalidSignature:
        raise SealingError("signature does not verify") from None
    codec, suite = _resolve(header, version)
    if kem_of(recipient) != suite.kem:
        raise SealingError(f"batch is sealed with {suite.names['kem']}; recipient key {header.recipient_key_id} is {kem_of(recipient)}")
    key = recipient.key if isinstance(recipient, HybridPrivateKey) else recipient
    try:
        compressed = suite.hpke.decrypt(ciphertext, key, info=version.info(header_bytes))
    except (InvalidTag, ValueError):
        raise SealingError("payload does not decrypt with this key and header") from None
    records = decode_records(compressed, max_plaintext, codec.name)
    if len(records) != header.record_count:
        raise SealingError("record count does not match the header")
    return OpenedBatch(header, records)

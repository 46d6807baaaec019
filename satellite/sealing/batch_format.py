"""Sealed batch format version 1: pure functions, no I/O.

Bytes on the wire and at rest::

    b"SEIB" | version (1 byte) | header length (4 bytes, big-endian) | header | payload | signature

- header: canonical JSON (sorted keys, compact, UTF-8) describing the batch (``BatchHeader``):
  batch_id, satellite_id, tenant, integration_id, service, stream, seq, schema_version, created_at,
  record_count, cursor_from, cursor_to, content_encoding, suite, recipient_key_id, signer_key_id,
  and ``policy``: the fingerprint (``sha256:<hex>``) of the privacy policy that shaped the records
  (``satellite.privacy.policy``; docs/privacy.md). ``policy`` is optional: batches sealed before it
  have none and stay valid; a header without it is byte for byte what it was.
- payload: HPKE base mode (RFC 9180) DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM to the
  SEI recipient key; ``info`` = b"SEIB1" + SHA-256(header), so a header cannot be moved onto
  another payload. Plaintext = gzip of newline-delimited JSON records.
- signature: Ed25519 (64 bytes) by the satellite over every byte before it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import struct
import zlib
from dataclasses import asdict, dataclass
from typing import Iterable, Mapping

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from satellite import json_codec
from satellite.errors import SealingError

__all__ = [
    "BatchHeader",
    "OpenedBatch",
    "SUITE_NAMES",
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
VERSION = 1
SIGNATURE_LEN = 64
_PREFIX = struct.Struct(">4sBI")
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
SUITE_NAMES = {"kem": "DHKEM(X25519, HKDF-SHA256)", "kdf": "HKDF-SHA256", "aead": "AES-256-GCM"}
MAX_HEADER_LEN = 64 * 1024
_INFLATE_STEP = 1024 * 1024


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


def compress_lines(lines: Iterable[bytes]) -> bytes:
    """gzip of NDJSON lines. ``mtime=0`` keeps the bytes reproducible."""
    return gzip.compress(b"".join(lines), compresslevel=6, mtime=0)


def encode_records(records: Iterable[Mapping]) -> bytes:
    """gzip(NDJSON) of records."""
    return compress_lines(ndjson_line(r) for r in records)


def decode_records(compressed: bytes, max_bytes: int | None = None) -> tuple[dict, ...]:
    """The records of a gzip(NDJSON) payload; ``max_bytes`` caps the inflated size (a SealingError
    beyond it, found while inflating: a small payload that inflates to gigabytes is never held)."""
    try:
        if max_bytes is None:
            text = gzip.decompress(compressed)
        else:  # a step at a time into one buffer: the peak is the cap, not a multiple of it
            inflater, text, pending = zlib.decompressobj(wbits=31), bytearray(), compressed  # wbits 31: gzip framing
            while pending and not inflater.eof:
                text += inflater.decompress(pending, _INFLATE_STEP)
                pending = inflater.unconsumed_tail
                if len(text) > max_bytes:
                    raise SealingError(f"batch payload inflates beyond {max_bytes} bytes")
            if not inflater.eof:
                raise EOFError("gzip stream is cut")
        return tuple(json_codec.loads(line) for line in text.splitlines() if line)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise SealingError(f"batch payload is not gzip NDJSON: {exc.__class__.__name__}") from None


def _info(header_bytes: bytes) -> bytes:
    return b"SEIB1" + hashlib.sha256(header_bytes).digest()


def seal(
    header: BatchHeader,
    compressed_payload: bytes,
    recipient: X25519PublicKey,
    signer: Ed25519PrivateKey,
) -> bytes:
    """Encrypt ``compressed_payload`` to ``recipient`` and sign the whole batch."""
    header_bytes = header.canonical_bytes()
    ciphertext = _SUITE.encrypt(compressed_payload, recipient, info=_info(header_bytes))
    body = _PREFIX.pack(MAGIC, VERSION, len(header_bytes)) + header_bytes + ciphertext
    return body + signer.sign(body)


def _split(sealed: bytes) -> tuple[BatchHeader, bytes, bytes, bytes, bytes]:
    """(header, header bytes, ciphertext, signed body, signature); checks framing only."""
    if len(sealed) < _PREFIX.size + SIGNATURE_LEN:
        raise SealingError("batch is truncated")
    magic, version, header_len = _PREFIX.unpack_from(sealed)
    if magic != MAGIC:
        raise SealingError("not a sealed batch (bad magic)")
    if version != VERSION:
        raise SealingError(f"unsupported sealed batch version {version}")
    if header_len > MAX_HEADER_LEN or _PREFIX.size + header_len + SIGNATURE_LEN > len(sealed):
        raise SealingError("batch header length is out of bounds")
    header_bytes = sealed[_PREFIX.size : _PREFIX.size + header_len]
    body, signature = sealed[:-SIGNATURE_LEN], sealed[-SIGNATURE_LEN:]
    ciphertext = body[_PREFIX.size + header_len :]
    return BatchHeader.from_bytes(header_bytes), header_bytes, ciphertext, body, signature


def read_header(sealed: bytes) -> BatchHeader:
    """The header, unauthenticated: use it only to pick keys, then call ``open_sealed``."""
    return _split(sealed)[0]


def open_sealed(
    sealed: bytes,
    recipient: X25519PrivateKey,
    signer: Ed25519PublicKey,
    max_plaintext: int | None = None,
) -> OpenedBatch:
    """Verify the signature, decrypt and decode a batch (``max_plaintext``: the inflated payload's cap).

    Raises:
        SealingError: framing, signature, decryption or payload check failed.
    """
    header, header_bytes, ciphertext, body, signature = _split(sealed)
    try:
        signer.verify(signature, body)
    except InvalidSignature:
        raise SealingError("signature does not verify") from None
    try:
        compressed = _SUITE.decrypt(ciphertext, recipient, info=_info(header_bytes))
    except (InvalidTag, ValueError):
        raise SealingError("payload does not decrypt with this key and header") from None
    records = decode_records(compressed, max_plaintext)
    if len(records) != header.record_count:
        raise SealingError("record count does not match the header")
    return OpenedBatch(header, records)

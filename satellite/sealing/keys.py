"""Key material: generate, load and identify the recipient keys (X25519, or hybrid ML-KEM-768 + X25519)
and the Ed25519 signing keys.

Who holds what: SEI gives the customer the API key, its X25519 recipient PUBLIC key and that key's
id (the recipient private key never leaves SEI); the customer makes the satellite's Ed25519
signing pair (``generate_signing_key_files``, ``satellite keys generate-signing``) and registers
its public half with SEI. ``generate_key_files`` makes both pairs, SEI's too: for tests and the
reference receiver only.

Key ids are stable fingerprints: the first 16 hex digits of SHA-256 over the raw public key,
prefixed by the algorithm (``x25519:…``, ``mlkem768-x25519:…``, ``ed25519:…``), unless the operator
names a key id.

Recipient keys come in two kinds (``KEMS``, the ``kem`` of a config's ``recipients[]`` entry):

- ``x25519``: PKCS8 / SubjectPublicKeyInfo PEM, as OpenSSL writes them.
- ``mlkem768-x25519``: the hybrid KEM MLKEM768-X25519 of draft-ietf-hpke-pq (X-Wing, HPKE KEM id
  0x647a). No standard PEM exists for it, so its keys are the draft's own byte strings in RFC 7468
  armor: the label ``MLKEM768-X25519 PRIVATE KEY`` around the base64 of the 32-byte seed (the
  draft's private key), ``MLKEM768-X25519 PUBLIC KEY`` around the base64 of the
  1,216-byte public key (ML-KEM-768 encapsulation key, 1,184 bytes, then the X25519 public key).
  The seed expands as the draft says: SHAKE256(seed, 96) gives the ML-KEM-768 seed (64 bytes, d || z)
  and the X25519 private key (32 bytes). Any implementation of the draft (or of X-Wing) reads them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.mlkem import (
    MLKEM768PrivateKey,
    MLKEM768PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

__all__ = [
    "KEMS",
    "KEM_HYBRID",
    "KEM_X25519",
    "RECIPIENT_PRIVATE",
    "RECIPIENT_PUBLIC",
    "SIGNING_PRIVATE",
    "SIGNING_PRIVATE_FILE",
    "SIGNING_PUBLIC",
    "SIGNING_PUBLIC_FILE",
    "HybridPrivateKey",
    "HybridPublicKey",
    "KeyFiles",
    "RecipientPrivateKey",
    "RecipientPublicKey",
    "SigningKeyFiles",
    "generate_key_files",
    "generate_recipient_key",
    "generate_signing_key_files",
    "kem_of",
    "load_ed25519_private",
    "load_ed25519_public",
    "load_hybrid_private",
    "load_hybrid_public",
    "load_recipient_private",
    "load_recipient_public",
    "load_x25519_private",
    "load_x25519_public",
    "public_key_id",
    "write_ed25519_pair",
    "write_key_files",
]

RECIPIENT_PRIVATE = "sei-recipient.key"
RECIPIENT_PUBLIC = "sei-recipient.pub"
SIGNING_PRIVATE = "satellite-signing.key"
SIGNING_PUBLIC = "satellite-signing.pub"
# generate_signing_key_files: the names of the image's and the chart's secret files
SIGNING_PRIVATE_FILE = "signing-private-key"
SIGNING_PUBLIC_FILE = "signing-public-key"


KEM_X25519 = "x25519"
KEM_HYBRID = "mlkem768-x25519"
KEMS = (KEM_X25519, KEM_HYBRID)

_HYBRID_PUBLIC_LABEL = "MLKEM768-X25519 PUBLIC KEY"
_HYBRID_PRIVATE_LABEL = "MLKEM768-X25519 PRIVATE KEY"
_HYBRID_SEED_LEN = 32
_MLKEM768_PUBLIC_LEN = 1184
_HYBRID_PUBLIC_LEN = _MLKEM768_PUBLIC_LEN + 32


@dataclass(frozen=True, slots=True)
class HybridPublicKey:
    """An MLKEM768-X25519 public key: its 1,216 bytes (``raw``) and the library's key for HPKE."""

    raw: bytes = field(repr=False)
    key: hpke.MLKEM768X25519PublicKey = field(compare=False, repr=False)

    @classmethod
    def from_bytes(cls, raw: bytes) -> HybridPublicKey:
        if len(raw) != _HYBRID_PUBLIC_LEN:
            raise ValueError(f"an MLKEM768-X25519 public key is {_HYBRID_PUBLIC_LEN} bytes, not {len(raw)}")
        mlkem = MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PUBLIC_LEN])
        x25519 = X25519PublicKey.from_public_bytes(raw[_MLKEM768_PUBLIC_LEN:])
        return cls(bytes(raw), hpke.MLKEM768X25519PublicKey(mlkem, x25519))

    def public_bytes_pem(self) -> bytes:
        return _armor(_HYBRID_PUBLIC_LABEL, self.raw)


@dataclass(frozen=True, slots=True)
class HybridPrivateKey:
    """An MLKEM768-X25519 private key: its 32-byte seed and the library's key for HPKE."""

    seed: bytes = field(repr=False)
    key: hpke.MLKEM768X25519PrivateKey = field(compare=False, repr=False)
    public: HybridPublicKey = field(compare=False)

    @classmethod
    def generate(cls) -> HybridPrivateKey:
        return cls.from_seed(os.urandom(_HYBRID_SEED_LEN))

    @classmethod
    def from_seed(cls, seed: bytes) -> HybridPrivateKey:
        """The draft's key expansion: SHAKE256(seed, 96) = ML-KEM-768 seed (64) || X25519 private key (32)."""
        if len(seed) != _HYBRID_SEED_LEN:
            raise ValueError(f"an MLKEM768-X25519 private key is a {_HYBRID_SEED_LEN}-byte seed, not {len(seed)} bytes")
        expanded = hashlib.shake_256(seed).digest(96)
        mlkem = MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        x25519 = X25519PrivateKey.from_private_bytes(expanded[64:])
        raw = mlkem.public_key().public_bytes_raw() + _raw(x25519.public_key())
        public = HybridPublicKey(raw, hpke.MLKEM768X25519PublicKey(mlkem.public_key(), x25519.public_key()))
        return cls(bytes(seed), hpke.MLKEM768X25519PrivateKey(mlkem, x25519), public)

    def public_key(self) -> HybridPublicKey:
        return self.public

    def private_bytes_pem(self) -> bytes:
        return _armor(_HYBRID_PRIVATE_LABEL, self.seed)


RecipientPublicKey = X25519PublicKey | HybridPublicKey
RecipientPrivateKey = X25519PrivateKey | HybridPrivateKey


def kem_of(key: RecipientPublicKey | RecipientPrivateKey) -> str:
    """``x25519`` or ``mlkem768-x25519``: the kind of a recipient key (public or private)."""
    if isinstance(key, (HybridPublicKey, HybridPrivateKey)):
        return KEM_HYBRID
    if isinstance(key, (X25519PublicKey, X25519PrivateKey)):
        return KEM_X25519
    raise TypeError(f"not a recipient key: {type(key).__name__}")


def _raw(public_key: X25519PublicKey | Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_id(public_key: X25519PublicKey | HybridPublicKey | Ed25519PublicKey) -> str:
    """A short, stable id for a public key."""
    if isinstance(public_key, HybridPublicKey):
        prefix, raw = KEM_HYBRID, public_key.raw
    else:
        prefix, raw = ("x25519" if isinstance(public_key, X25519PublicKey) else "ed25519"), _raw(public_key)
    return f"{prefix}:{hashlib.sha256(raw).hexdigest()[:16]}"


def _pem_bytes(pem: str | bytes) -> bytes:
    return pem.encode() if isinstance(pem, str) else pem


def _armor(label: str, data: bytes) -> bytes:
    """RFC 7468 textual encoding: base64 in lines of 64 characters between BEGIN and END lines."""
    text = base64.b64encode(data).decode()
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


_ARMOR = re.compile(rb"-----BEGIN ([A-Z0-9 -]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)


def _pem_label(pem: bytes) -> str | None:
    found = _ARMOR.search(pem)
    return found.group(1).decode() if found else None


def _unarmor(pem: bytes, label: str) -> bytes:
    found = _ARMOR.search(pem)
    if found is None or found.group(1).decode() != label:
        raise ValueError(f"not an {label} in PEM form")
    try:
        return base64.b64decode(b"".join(found.group(2).split()), validate=True)
    except binascii.Error:
        raise ValueError(f"the {label} is not valid base64") from None


def load_hybrid_public(pem: str | bytes) -> HybridPublicKey:
    return HybridPublicKey.from_bytes(_unarmor(_pem_bytes(pem), _HYBRID_PUBLIC_LABEL))


def load_hybrid_private(pem: str | bytes) -> HybridPrivateKey:
    return HybridPrivateKey.from_seed(_unarmor(_pem_bytes(pem), _HYBRID_PRIVATE_LABEL))


def load_recipient_public(pem: str | bytes, kem: str | None = None) -> RecipientPublicKey:
    """A recipient public key of either kind, told apart by its PEM label; ``kem`` (a config's
    ``kem``): the kind it must be (a ValueError naming the kind found otherwise)."""
    data = _pem_bytes(pem)
    key = load_hybrid_public(data) if _pem_label(data) == _HYBRID_PUBLIC_LABEL else load_x25519_public(data)
    if kem is not None and kem_of(key) != kem:
        raise ValueError(f"the key is an {kem_of(key)} public key, not {kem}: set kem: {kem_of(key)}")
    return key


def load_recipient_private(pem: str | bytes) -> RecipientPrivateKey:
    """A recipient private key of either kind (what SEI and the reference receiver hold)."""
    data = _pem_bytes(pem)
    return load_hybrid_private(data) if _pem_label(data) == _HYBRID_PRIVATE_LABEL else load_x25519_private(data)


def load_x25519_public(pem: str | bytes) -> X25519PublicKey:
    key = serialization.load_pem_public_key(_pem_bytes(pem))
    if not isinstance(key, X25519PublicKey):
        raise ValueError("not an X25519 public key in PEM form")
    return key


def load_x25519_private(pem: str | bytes) -> X25519PrivateKey:
    key = serialization.load_pem_private_key(_pem_bytes(pem), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise ValueError("not an X25519 private key in PEM form")
    return key


def load_ed25519_private(pem: str | bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(_pem_bytes(pem), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key in PEM form")
    return key


def load_ed25519_public(pem: str | bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(_pem_bytes(pem))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key in PEM form")
    return key


@dataclass(frozen=True, slots=True)
class KeyFiles:
    """Where ``generate_key_files`` wrote each key, and the derived key ids."""

    recipient_private: Path
    recipient_public: Path
    signing_private: Path
    signing_public: Path
    recipient_key_id: str
    signer_key_id: str


@dataclass(frozen=True, slots=True)
class SigningKeyFiles:
    """Where ``generate_signing_key_files`` wrote the satellite's signing pair, and its key id."""

    private: Path
    public: Path
    key_id: str


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (no window where a private key is world-readable)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)  # the umask may have narrowed it further; make it exact


def generate_recipient_key(kem: str = KEM_X25519) -> RecipientPrivateKey:
    """A new recipient private key of kind ``kem`` (``KEMS``)."""
    if kem == KEM_X25519:
        return X25519PrivateKey.generate()
    if kem == KEM_HYBRID:
        return HybridPrivateKey.generate()
    raise ValueError(f"unknown KEM {kem!r}: one of {', '.join(KEMS)}")


def generate_key_files(directory: Path, *, overwrite: bool = False, kem: str = KEM_X25519) -> KeyFiles:
    """Write a new SEI recipient key pair (of kind ``kem``) and a new satellite signing key pair as
    PEM files: for tests and the reference receiver (in production SEI alone holds its recipient
    private key).

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    return write_key_files(directory, generate_recipient_key(kem), Ed25519PrivateKey.generate(), overwrite=overwrite)


def generate_signing_key_files(directory: Path, *, overwrite: bool = False) -> SigningKeyFiles:
    """Write a new Ed25519 signing pair of the satellite: ``signing-private-key`` (PKCS8 PEM, 0600)
    and ``signing-public-key`` (SubjectPublicKeyInfo PEM, 0644), the public half to register with SEI.

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    return write_ed25519_pair(directory, SIGNING_PRIVATE_FILE, SIGNING_PUBLIC_FILE, overwrite=overwrite)


def write_ed25519_pair(directory: Path, private_name: str, public_name: str, *, overwrite: bool = False) -> SigningKeyFiles:
    """A new Ed25519 pair in ``directory``: ``private_name`` (PKCS8 PEM, 0600), ``public_name`` (0644).

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = _replaceable([directory / private_name, directory / public_name], overwrite)
    signing = Ed25519PrivateKey.generate()
    _write(paths[0], signing.private_bytes(**_PRIVATE_FORMAT), 0o600)
    _write(paths[1], signing.public_key().public_bytes(**_PUBLIC_FORMAT), 0o644)
    return SigningKeyFiles(*paths, key_id=public_key_id(signing.public_key()))


def _replaceable(paths: list[Path], overwrite: bool) -> list[Path]:
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass --force to replace the keys")
    for p in existing:
        p.unlink()
    return paths


_PRIVATE_FORMAT = dict(
    encoding=serialization.Encoding.PEM,
    format=serialization.PrivateFormat.PKCS8,
    encryption_algorithm=serialization.NoEncryption(),
)
_PUBLIC_FORMAT = dict(encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo)


def _recipient_pem(recipient: RecipientPrivateKey) -> tuple[bytes, bytes]:
    """(private, public) PEM of a recipient key of either kind."""
    if isinstance(recipient, HybridPrivateKey):
        return recipient.private_bytes_pem(), recipient.public.public_bytes_pem()
    return recipient.private_bytes(**_PRIVATE_FORMAT), recipient.public_key().public_bytes(**_PUBLIC_FORMAT)


def write_key_files(directory: Path, recipient: RecipientPrivateKey, signing: Ed25519PrivateKey, *,
                    overwrite: bool = False) -> KeyFiles:
    """Write these two key pairs as PEM files: private keys with mode 0600, public keys 0644 (X25519
    and Ed25519: PKCS8 / SubjectPublicKeyInfo; MLKEM768-X25519: the armored seed / public key).

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = (RECIPIENT_PRIVATE, RECIPIENT_PUBLIC, SIGNING_PRIVATE, SIGNING_PUBLIC)
    paths = _replaceable([directory / n for n in names], overwrite)
    recipient_private, recipient_public = _recipient_pem(recipient)
    _write(paths[0], recipient_private, 0o600)
    _write(paths[1], recipient_public, 0o644)
    _write(paths[2], signing.private_bytes(**_PRIVATE_FORMAT), 0o600)
    _write(paths[3], signing.public_key().public_bytes(**_PUBLIC_FORMAT), 0o644)
    return KeyFiles(
        *paths,
        recipient_key_id=public_key_id(recipient.public_key()),
        signer_key_id=public_key_id(signing.public_key()),
    )

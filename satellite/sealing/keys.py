"""Key material: generate, load and identify the X25519 recipient and Ed25519 signing keys.

Who holds what: SEI gives the customer the API key, its X25519 recipient PUBLIC key and that key's
id (the recipient private key never leaves SEI); the customer makes the satellite's Ed25519
signing pair (``generate_signing_key_files``, ``satellite keys generate-signing``) and registers
its public half with SEI. ``generate_key_files`` makes both pairs, SEI's too: for tests and the
reference receiver only.

Key ids are stable fingerprints: the first 16 hex digits of SHA-256 over the raw public key,
prefixed by the algorithm (``x25519:…``, ``ed25519:…``), unless the operator names a key id.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

__all__ = [
    "KeyFiles",
    "SigningKeyFiles",
    "generate_key_files",
    "generate_signing_key_files",
    "write_key_files",
    "load_x25519_public",
    "load_x25519_private",
    "load_ed25519_private",
    "load_ed25519_public",
    "public_key_id",
    "RECIPIENT_PRIVATE",
    "RECIPIENT_PUBLIC",
    "SIGNING_PRIVATE",
    "SIGNING_PUBLIC",
    "SIGNING_PRIVATE_FILE",
    "SIGNING_PUBLIC_FILE",
]

RECIPIENT_PRIVATE = "sei-recipient.key"
RECIPIENT_PUBLIC = "sei-recipient.pub"
SIGNING_PRIVATE = "satellite-signing.key"
SIGNING_PUBLIC = "satellite-signing.pub"
# generate_signing_key_files: the names of the image's and the chart's secret files
SIGNING_PRIVATE_FILE = "signing-private-key"
SIGNING_PUBLIC_FILE = "signing-public-key"


def _raw(public_key: X25519PublicKey | Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_id(public_key: X25519PublicKey | Ed25519PublicKey) -> str:
    """A short, stable id for a public key."""
    prefix = "x25519" if isinstance(public_key, X25519PublicKey) else "ed25519"
    return f"{prefix}:{hashlib.sha256(_raw(public_key)).hexdigest()[:16]}"


def _pem_bytes(pem: str | bytes) -> bytes:
    return pem.encode() if isinstance(pem, str) else pem


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


def generate_key_files(directory: Path, *, overwrite: bool = False) -> KeyFiles:
    """Write a new SEI recipient key pair and a new satellite signing key pair as PEM files: for
    tests and the reference receiver (in production SEI alone holds its recipient private key).

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    return write_key_files(directory, X25519PrivateKey.generate(), Ed25519PrivateKey.generate(), overwrite=overwrite)


def generate_signing_key_files(directory: Path, *, overwrite: bool = False) -> SigningKeyFiles:
    """Write a new Ed25519 signing pair of the satellite: ``signing-private-key`` (PKCS8 PEM, 0600)
    and ``signing-public-key`` (SubjectPublicKeyInfo PEM, 0644), the public half to register with SEI.

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = _replaceable([directory / SIGNING_PRIVATE_FILE, directory / SIGNING_PUBLIC_FILE], overwrite)
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


def write_key_files(directory: Path, recipient: X25519PrivateKey, signing: Ed25519PrivateKey, *,
                    overwrite: bool = False) -> KeyFiles:
    """Write these two key pairs as PEM files: private keys PKCS8 with mode 0600, public keys
    SubjectPublicKeyInfo, 0644.

    Raises:
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = (RECIPIENT_PRIVATE, RECIPIENT_PUBLIC, SIGNING_PRIVATE, SIGNING_PUBLIC)
    paths = _replaceable([directory / n for n in names], overwrite)
    _write(paths[0], recipient.private_bytes(**_PRIVATE_FORMAT), 0o600)
    _write(paths[1], recipient.public_key().public_bytes(**_PUBLIC_FORMAT), 0o644)
    _write(paths[2], signing.private_bytes(**_PRIVATE_FORMAT), 0o600)
    _write(paths[3], signing.public_key().public_bytes(**_PUBLIC_FORMAT), 0o644)
    return KeyFiles(
        *paths,
        recipient_key_id=public_key_id(recipient.public_key()),
        signer_key_id=public_key_id(signing.public_key()),
    )

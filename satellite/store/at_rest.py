"""Names at rest: the store keeps no project, repository, branch or path name in the clear.

Cursors (which hold ref names, TFVC paths, record keys) and the keys of live records are sealed
with AES-SIV, deterministic so that a sealed key can still be looked up by equality; the keys of
immutable records already delivered are keyed hashes (HMAC-SHA-256, 16 bytes). Both keys come from
``<data_dir>/store.key`` (64 random bytes, mode 0600), made with the store and never leaving it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from satellite.errors import StoreError

__all__ = ["AtRest", "KEY_FILE", "SEALED_PREFIX"]

KEY_FILE = "store.key"
SEALED_PREFIX = "s1:"
_KEY_BYTES = 64  # 32 for AES-SIV (two AES-128 keys), 32 for HMAC


class AtRest:
    """Seals and hashes what the store keeps of names, with the data dir's key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise StoreError(f"the store key must be {_KEY_BYTES} bytes, not {len(key)}")
        self._siv = AESSIV(key[:32])
        self._hash_key = key[32:]

    @classmethod
    def of_data_dir(cls, data_dir: Path, *, create: bool) -> "AtRest | None":
        """The data dir's key (made now if ``create`` and there is none); None if absent."""
        path = Path(data_dir) / KEY_FILE
        try:
            return cls(path.read_bytes())
        except FileNotFoundError:
            if not create:
                return None
        key = os.urandom(_KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made by another process meanwhile: use that one
            return cls(path.read_bytes())
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(key)

    def seal(self, text: str) -> str:
        """Deterministic: equal texts seal equally (so a sealed key can be looked up)."""
        return SEALED_PREFIX + base64.b64encode(self._siv.encrypt(text.encode(), None)).decode()

    def open(self, value: str) -> str:
        if not value.startswith(SEALED_PREFIX):
            raise StoreError("a stored value is not sealed with the store key")
        try:
            return self._siv.decrypt(base64.b64decode(value[len(SEALED_PREFIX):]), None).decode()
        except (InvalidTag, ValueError):
            raise StoreError(f"a stored value does not open with the store key ({KEY_FILE} replaced?)") from None

    def key_hash(self, key: str) -> bytes:
        """16-byte HMAC of a record key (the delivered keys of immutable streams)."""
        return hmac.new(self._hash_key, key.encode(), hashlib.sha256).digest()[:16]

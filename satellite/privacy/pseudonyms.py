"""Stable pseudonyms: HMAC-SHA256 under a secret that never leaves the network.

The secret is ``privacy.secret`` of the config (e.g. ``${file:/etc/sei/privacy.key}``, so that
every shard replica shares it), else ``<data_dir>/privacy.key``: 32 random bytes written as hex
text (mode 0600) on first use. The file's text is the HMAC key in both cases, so a generated
file copied next to the other replicas and named by ``${file:...}`` gives them the same tokens.
The secret is never logged, never part of a fingerprint, never sent.

Tokens (the same input gives the same token, across runs and replicas sharing the secret):

    name    n_<20 hex>            per segment for structured names: ``refs/heads/n_..``, ``$/n_../n_..``
    person  p_<20 hex>            an e-mail address: ``p_<20 hex>@pseudonym.invalid``
    url     https://u-<20 hex>.invalid/
    hash    h_<20 hex>            the ``hash`` field rule, of the value's canonical JSON
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Any

from satellite import json_codec
from satellite.secret import Secret

__all__ = ["Pseudonymizer", "SECRET_FILE", "MIN_SECRET_LENGTH", "TOKEN_FORMAT", "load_or_create_secret"]

SECRET_FILE = "privacy.key"
TOKEN_FORMAT = 1  # of the tokens below: part of the policy fingerprint, bumped when a token's form changes
MIN_SECRET_LENGTH = 32
_DIGITS = 20  # hex digits of a token: 80 bits
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_REF = re.compile(r"^(refs/(?:heads|tags|pull|remotes|notes)/)(.*)$", re.S)


def load_or_create_secret(data_dir: Path) -> Secret:
    """``<data_dir>/privacy.key`` (made now, 0600, if absent; a file another process made
    meanwhile wins)."""
    path = Path(data_dir) / SECRET_FILE
    try:
        return Secret(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    text = os.urandom(32).hex()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return Secret(path.read_text(encoding="utf-8").strip())
    try:
        os.write(fd, (text + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return Secret(text)


class Pseudonymizer:
    """Keyed tokens of names, people, URLs and hashed values. Thread-safe (no state but the key)."""

    __slots__ = ("_key",)

    def __init__(self, secret: Secret | str | bytes) -> None:
        if isinstance(secret, Secret):
            secret = secret.reveal()
        key = secret.encode() if isinstance(secret, str) else bytes(secret)
        if len(key) < MIN_SECRET_LENGTH:
            raise ValueError(f"the privacy secret must be at least {MIN_SECRET_LENGTH} bytes")
        object.__setattr__(self, "_key", key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Pseudonymizer is immutable")

    def __repr__(self) -> str:
        return "Pseudonymizer(***)"

    def _digest(self, kind: str, value: str) -> str:
        return hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:_DIGITS]

    def name(self, value: str) -> str:
        """A name or path; a ref keeps its ``refs/<kind>/`` prefix, a TFVC (``$/``) or area
        (``\\``) path its shape: each segment is a token, so prefixes still nest."""
        ref = _REF.match(value)
        if ref:
            return ref.group(1) + self._segments(ref.group(2), "/")
        if value.startswith("$/"):
            return "$/" + self._segments(value[2:], "/")
        if value == "$":
            return value
        if "\\" in value:
            return self._segments(value, "\\")
        if value.startswith(("http://", "https://")):
            return self.url(value)
        return self._name_token(value)

    def _segments(self, value: str, sep: str) -> str:
        return sep.join(self._name_token(part) if part else part for part in value.split(sep))

    def _name_token(self, value: str) -> str:
        return "n_" + self._digest("name", value)

    def person(self, value: str) -> str:
        """A display name, unique name, e-mail address or avatar URL."""
        if _EMAIL.match(value):
            return f"p_{self._digest('person', value.casefold())}@pseudonym.invalid"
        return "p_" + self._digest("person", value)

    def url(self, value: str) -> str:
        return f"https://u-{self._digest('url', value)}.invalid/"

    def hashed(self, value: Any) -> str:
        """The ``hash`` rule: any JSON value (a string as is, else its canonical JSON)."""
        text = value if isinstance(value, str) else json_codec.canonical(value).decode()
        return "h_" + self._digest("hash", text)

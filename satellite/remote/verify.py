"""The signed command envelope (docs/remote-commands.md, "Signature"): its canonical encoding, the
satellite's verification, and the signing that SEI (or the reference receiver) does.

An envelope, as the heartbeat answer carries it:

    {"key_id": "<id of SEI's command key>",
     "payload": "<base64 (RFC 4648, padded) of the payload bytes>",
     "signature": "<base64 of the 64-byte Ed25519 signature>"}

The payload bytes are the command object in canonical JSON: UTF-8, object keys sorted by code
point, no whitespace (separators ``,`` and ``:``), non-ASCII characters as themselves (not
``\\u`` escapes), only strings, integers, booleans, null, arrays and objects (no floats). The
signature is Ed25519 over ``SIGNING_CONTEXT + payload bytes``. The satellite verifies the bytes it
received, then reads them, and refuses a payload that is not in canonical form (one command has
exactly one signed form). Pure: no I/O; the caller passes the clock.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from satellite.remote.commands import (
    Reason,
    Refused,
    SignedCommand,
    format_time,
    parse_payload,
)
from satellite.sealing.keys import load_ed25519_public

__all__ = [
    "MAX_ENVELOPE_CHARS",
    "SIGNING_CONTEXT",
    "CommandKeys",
    "Envelope",
    "canonical_json",
    "new_payload",
    "parse_envelope",
    "peek",
    "sign",
    "verify",
]

SIGNING_CONTEXT = b"sei-satellite-command-v1\x00"
MAX_ENVELOPE_CHARS = 16 * 1024


@dataclass(frozen=True, slots=True)
class Envelope:
    key_id: str
    payload: bytes
    signature: bytes


@dataclass(frozen=True)
class CommandKeys:
    """SEI's command public keys by key id (several during a rotation)."""

    keys: Mapping[str, Ed25519PublicKey]

    @classmethod
    def from_settings(cls, command_keys: Iterable[Any]) -> CommandKeys:
        """From ``satellite.command_keys`` (``key_id``, ``public_key`` PEM text)."""
        return cls({k.key_id: load_ed25519_public(k.public_key) for k in command_keys})


def _plain(value: object, depth: int = 0) -> None:
    """Raises ValueError (not TypeError: a payload of the wrong shape is a bad value) unless ``value``
    holds only what the canonical encoding allows."""
    if depth > 16:
        raise ValueError("nested too deep")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("object keys must be strings")  # noqa: TRY004
            _plain(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _plain(item, depth + 1)
    elif isinstance(value, float) or not (value is None or isinstance(value, (str, int, bool))):
        raise ValueError(f"{type(value).__name__} is not allowed (strings, integers, booleans, null, arrays, objects)")


def canonical_json(value: object) -> bytes:
    """The canonical encoding (see the module docstring).

    Raises:
        ValueError: ``value`` holds a float or a type JSON has not.
    """
    _plain(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _b64(value: object, field: str, unsigned: bool = False) -> bytes:
    if not isinstance(value, str) or not value:
        raise Refused(Reason.UNSIGNED if unsigned else Reason.MALFORMED, f"{field} is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(Reason.MALFORMED, f"{field} is not base64") from None


def parse_envelope(value: object) -> Envelope:
    """The envelope of one entry of the answer's ``commands``.

    Raises:
        Refused: MALFORMED (not an envelope), UNSIGNED (no signature or key id).
    """
    if not isinstance(value, dict):
        raise Refused(Reason.MALFORMED, "a command must be a JSON object (key_id, payload, signature)")
    if len(json.dumps(value)) > MAX_ENVELOPE_CHARS:
        raise Refused(Reason.MALFORMED, f"a command envelope is at most {MAX_ENVELOPE_CHARS} characters")
    payload = _b64(value.get("payload"), "payload")
    signature = _b64(value.get("signature"), "signature", unsigned=True)
    key_id = value.get("key_id")
    if not isinstance(key_id, str) or not key_id:
        raise Refused(Reason.UNSIGNED, "key_id is missing")
    if len(signature) != 64:
        raise Refused(Reason.BAD_SIGNATURE, "an Ed25519 signature is 64 bytes")
    return Envelope(key_id, payload, signature)


def peek(value: object) -> tuple[str | None, str | None]:
    """(id, name) an entry claims, unverified: only to name a refusal in the report."""
    try:
        claimed = json.loads(base64.b64decode(value.get("payload", ""), validate=True))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError, binascii.Error):
        return None, None
    if not isinstance(claimed, dict):
        return None, None
    ident, name = claimed.get("id"), claimed.get("name")
    return (ident[:128] if isinstance(ident, str) else None), (name[:64] if isinstance(name, str) else None)


def verify(envelope: Envelope, keys: CommandKeys, satellite_id: str, now: datetime) -> SignedCommand:
    """The command of a genuine envelope for this satellite, valid at ``now``.

    Checks, in order: the key id is one of ``keys`` (UNKNOWN_KEY), the signature (BAD_SIGNATURE),
    the payload's canonical form and fields (MALFORMED), the satellite id (WRONG_SATELLITE), the
    validity (EXPIRED, NOT_YET_VALID). Replays and unknown commands are the caller's to refuse.

    Raises:
        Refused: with the reason of the first check that fails.
    """
    key = keys.keys.get(envelope.key_id)
    if key is None:
        known = ", ".join(sorted(keys.keys)) or "none configured: satellite.command_keys is empty"
        raise Refused(Reason.UNKNOWN_KEY, f"key {envelope.key_id[:80]!r} is not a command key of this satellite ({known})")
    try:
        key.verify(envelope.signature, SIGNING_CONTEXT + envelope.payload)
    except InvalidSignature:
        raise Refused(Reason.BAD_SIGNATURE, f"the signature does not verify with key {envelope.key_id}") from None
    try:
        return _genuine(envelope.payload, satellite_id, now)
    except Refused as refused:
        refused.verified = True
        raise


def _genuine(data: bytes, satellite_id: str, now: datetime) -> SignedCommand:
    """The checks of a payload whose signature verified."""
    try:
        payload = json.loads(data.decode("utf-8"))
        canonical = canonical_json(payload) == data
    except (UnicodeDecodeError, ValueError, RecursionError):
        payload, canonical = None, False
    if not canonical:
        raise Refused(Reason.MALFORMED, "the payload is not canonical JSON (sorted keys, no whitespace, no floats)")
    command = parse_payload(payload)
    if command.satellite_id != satellite_id:
        raise Refused(Reason.WRONG_SATELLITE, f"signed for satellite {command.satellite_id[:80]!r}, not this one",
                      command_id=command.id, name=command.name)
    command.check_time(now)
    return command


def new_payload(satellite_id: str, name: str, args: Mapping[str, Any], *, issued_at: datetime, ttl: timedelta,
                command_id: str | None = None) -> dict[str, Any]:
    """A command payload (SEI's side): a new id unless given; ``ttl``: how long it stays valid."""
    return {"id": command_id or str(uuid.uuid4()), "satellite_id": satellite_id, "name": name, "args": dict(args),
            "issued_at": format_time(issued_at), "expires_at": format_time(issued_at + ttl)}


def sign(payload: Mapping[str, Any], private_key: Ed25519PrivateKey, key_id: str) -> dict[str, str]:
    """The envelope of ``payload`` signed with SEI's command key (the reference receiver, tests)."""
    data = canonical_json(dict(payload))
    return {"key_id": key_id, "payload": base64.b64encode(data).decode(),
            "signature": base64.b64encode(private_key.sign(SIGNING_CONTEXT + data)).decode()}

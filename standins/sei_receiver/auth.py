"""Who the receiver trusts, and the checks every route shares: API key, signer and recipient keys."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from starlette.requests import Request
from starlette.responses import JSONResponse

from satellite.errors import SealingError
from satellite.sealing.batch_format import BatchHeader, read_header
from satellite.sealing.keys import RecipientPrivateKey
from satellite.secret import Secret

__all__ = ["ReceiverKeys", "error_response", "request_authorized", "batch_keys", "read_limited_body", "read_sealed"]


@dataclass(frozen=True)
class ReceiverKeys:
    """What the receiver trusts: API keys, its recipient private keys (X25519 or MLKEM768-X25519) and
    registered satellite keys (by id)."""

    api_keys: tuple[Secret, ...]
    recipients: Mapping[str, RecipientPrivateKey]
    signers: Mapping[str, Ed25519PublicKey]


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def request_authorized(request: Request, keys: ReceiverKeys) -> bool:
    """The request carries one of the accepted API keys as a Bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return any(hmac.compare_digest(token.encode(), k.reveal().encode()) for k in keys.api_keys)


def batch_keys(header: BatchHeader, keys: ReceiverKeys) -> tuple[Ed25519PublicKey, RecipientPrivateKey] | JSONResponse:
    """(signer, recipient) for a batch header, or the error answer: 403 unregistered signer, 422 unknown recipient."""
    signer = keys.signers.get(header.signer_key_id)
    if signer is None:
        return error_response(403, f"signing key {header.signer_key_id} is not registered")
    recipient = keys.recipients.get(header.recipient_key_id)
    if recipient is None:
        return error_response(422, f"recipient key {header.recipient_key_id} is unknown to this receiver")
    return signer, recipient


async def read_limited_body(request: Request, limit: int, too_big: str) -> bytes | JSONResponse:
    """The request body, or a 413 (``too_big``): refused by its Content-Length before reading, and
    read chunk by chunk with the cap when the length is unknown, so no oversized body is held."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return error_response(413, too_big)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return error_response(413, too_big)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_sealed(request: Request, keys: ReceiverKeys, limit: int, too_big: str) -> tuple[bytes, BatchHeader] | JSONResponse:
    """What every sealed-batch route checks first: the API key (401), the size (413, ``too_big``)
    and a readable header (422); (body, header), or the answer to send."""
    if not request_authorized(request, keys):
        return error_response(401, "unknown API key")
    body = await read_limited_body(request, limit, too_big)
    if isinstance(body, JSONResponse):
        return body
    try:
        return body, read_header(body)
    except SealingError as exc:
        return error_response(422, str(exc))

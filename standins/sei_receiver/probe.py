"""``POST /v1/satellite/probe``: does this endpoint accept the satellite's API key and keys? Stores nothing.

The body is a sealed batch with 0 records and stream ``satellite.probe`` (what ``satellite check``
sends). Answers, in the order checked: 401 unknown API key, 413 too large, 422 not a sealed batch,
400 not a probe batch, 403 signing key not registered, 422 recipient key unknown or the batch does
not open with it (an unknown HPKE suite too), else 200 ``{"ok": true, "recipient_key_id": ...,
"signer_key_id": ..., "kem": ...}`` (``kem``: the recipient key's, x25519 or mlkem768-x25519).
"""

from __future__ import annotations

from typing import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from satellite.errors import SealingError
from satellite.sealing.batch_format import open_sealed
from satellite.sealing.keys import kem_of
from satellite.sei import PROBE_STREAM
from standins.sei_receiver.auth import ReceiverKeys, batch_keys, error_response, read_sealed

__all__ = ["probe_endpoint", "MAX_PROBE_BYTES"]

MAX_PROBE_BYTES = 64 * 1024


def probe_endpoint(keys: ReceiverKeys) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The route handler, checking with the receiver's own API keys and key lookup."""

    async def post_probe(request: Request) -> JSONResponse:
        sealed = await read_sealed(request, keys, MAX_PROBE_BYTES, f"a probe is at most {MAX_PROBE_BYTES} bytes")
        if isinstance(sealed, JSONResponse):
            return sealed
        body, header = sealed
        if header.stream != PROBE_STREAM or header.record_count != 0:
            return error_response(400, f"a probe batch has stream {PROBE_STREAM} and 0 records")
        found = batch_keys(header, keys)
        if isinstance(found, JSONResponse):
            return found
        signer, recipient = found
        try:
            await run_in_threadpool(open_sealed, body, recipient, signer, MAX_PROBE_BYTES)
        except SealingError as exc:
            return error_response(422, str(exc))
        return JSONResponse({"ok": True, "recipient_key_id": header.recipient_key_id, "signer_key_id": header.signer_key_id,
                             "kem": kem_of(recipient)})

    return post_probe

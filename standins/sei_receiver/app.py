"""The reference SEI receiver (contract 4.3): authenticate, verify, decrypt, de-duplicate, store.

Routes (the protocol's paths and headers are the satellite's own, from ``satellite.sei``):
    POST /v1/satellite/batches   sealed batch -> 201 stored | 200 already stored
    POST /v1/satellite/heartbeat JSON status of a satellite; the latest per satellite is kept; v1.1: the
                                 command_outcomes it reports are kept and the answer hands out the
                                 commands queued for it (``satellite receiver command``)
    POST /v1/satellite/probe     sealed batch of 0 records -> 200 if API key and keys are accepted (stores nothing)
    GET  /v1/satellite/stats     counts per record type
    GET  /v1/satellite/records   ?type=git.commit[&data=1] -> the stored records of one type
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from satellite.errors import SealingError
from satellite.sealing.batch_format import open_sealed
from satellite.sei import BATCHES_PATH, HEARTBEAT_PATH, IDEMPOTENCY_KEY, PROBE_PATH
from standins.sei_receiver.commands import CommandQueue
from standins.sei_receiver.auth import ReceiverKeys, batch_keys, error_response, read_sealed, request_authorized
from standins.sei_receiver.probe import probe_endpoint
from standins.sei_receiver.storage import ReceiverStorage

__all__ = ["ReceiverKeys", "create_receiver_app"]

DEFAULT_MAX_BATCH_BYTES = 64 * 1024 * 1024


def create_receiver_app(storage: ReceiverStorage, keys: ReceiverKeys, *, max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
                        max_inflated_bytes: int | None = None, announce: Mapping[str, str] | None = None,
                        commands: CommandQueue | None = None) -> Starlette:
    """``max_batch_bytes``: the largest sealed body read; ``max_inflated_bytes``: the largest payload
    inflated (default 4 x ``max_batch_bytes``): a batch beyond either is refused (413 / 422).
    ``announce``: fields every heartbeat answer carries (v1.1 version skew: ``min_supported_version``,
    ``latest_version``)."""
    announced = dict(announce or {})
    queue = commands or CommandQueue(storage.db_path.parent)  # ``commands``: the queue of SEI's commands (v1.1)
    inflate_cap = max_inflated_bytes or 4 * max_batch_bytes

    def authorized(request: Request) -> bool:
        return request_authorized(request, keys)

    async def post_batch(request: Request) -> JSONResponse:
        sealed = await read_sealed(request, keys, max_batch_bytes, f"batch larger than {max_batch_bytes} bytes")
        if isinstance(sealed, JSONResponse):
            return sealed
        body, header = sealed
        found = batch_keys(header, keys)
        if isinstance(found, JSONResponse):
            return found
        signer, recipient = found
        if request.headers.get(IDEMPOTENCY_KEY) != header.batch_id:
            return error_response(400, f"{IDEMPOTENCY_KEY} must equal the batch id")
        try:
            opened = await run_in_threadpool(open_sealed, body, recipient, signer, inflate_cap)
        except SealingError as exc:
            return error_response(422, str(exc))
        stored = await run_in_threadpool(storage.store_batch, opened)
        return JSONResponse({"batch_id": header.batch_id, "stored": stored}, status_code=201 if stored else 200)

    async def post_heartbeat(request: Request) -> JSONResponse:
        if not authorized(request):
            return error_response(401, "unknown API key")
        try:
            body = await request.json()
        except ValueError:
            return error_response(400, "heartbeat must be JSON")
        if not isinstance(body, dict) or not isinstance(body.get("satellite_id"), str):
            return error_response(400, "heartbeat must name its satellite_id")
        await run_in_threadpool(storage.store_heartbeat, body["satellite_id"], body)
        await run_in_threadpool(queue.record_outcomes, body["satellite_id"], body.get("command_outcomes"))
        handed = await run_in_threadpool(queue.hand_out, body["satellite_id"])
        return JSONResponse({"ok": True, **announced, "protocol": "1.1", "commands": handed})

    async def get_stats(request: Request) -> JSONResponse:
        if not authorized(request):
            return error_response(401, "unknown API key")
        return JSONResponse({**await run_in_threadpool(storage.stats), **await run_in_threadpool(queue.stats)})

    async def get_records(request: Request) -> JSONResponse:
        if not authorized(request):
            return error_response(401, "unknown API key")
        record_type = request.query_params.get("type", "")
        with_data = request.query_params.get("data") == "1"
        return JSONResponse({"type": record_type, "records": await run_in_threadpool(storage.records, record_type, with_data)})

    return Starlette(
        routes=[
            Route(BATCHES_PATH, post_batch, methods=["POST"]),
            Route(HEARTBEAT_PATH, post_heartbeat, methods=["POST"]),
            Route(PROBE_PATH, probe_endpoint(keys), methods=["POST"]),
            Route("/v1/satellite/stats", get_stats, methods=["GET"]),
            Route("/v1/satellite/records", get_records, methods=["GET"]),
        ]
    )

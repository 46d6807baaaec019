"""The delivery ledger against the reference receiver: after a sync, its rows are exactly the batches
the receiver acknowledged: ids, streams, counts, the SHA-256 of the bytes the receiver got and of
the plaintext it decrypted, and the fingerprint of the privacy policy in the header."""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
import struct

import pytest
import zstandard
from cryptography.hazmat.primitives import hpke

from satellite.config import load_config
from satellite.retrying import RetryPolicy
from satellite.sealing.batch_format import read_header
from satellite.sealing.keys import load_x25519_private
from satellite.sei import BATCHES_PATH, classify
from satellite.store import Store
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world
from tests.support import start_receiver, start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=None, initial_wait=0.01, max_wait=0.05)
_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


class BodyRecorder:
    """In front of the receiver: every batch POSTed (idempotency key, body, status answered); the
    first attempt of every seventh batch is answered 503 without reaching the receiver."""

    def __init__(self, app) -> None:
        self.app = app
        self.answers: list[tuple[str, bytes, int]] = []
        self._posts = 0
        self._refused: set[str] = set()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != BATCHES_PATH:
            await self.app(scope, receive, send)
            return
        batch_id = dict(scope["headers"]).get(b"idempotency-key", b"").decode()
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        self._posts += 1
        if self._posts % 7 == 0 and batch_id not in self._refused:
            self._refused.add(batch_id)
            self.answers.append((batch_id, body, 503))
            await send({"type": "http.response.start", "status": 503, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        status: dict[str, int] = {}

        async def replay():
            return {"type": "http.request", "body": body, "more_body": False}

        async def answer(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, replay, answer)
        self.answers.append((batch_id, body, status["code"]))


def plaintext_of(sealed: bytes, recipient) -> bytes:
    """The NDJSON a batch carries, by the format of docs (magic, version, header length, header,
    HPKE ciphertext, 64-byte signature): what SEI decrypts, before it parses a line."""
    _, version, header_len = struct.unpack_from(">4sBI", sealed)
    header = sealed[9 : 9 + header_len]
    ciphertext = sealed[9 + header_len : -64]
    compressed = _SUITE.decrypt(ciphertext, recipient, info=b"SEIB" + str(version).encode() + hashlib.sha256(header).digest())
    encoding = json.loads(header).get("content_encoding", "gzip")  # version 1: gzip; 2 and 3 name theirs
    return gzip.decompress(compressed) if encoding == "gzip" else zstandard.ZstdDecompressor().decompress(compressed)


def test_the_ledger_rows_are_the_batches_the_receiver_acknowledged(tmp_path, key_files, env):
    receiver = start_receiver(tmp_path / "receiver", key_files, wrap=BodyRecorder)
    world = generate_world(seed=9, scale="tiny")
    try:
        with start_simulator(world) as simulator:
            path = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=receiver.url, key_files=key_files)
            path.write_text(path.read_text() + "privacy:\n  presets: [pseudonymize_people]\n")
            config = load_config(path, env=env)
            result = sync_once(config, upload_retry=FAST_RETRY)
            assert result.ok, result.errors
            world.advance(3)
            assert sync_once(config, upload_retry=FAST_RETRY).ok  # a second sync appends to the ledger
        recorder: BodyRecorder = receiver.served
        acknowledged = {batch_id: body for batch_id, body, status in recorder.answers if classify(status).accepted}
        refused = {batch_id for batch_id, _, status in recorder.answers if status == 503}
        with sqlite3.connect(receiver.storage.db_path) as db:
            received = {row[0]: row[1:] for row in db.execute("SELECT batch_id, integration_id, stream, seq, record_count FROM batches")}
        store = Store(config.satellite.data_dir)
        try:
            rows = store.ledger()
        finally:
            store.close()
    finally:
        receiver.close()
    assert refused and refused <= set(acknowledged)  # refused once, acknowledged on the retry: one row
    assert len(rows) == len(acknowledged) == len(received) > 50
    assert {r.batch_id for r in rows} == set(acknowledged) == set(received)
    assert len({r.policy for r in rows}) == 1  # one policy shaped every batch
    recipient = load_x25519_private(key_files.recipient_private.read_bytes())
    for row in rows:
        body = acknowledged[row.batch_id]
        header = read_header(body)
        assert (row.integration_id, row.stream, row.seq, row.record_count) == received[row.batch_id]
        assert row.sealed_sha256 == hashlib.sha256(body).hexdigest()
        assert row.plaintext_sha256 == hashlib.sha256(plaintext_of(body, recipient)).hexdigest()
        assert row.policy == header.policy and row.policy.startswith("sha256:")
        assert row.sealed_at <= row.acknowledged_at and row.answer == "stored"

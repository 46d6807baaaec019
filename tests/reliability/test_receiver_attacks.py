"""The reference receiver under attack (issue 15, item 8): malformed header fields are a 422, never
a 500; a body too large is refused by its Content-Length before it is read, or read with the cap
when its length is unknown; a payload that inflates past the cap is refused while inflating; and
through all of it the receiver's memory stays under twice its configured limit."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from satellite.sealing.batch_format import MAGIC, VERSION, BatchHeader, seal
from satellite.sealing.keys import load_ed25519_private, load_x25519_public

from tests.support import API_KEY, REPO, free_port, satellite_env, wait_until

pytestmark = pytest.mark.reliability

MiB = 1024 * 1024
HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/vnd.sei.sealed-batch"}


def header_fields(key_files, **changes) -> dict:
    fields = {"batch_id": str(uuid.uuid4()), "satellite_id": "sat", "tenant": "acme", "integration_id": "tfs", "service": "repos",
              "stream": "git.commits", "seq": 1, "schema_version": 1, "created_at": "2026-12-04T00:00:00Z", "record_count": 1,
              "cursor_from": None, "cursor_to": None, "recipient_key_id": key_files.recipient_key_id,
              "signer_key_id": key_files.signer_key_id}
    return {**fields, **changes}


def framed(header: dict) -> bytes:
    """A batch whose header is ``header`` as given (any JSON), with a dummy payload and signature."""
    raw = json.dumps(header).encode()
    return MAGIC + bytes([VERSION]) + len(raw).to_bytes(4, "big") + raw + b"\0" * 64 + b"\1" * 64


def bomb(key_files, inflated: int) -> tuple[str, bytes]:
    """A batch signed by a registered satellite whose payload inflates to ``inflated`` bytes."""
    fields = header_fields(key_files)
    payload = gzip.compress(b"\n" * inflated, compresslevel=9, mtime=0)
    body = seal(BatchHeader(**fields), payload, load_x25519_public(key_files.recipient_public.read_bytes()),
                load_ed25519_private(key_files.signing_private.read_bytes()))
    return fields["batch_id"], body


@pytest.fixture
def receiver_process(tmp_path, key_files):
    """``satellite receiver`` in its own process (so its memory is its own): (url, pid)."""
    port = free_port()
    (tmp_path / "api-key").write_text(API_KEY)
    log = open(tmp_path / "receiver.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "satellite", "receiver", "--port", str(port), "--data-dir", str(tmp_path / "receiver"),
         "--api-key-file", str(tmp_path / "api-key"), "--recipient-key", str(key_files.recipient_private),
         "--satellite-key", str(key_files.signing_public), "--max-batch-bytes", str(4 * MiB),
         "--max-inflated-bytes", str(16 * MiB)],
        stdout=log, stderr=subprocess.STDOUT, env=satellite_env(), cwd=REPO)
    try:
        wait_until(lambda: "listening on" in (tmp_path / "receiver.log").read_text() or process.poll() is not None, 60,
                   "the receiver to listen")
        assert process.poll() is None, (tmp_path / "receiver.log").read_text()
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def memory_kib(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.M).group(1))


def post(url: str, body, batch_id: str = "x", **headers) -> httpx.Response | None:
    """The answer, or None when the receiver closed the connection while the body was still coming."""
    try:
        return httpx.post(f"{url}/v1/satellite/batches", content=body, headers={**HEADERS, "Idempotency-Key": batch_id, **headers},
                          timeout=60)
    except (httpx.WriteError, httpx.ReadError, httpx.RemoteProtocolError):
        return None


@pytest.mark.parametrize("change", [
    {"signer_key_id": ["a", "b"]}, {"recipient_key_id": {"id": 1}}, {"seq": "1"}, {"record_count": True},
    {"record_count": -1}, {"cursor_to": 5}, {"suite": ["x"]}, {"extra": "field"}, {"batch_id": None},
])
def test_a_malformed_header_field_is_a_422_naming_the_field(tmp_path, key_files, receiver_process, change):
    url, _ = receiver_process
    answer = post(url, framed(header_fields(key_files, **change)))
    assert answer is not None and answer.status_code == 422, answer.text if answer is not None else "closed"
    assert "header" in answer.json()["error"]


def test_headers_that_are_not_objects_are_422(key_files, receiver_process):
    url, _ = receiver_process
    for header in ([1, 2], "text", None, 7):
        answer = post(url, framed(header))
        assert answer is not None and answer.status_code == 422


def test_attacks_are_refused_and_memory_stays_under_twice_the_limit(tmp_path, key_files, receiver_process):
    url, pid = receiver_process
    limit = 16 * MiB  # the most the receiver is configured to hold for one batch (its inflate cap)
    post(url, b"warm-up")  # one request so the baseline includes the libraries a request loads
    baseline = memory_kib(pid, "VmRSS") * 1024

    big = post(url, b"\0" * (70 * MiB))  # Content-Length says 70 MiB: refused before the body is read
    assert big is None or big.status_code == 413

    def chunks():  # no Content-Length: read with the cap
        for _ in range(70):
            yield b"\0" * MiB
    unknown = post(url, chunks())
    assert unknown is None or unknown.status_code == 413

    batch_id, body = bomb(key_files, 256 * MiB)  # a few hundred KB that inflate to 256 MiB
    assert len(body) < 1 * MiB
    answer = post(url, body, batch_id)
    assert answer is not None and answer.status_code == 422 and "inflates beyond" in answer.json()["error"], answer

    peak = memory_kib(pid, "VmHWM") * 1024
    print(f"receiver memory: baseline {baseline / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB under attack")
    assert peak - baseline < 2 * limit, f"the receiver grew by {(peak - baseline) / MiB:.0f} MiB (limit {limit // MiB} MiB)"
    stats = httpx.get(f"{url}/v1/satellite/stats", headers=HEADERS, timeout=30).json()
    assert stats["batches"] == 0  # nothing stored

"""Reliability harness: the satellite as a real subprocess against a simulator and a receiver in this process.

- ``FrontDoor``: a test-only ASGI wrapper in front of the receiver app. It records every batch
  upload (arrival, answer, status, Retry-After), and on command refuses (503/429/422...), delays,
  or holds an upload either before the receiver sees it or after the receiver committed it.
- ``CountingStorage``: the receiver's storage, counting every record it stored per (type, key),
  so a record sent twice is visible even though the receiver keeps one row per key.
- ``Satellite``: ``python -m satellite sync --once -c FILE`` as a subprocess, killed and reaped
  by the ``processes`` fixture whatever happens.

What every test folder shares (the PAT and API key, waiting, starting the stand-ins, a config,
the comparison with the server's truth) is in ``tests/support.py``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from satellite.errors import SealingError
from satellite.sealing.batch_format import BatchHeader, read_header
from satellite.sealing.keys import KeyFiles, load_recipient_private
from satellite.sei import BATCHES_PATH
from satellite.streams import STREAMS
from standins.loopback import serve_in_thread
from standins.sei_receiver import ReceiverStorage, create_receiver_app
from tests import support
from tests.support import REPO, satellite_env

# record types of the streams declared immutable: the satellite must never send one of them twice
IMMUTABLE_TYPES = sorted({t for s in STREAMS if s.immutable for t in (s.record_type, *s.also_emits)})


# --- the receiver and its front door -----------------------------------------------------------


class CountingStorage(ReceiverStorage):
    """The reference storage, plus how many times each (type, key) arrived in a newly stored batch."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir)
        self.received: Counter[tuple[str, str]] = Counter()
        self._count_lock = threading.Lock()

    def store_batch(self, batch) -> bool:
        stored = super().store_batch(batch)
        if stored:
            with self._count_lock:
                self.received.update((r["type"], r["key"]) for r in batch.records)
        return stored

    def batch_ids(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._conn.execute("SELECT batch_id FROM batches")]


@dataclass
class Attempt:
    """One upload as the front door saw it (monotonic times)."""

    batch_id: str
    header: BatchHeader | None
    arrived: float
    answered: float | None = None
    status: int | None = None  # None: held and dropped (the client was gone)
    retry_after: str | None = None
    min_wait: float | None = None  # what the Retry-After asked for, in seconds from the answer
    held: str | None = None  # "before" / "after" when it was held
    size: int = 0


@dataclass(frozen=True)
class Refuse:
    status: int
    retry_after: str | None = None
    detail: str = "refused by the test's front door"


@dataclass(frozen=True)
class Pass:
    delay: float = 0.0  # seconds between the receiver's answer and sending it


class FrontDoor:
    """Test-only ASGI wrapper around the receiver app; only batch uploads are touched.

    ``policy(attempt)`` decides each upload (``Pass`` or ``Refuse``); ``arm("before"|"after")``
    holds uploads (before the receiver sees them, or after it committed them) until ``disarm()``.
    An upload held "before" is answered 503 once released, without reaching the receiver.
    While ``gate`` is clear, uploads that pass wait at the door (then go on: slowed, not lost).
    """

    def __init__(self, app) -> None:
        self.app = app
        self.attempts: list[Attempt] = []
        self.policy: Callable[[Attempt], Pass | Refuse] = lambda attempt: Pass()
        self.held = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self._hold: str | None = None
        self._release = threading.Event()
        self._lock = threading.Lock()

    def arm(self, where: str) -> None:
        assert where in ("before", "after")
        with self._lock:
            self._release.clear()
            self.held.clear()
            self._hold = where

    def disarm(self) -> None:
        with self._lock:
            self._hold = None
            self._release.set()

    def answered(self, status: int) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if a.status == status]

    async def _wait_release(self, attempt: Attempt, where: str) -> None:
        attempt.held = where
        self.held.set()
        deadline = time.monotonic() + 120
        while not self._release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != BATCHES_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            header = read_header(body)
        except SealingError:
            header = None
        attempt = Attempt(headers.get("idempotency-key", ""), header, arrived, size=len(body))
        with self._lock:
            self.attempts.append(attempt)
            hold = self._hold
        decision = self.policy(attempt)
        if hold == "before":
            await self._wait_release(attempt, "before")
            attempt.answered = time.monotonic()
            await _safe_send(send, _json_messages(503, {"error": "held by the test and dropped"}))
            return
        if isinstance(decision, Refuse):
            extra = [(b"retry-after", decision.retry_after.encode())] if decision.retry_after else []
            attempt.status, attempt.retry_after = decision.status, decision.retry_after
            attempt.min_wait = _seconds_from_now(decision.retry_after)
            attempt.answered = time.monotonic()
            await _safe_send(send, _json_messages(decision.status, {"error": decision.detail}, extra))
            return
        deadline = time.monotonic() + 120
        while not self.gate.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        messages: list[dict] = []

        async def capture(message):
            messages.append(message)

        await self.app(scope, replay, capture)
        attempt.status = messages[0]["status"] if messages else 500
        if hold == "after" and attempt.status == 201:
            await self._wait_release(attempt, "after")
        if decision.delay:
            await asyncio.sleep(decision.delay)
        attempt.answered = time.monotonic()
        await _safe_send(send, messages)


def _seconds_from_now(retry_after: str | None) -> float | None:
    """A Retry-After (delay-seconds or HTTP-date) as seconds from now; parsed here, not by the product."""
    if retry_after is None:
        return None
    if retry_after.isdigit():
        return float(retry_after)
    return email.utils.parsedate_to_datetime(retry_after).timestamp() - time.time()


def http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


def _json_messages(status: int, body: dict, extra_headers: list | None = None) -> list[dict]:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()), *(extra_headers or [])]
    return [{"type": "http.response.start", "status": status, "headers": headers},
            {"type": "http.response.body", "body": raw, "more_body": False}]


async def _safe_send(send, messages: list[dict]) -> None:
    try:
        for message in messages:
            await send(message)
    except Exception:  # the satellite was killed while we held its upload: nobody to answer
        pass


@dataclass
class Receiver(support.Receiver):
    """The reference receiver behind a ``FrontDoor``, with ``CountingStorage``; listening once started."""

    door: FrontDoor | None = None
    recipients: dict = field(default_factory=dict)  # key id -> recipient private key; mutable: a test may drop a key

    def start(self, port: int = 0) -> "Receiver":
        self.server = serve_in_thread(self.door, port=port)
        self.served = self.door
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.door.disarm()
            self.server.stop()
            self.server = None

    def close(self) -> None:
        self.stop()
        self.storage.close()


def make_receiver(directory: Path, key_files: KeyFiles, *, extra_recipients: dict | None = None) -> Receiver:
    storage = CountingStorage(directory)
    recipients = {key_files.recipient_key_id: load_recipient_private(key_files.recipient_private.read_bytes()), **(extra_recipients or {})}
    keys = support.receiver_keys(key_files, recipients=recipients)
    door = FrontDoor(create_receiver_app(storage, keys, max_batch_bytes=8 * support.MiB))
    return Receiver(storage, door=door, recipients=recipients)


@pytest.fixture
def receivers():
    """Receivers made by a test (``receivers.append(r)``) are stopped and closed afterwards."""
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


# --- the simulator -----------------------------------------------------------------------------


class RequestCounter:
    """ASGI wrapper counting the simulator's API requests (control routes aside)."""

    def __init__(self, app) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sim"):
            self.count += 1
        await self.app(scope, receive, send)


@pytest.fixture
def simulators():
    """``simulators(world, profile)`` starts a simulator whose API requests are counted
    (``simulator.served.count``); every one is stopped afterwards."""
    made: list[support.Simulator] = []

    def start(world, profile: str = "2022") -> support.Simulator:
        simulator = support.start_simulator(world, profile, wrap=RequestCounter)
        made.append(simulator)
        return simulator

    yield start
    for simulator in made:
        simulator.stop()


def assert_sent_once(receiver: Receiver) -> None:
    """No record of an immutable stream reached the receiver twice."""
    twice = {key: n for key, n in receiver.storage.received.items() if key[0] in IMMUTABLE_TYPES and n > 1}
    assert not twice, f"{len(twice)} immutable record(s) received more than once, e.g. {sorted(twice.items())[:5]}"


# --- configuration and the satellite process ---------------------------------------------------


FAST_DELIVERY = {"concurrency": 2, "initial_backoff": "1s", "max_backoff": "1s", "auth_retry_interval": "1s", "request_timeout": "30s"}


def write_config(directory: Path, **options) -> Path:
    """``tests.support.write_config`` for this suite: two upload lanes, retries back off at most 1s."""
    return support.write_config(directory, **{"satellite_id": "reliability-satellite", "delivery": FAST_DELIVERY, **options})


class Satellite:
    """``satellite sync --once`` in a subprocess, JSON logs in ``<log>.out``, stderr in ``<log>.err``."""

    def __init__(self, config: Path, log: Path, *args: str) -> None:
        self.out_path, self.err_path = log.with_suffix(".out"), log.with_suffix(".err")
        self._out, self._err = self.out_path.open("wb"), self.err_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "satellite", "--log-format", "json", *args, "sync", "--once", "-c", str(config)],
            stdout=self._out, stderr=self._err, env=satellite_env(), cwd=REPO,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> bool:
        """SIGKILL; True if it was still running."""
        was_alive = self.alive()
        if was_alive:
            self.proc.send_signal(signal.SIGKILL)
        self.wait(10)
        return was_alive

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.returncode is not None:
                self._out.close()
                self._err.close()

    def logs(self) -> list[dict]:
        lines = []
        for line in self.out_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
        return lines

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")


@pytest.fixture
def processes():
    """Start satellites with ``processes.start(config, log)``; every one is killed and reaped afterwards."""

    class Processes(list):
        def start(self, config: Path, log: Path, *args: str) -> Satellite:
            satellite = Satellite(config, log, *args)
            self.append(satellite)
            return satellite

    made = Processes()
    yield made
    for satellite in made:
        if satellite.alive():
            satellite.proc.kill()
        try:
            satellite.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            pass


# --- the satellite's database, read-only ------------------------------------------------------


def query_store(db: Path, sql: str, default=0):
    """One value from the satellite's database through a read-only connection (default if not there yet)."""
    if not db.exists():
        return default
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute(sql).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return default
    return default if not row or row[0] is None else row[0]


@dataclass
class PhaseTally:
    """Kills per phase: reached its condition / timed out waiting / the process had already exited."""

    counts: dict[str, Counter] = field(default_factory=dict)

    def add(self, phase: str, outcome: str) -> None:
        self.counts.setdefault(phase, Counter())[outcome] += 1

    def render(self) -> str:
        return "; ".join(f"{p}: " + ", ".join(f"{o} {n}" for o, n in sorted(c.items())) for p, c in sorted(self.counts.items()))

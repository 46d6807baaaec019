"""SEI's commands end to end, over real sockets: the reference receiver queues signed commands
(``satellite receiver command``), hands them out in its heartbeat answers, the satellite runs each
once and reports it in the next heartbeat, and the receiver's stats show the outcomes. Forged,
expired, replayed and unknown commands are refused with nothing changed; ``remote_commands: false``
refuses all; a v1.0 receiver (an answer without commands) keeps working."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from satellite.config import load_config
from satellite.delivery import build_delivery
from satellite.remote.executor import collection_paused
from satellite.remote.keys import generate_command_key_files
from satellite.remote.verify import new_payload, sign
from satellite.retrying import RetryPolicy
from satellite.sealing.keys import load_ed25519_private
from satellite.store import Store
from satellite.support.archive import unpack
from satellite.sync.once import sync_once
from standins.ado_simulator.world.world import generate_world
from standins.loopback import serve_in_thread
from standins.sei_receiver.commands import CommandQueue
from tests.support import API_KEY, PAT, run_cli, start_simulator, write_config

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_wait=0.01, max_wait=0.05)
SATELLITE = "test-satellite"


@pytest.fixture
def command_key(tmp_path):
    return generate_command_key_files(tmp_path / "command-keys")


@pytest.fixture
def world():
    return generate_world(seed=9, scale="tiny")


def config_for(tmp_path: Path, simulator, endpoint: str, key_files, command_key, env, *, enabled: bool = True):
    extra = (f"  remote_commands: {str(enabled).lower()}\n  command_keys:\n    - key_id: sei-cmd-1\n"
             f"      public_key: ${{file:{command_key.public}}}\n")
    path = write_config(tmp_path, ado_url=simulator.collection_url, endpoint=endpoint, key_files=key_files,
                        services=("repos",), extra_satellite=extra)
    return path, load_config(path, env=env)


def sync(config):
    result = sync_once(config, ado_retry=FAST_RETRY, upload_retry=FAST_RETRY)
    assert result.ok, result.errors
    return result


def beat(config) -> bool:
    """One heartbeat of the satellite (what ``satellite run`` sends every delivery.heartbeat_interval)."""
    store = Store(config.satellite.data_dir)
    try:
        with build_delivery(config, store, started_at=time.time(), retry=FAST_RETRY) as delivery:
            return delivery.heartbeat.send()
    finally:
        store.close()


def queue(receiver, command_key, name: str, args: dict | None = None, *, ttl=timedelta(hours=1), issued=None,
          key=None, key_id: str = "sei-cmd-1", satellite: str = SATELLITE, strip=None) -> tuple[str, dict]:
    """Sign a command (with SEI's key unless ``key``) and queue it in the receiver; (its id, its envelope).
    The receiver hands it out for an hour whatever it says (an expired one too); ``strip``: a field removed."""
    key = key or load_ed25519_private(command_key.private.read_bytes())
    payload = new_payload(satellite, name, args or {}, issued_at=issued or datetime.now(UTC), ttl=ttl)
    envelope = sign(payload, key, key_id)
    if strip is not None:
        envelope = {**envelope, strip: ""}
    CommandQueue(receiver.storage.db_path.parent).enqueue(SATELLITE, envelope, expires_at=time.time() + 3600)
    return payload["id"], envelope


def outcomes(receiver) -> dict[str, dict]:
    return {c["id"]: c for c in receiver.stats()["commands"]}


def store_facts(config) -> dict:
    """What a command could change: cursors, delivered keys, SEI's pause."""
    store = Store(config.satellite.data_dir)
    try:
        return {"partitions": sorted(store.partitions()), "cursors": store.cursor_summaries(),
                "paused": collection_paused(store)}
    finally:
        store.close()


def sent_since(config, since: float) -> Counter:
    store = Store(config.satellite.data_dir)
    try:
        counts: Counter = Counter()
        for row in store.ledger(since):
            counts[row.stream] += row.record_count
        return counts
    finally:
        store.close()


def test_each_command_runs_once_and_is_reported(tmp_path, receiver, key_files, command_key, env, world):
    commits = world.truth()["git.commit"]
    with start_simulator(world) as simulator:
        path, config = config_for(tmp_path, simulator, receiver.url, key_files, command_key, env)
        sync(config)
        # resync through the receiver's CLI, as an operator at SEI would queue it
        cli = run_cli("receiver", "command", "--data-dir", str(receiver.storage.db_path.parent), "--key",
                      str(command_key.private), "--key-id", "sei-cmd-1", "--satellite", SATELLITE, "resync",
                      "--stream", "git.commits", "--since", "2020-01-01")
        assert cli.returncode == 0, cli.stderr
        resync_id = cli.stdout.split()[0]
        pause_id, _ = queue(receiver, command_key, "pause")
        level_id, _ = queue(receiver, command_key, "set_log_level", {"level": "debug", "duration_s": 60})
        bundle_id, _ = queue(receiver, command_key, "upload_support_bundle")
        assert beat(config)  # the answer hands them out; each runs
        facts = store_facts(config)
        assert facts["paused"] is not None and facts["paused"]["command_id"] == pause_id
        assert not any(stream == "git.commits" for _, stream, _ in facts["partitions"])  # forgotten by resync
        before = time.time()
        sync(config)  # paused: collects nothing, delivers what waits (the support bundle's batch)
        assert sent_since(config, before) == Counter({"satellite.support_bundle": 1})
        assert beat(config)  # reports the outcomes
        got = outcomes(receiver)
        assert got[resync_id]["outcome"] == "done" and "git.commits" in got[resync_id]["detail"]
        assert "since 2020-01-01" in got[resync_id]["detail"]
        assert got[pause_id]["outcome"] == got[level_id]["outcome"] == "done"
        assert got[bundle_id]["outcome"] == "done" and "sealed into batch" in got[bundle_id]["detail"]
        assert all(c["handed_out"] == 1 and len(c["reports"]) == 1 for c in got.values())  # once each
        resume_id, _ = queue(receiver, command_key, "resume")
        reconcile_id, _ = queue(receiver, command_key, "reconcile_now", {"integration": "tfs-main"})
        assert beat(config)
        assert store_facts(config)["paused"] is None and store_facts(config)["cursors"] == {}  # resumed, reconciled
        before = time.time()
        sync(config)
        assert sent_since(config, before)["git.commits"] == len(commits)  # the resync's re-send, after the resume
        assert beat(config) and beat(config)
        got = outcomes(receiver)
        assert got[resume_id]["outcome"] == got[reconcile_id]["outcome"] == "done"
        assert all(c["handed_out"] == 1 and len(c["reports"]) == 1 for c in got.values())  # never run again
    status = run_cli("status", "-c", str(path), "--json")
    assert status.returncode == 0, status.stderr
    recent = json.loads(status.stdout)["remote"]["recent"]
    assert {c["id"] for c in recent} >= {resync_id, pause_id, resume_id, reconcile_id}
    assert all(c["reported"] for c in recent)
    table = run_cli("status", "-c", str(path))
    assert "recent SEI commands" in table.stdout and "reconcile_now" in table.stdout and resync_id in table.stdout


def test_a_support_bundle_uploaded_on_command_is_decrypted_by_the_receiver_and_holds_no_secret(
        tmp_path, receiver, key_files, command_key, env, world):
    with start_simulator(world) as simulator:
        _, config = config_for(tmp_path, simulator, receiver.url, key_files, command_key, env)
        sync(config)
        bundle_id, _ = queue(receiver, command_key, "upload_support_bundle", {"log_lines": 50})
        assert beat(config)  # built, sealed into a batch in the outbox
        sync(config)  # delivered with the outbox; the heartbeat reports it
    assert outcomes(receiver)[bundle_id]["outcome"] == "done"
    (op, data), = receiver.records("satellite.support_bundle").values()
    archive = base64.b64decode(data["archive_base64"])
    assert op == "upsert" and data["command_id"] == bundle_id and len(archive) == data["size"]
    assert hashlib.sha256(archive).hexdigest() == data["sha256"]
    members = unpack(archive)
    assert any(name.endswith(("config.yaml", "config.yml")) for name in members), sorted(members)
    signing = key_files.signing_private.read_text().split("-----")[2].strip()
    for name, content in members.items():
        text = content.decode("utf-8", "replace")
        for canary in (PAT, API_KEY, signing[:40]):
            assert canary not in text, f"{canary[:12]}... in {name}"


def test_forged_expired_replayed_and_unknown_commands_are_refused_with_nothing_changed(
        tmp_path, receiver, key_files, command_key, env, world):
    with start_simulator(world) as simulator:
        _, config = config_for(tmp_path, simulator, receiver.url, key_files, command_key, env)
        sync(config)
        genuine, envelope = queue(receiver, command_key, "resume")
        assert beat(config) and beat(config)
        assert outcomes(receiver)[genuine]["outcome"] == "done"
        before = store_facts(config)
        forged, _ = queue(receiver, command_key, "resync", key=Ed25519PrivateKey.generate())  # SEI's key id, not its key
        stranger, _ = queue(receiver, command_key, "pause", key=Ed25519PrivateKey.generate(), key_id="not-sei")
        expired, _ = queue(receiver, command_key, "reconcile_now",
                           issued=datetime.now(UTC) - timedelta(hours=2), ttl=timedelta(hours=1))
        unknown, _ = queue(receiver, command_key, "drop_tables", {"all": True})
        elsewhere, _ = queue(receiver, command_key, "pause", satellite="another-satellite")
        unsigned, _ = queue(receiver, command_key, "pause", strip="signature")
        assert beat(config) and beat(config)
        # the genuine command replayed (a recorded answer sent again): the store remembers its id
        replay = CommandQueue(tmp_path / "replay")
        replay.enqueue(SATELLITE, envelope)
        with serve_in_thread(_replaying_receiver(replay)) as replaying:
            replay_config = load_config(write_config(tmp_path, ado_url=simulator.collection_url, endpoint=replaying.url,
                                                     key_files=key_files, services=("repos",),
                                                     extra_satellite=_extra(command_key), name="replay.yml"), env=env)
            assert beat(replay_config)
        assert beat(config)
        assert store_facts(config) == before  # nothing changed
    got = outcomes(receiver)
    reasons = {name: (got[i]["outcome"], got[i]["reason"]) for name, i in
               (("forged", forged), ("stranger", stranger), ("expired", expired), ("unknown", unknown),
                ("elsewhere", elsewhere))}
    assert reasons == {"forged": ("refused", "bad_signature"), "stranger": ("refused", "unknown_key"),
                       "expired": ("refused", "expired"), "unknown": ("refused", "unknown_command"),
                       "elsewhere": ("refused", "wrong_satellite")}
    assert got[unsigned]["reason"] == "unsigned"
    # the replay's refusal goes with the next heartbeat (to SEI); the command's outcome stays its first
    assert got[genuine]["outcome"] == "done"
    assert [(r["outcome"], r["reason"]) for r in got[genuine]["reports"]] == [("done", None), ("refused", "replayed")]


def _extra(command_key) -> str:
    return (f"  command_keys:\n    - key_id: sei-cmd-1\n      public_key: ${{file:{command_key.public}}}\n")


def _replaying_receiver(queue: CommandQueue) -> Starlette:
    """A receiver answering every heartbeat with what ``queue`` holds (as a replayed answer would)."""

    async def heartbeat(request: Request) -> JSONResponse:
        body = await request.json()
        queue.record_outcomes(body["satellite_id"], body.get("command_outcomes"))
        return JSONResponse({"ok": True, "protocol": "1.1", "commands": queue.hand_out(body["satellite_id"])})

    return Starlette(routes=[Route("/v1/satellite/heartbeat", heartbeat, methods=["POST"])])


def test_remote_commands_false_refuses_every_command(tmp_path, receiver, key_files, command_key, env, world):
    with start_simulator(world) as simulator:
        _, config = config_for(tmp_path, simulator, receiver.url, key_files, command_key, env, enabled=False)
        sync(config)
        before = store_facts(config)
        ids = [queue(receiver, command_key, name, args)[0] for name, args in
               (("pause", {}), ("resync", {}), ("reconcile_now", {}), ("set_log_level", {"level": "debug"}))]
        assert beat(config) and beat(config)
        assert store_facts(config) == before
    got = outcomes(receiver)
    assert [(got[i]["outcome"], got[i]["reason"]) for i in ids] == [("refused", "disabled")] * 4
    heartbeat = receiver.stats()["satellites"][SATELLITE]
    assert heartbeat["protocol"] == "1.1" and heartbeat["remote_commands"]["enabled"] is False


@pytest.mark.parametrize("answer", ["json", "text", "empty"])
def test_a_v1_0_receiver_keeps_working(tmp_path, receiver, key_files, command_key, env, answer):
    """A receiver of protocol v1.0 answers {"ok": true} (or anything): no commands, nothing fails."""
    bodies: list[dict] = []

    async def heartbeat(request: Request):
        bodies.append(await request.json())
        if answer == "json":
            return JSONResponse({"ok": True})
        return PlainTextResponse("ok" if answer == "text" else "")

    with serve_in_thread(Starlette(routes=[Route("/v1/satellite/heartbeat", heartbeat, methods=["POST"])])) as old:
        path = write_config(tmp_path, ado_url="http://127.0.0.1:9/tfs/DefaultCollection", endpoint=old.url,
                            key_files=key_files, extra_satellite=_extra(command_key))
        config = load_config(path, env=env)
        assert beat(config) and beat(config)
    assert len(bodies) == 2 and bodies[0]["command_outcomes"] == [] and bodies[0]["satellite_id"] == SATELLITE
    status = run_cli("status", "-c", str(path), "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["remote"]["recent"] == []


def test_the_running_agent_pauses_and_reconciles_on_command(tmp_path, receiver, key_files, command_key, env, world):
    """``satellite run``: its heartbeat runs SEI's pause (its jobs then skip collection) and
    reconcile_now (the integration's jobs run now: skipped while paused), and reports both."""
    from standins.ado_simulator.app import create_app
    from tests.integration.test_agent import AgentProcess, agent_config
    from tests.support import PAT, wait_until

    with serve_in_thread(create_app(world, pats={PAT: frozenset({"full"})})) as simulator:
        path = agent_config(tmp_path, simulator.url, receiver.url, key_files, interval="1h")
        path.write_text(path.read_text().replace("  data_dir: ./data\n", "  data_dir: ./data\n" + _extra(command_key)))
        agent = AgentProcess(path, env, tmp_path / "agent.log")
        try:
            finished = lambda: [e for e in agent.events() if e["event"] == "job_finished"]
            wait_until(lambda: len(finished()) >= 4, 60, "the first runs of the agent's jobs")
            pause_id, _ = queue(receiver, command_key, "pause")
            reconcile_id, _ = queue(receiver, command_key, "reconcile_now")
            wait_until(lambda: any(e["event"] == "reconciliation_started" for e in agent.events()), 30,
                       "the reconciliation SEI asked for")
            wait_until(lambda: any(e["event"] == "job_skipped" for e in agent.events()), 30,
                       "the reconciliation's jobs skipped while paused")

            def both_reported() -> dict | None:
                got = outcomes(receiver)
                return got if got[pause_id]["outcome"] and got[reconcile_id]["outcome"] else None

            got = wait_until(both_reported, 30, "the next heartbeat to report both")
            assert got[pause_id]["outcome"] == got[reconcile_id]["outcome"] == "done"
            assert "its jobs run now" in got[reconcile_id]["detail"]
        finally:
            code = agent.stop()
    assert code == 0

"""SEI's remote commands without the network: the canonical encoding, every refusal (nothing changes,
an outcome with its reason is kept to report), at most once, and what each command does."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from satellite.remote.channel import CommandChannel
from satellite.remote.commands import (
    OutcomeKind,
    Reason,
    Refused,
    parse_action,
    parse_payload,
)
from satellite.remote.executor import PAUSED_BY_SEI, collection_paused
from satellite.remote.verify import SIGNING_CONTEXT, canonical_json, new_payload, sign
from satellite.store import CursorKey, Store
from satellite.store.commands import CommandJournal

SATELLITE = "sat-1"
KEY_ID = "sei-cmd-1"


def _pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def sei_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def make_config(tmp_path, keys: dict[str, Ed25519PrivateKey], enabled: bool = True):
    settings = SimpleNamespace(id=SATELLITE, remote_commands=enabled, data_dir=tmp_path / "data",
                               command_keys=[SimpleNamespace(key_id=k, public_key=_pem(v)) for k, v in keys.items()])
    return SimpleNamespace(satellite=settings, integrations=[SimpleNamespace(id="tfs-main")])


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path / "data")
    yield opened
    opened.close()


def channel_of(tmp_path, store, keys, enabled=True, reconcile=None) -> CommandChannel:
    return CommandChannel.from_config(make_config(tmp_path, keys, enabled), store, reconcile=reconcile)


def command(name="pause", args=None, *, key=None, satellite=SATELLITE, ttl=timedelta(hours=1), issued=None, command_id=None):
    payload = new_payload(satellite, name, args or {}, issued_at=issued or datetime.now(UTC), ttl=ttl,
                          command_id=command_id)
    return payload, sign(payload, key, KEY_ID)


def assert_refused(channel, store, envelope, reason: Reason, *, verified: bool):
    outcome = channel.handle(envelope)
    assert (outcome.outcome, outcome.reason, outcome.verified) == (OutcomeKind.REFUSED, reason.value, verified), outcome
    assert store.get_state(PAUSED_BY_SEI) is None  # nothing changed
    fields, _ = channel.heartbeat_fields()
    assert fields["command_outcomes"][-1]["reason"] == reason.value  # kept to report
    return outcome


# --- the encoding --------------------------------------------------------------------------------


def test_canonical_json_sorts_keys_drops_whitespace_keeps_non_ascii_and_refuses_floats():
    assert canonical_json({"b": [1, True, None], "a": "é"}) == '{"a":"é","b":[1,true,null]}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"a": 1.5})


def test_the_signature_covers_the_context_and_the_payload_bytes(sei_key):
    payload, envelope = command(key=sei_key)
    data = base64.b64decode(envelope["payload"])
    assert data == canonical_json(payload)
    sei_key.public_key().verify(base64.b64decode(envelope["signature"]), SIGNING_CONTEXT + data)


# --- refusals ------------------------------------------------------------------------------------


def test_disabled_refuses_a_genuine_command(tmp_path, store, sei_key):
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key}, enabled=False)
    payload, envelope = command(key=sei_key)
    outcome = assert_refused(channel, store, envelope, Reason.DISABLED, verified=False)
    assert outcome.command_id == payload["id"] and outcome.name == "pause"


@pytest.mark.parametrize("envelope", [
    "not an object",
    {"key_id": KEY_ID, "payload": "%%%", "signature": base64.b64encode(b"x" * 64).decode()},
    {"key_id": KEY_ID, "signature": base64.b64encode(b"x" * 64).decode()},
])
def test_malformed_envelopes_are_refused(tmp_path, store, sei_key, envelope):
    assert_refused(channel_of(tmp_path, store, {KEY_ID: sei_key}), store, envelope, Reason.MALFORMED, verified=False)


def test_unsigned_commands_are_refused(tmp_path, store, sei_key):
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    _, envelope = command(key=sei_key)
    assert_refused(channel, store, {**envelope, "signature": ""}, Reason.UNSIGNED, verified=False)
    assert_refused(channel, store, {k: v for k, v in envelope.items() if k != "key_id"}, Reason.UNSIGNED, verified=False)


def test_a_key_not_configured_is_refused(tmp_path, store, sei_key):
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    _, envelope = command(key=Ed25519PrivateKey.generate())
    assert_refused(channel, store, {**envelope, "key_id": "someone-else"}, Reason.UNKNOWN_KEY, verified=False)
    nobody = channel_of(tmp_path, store, {})
    assert_refused(nobody, store, command(key=sei_key)[1], Reason.UNKNOWN_KEY, verified=False)


def test_forged_and_tampered_commands_are_refused(tmp_path, store, sei_key):
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    _, forged = command(key=Ed25519PrivateKey.generate())  # the right key id, another key
    assert_refused(channel, store, forged, Reason.BAD_SIGNATURE, verified=False)
    payload, envelope = command(key=sei_key)
    tampered = canonical_json({**payload, "satellite_id": SATELLITE, "args": {"duration_s": 5}})
    assert_refused(channel, store, {**envelope, "payload": base64.b64encode(tampered).decode()}, Reason.BAD_SIGNATURE,
                   verified=False)


def test_a_signed_payload_not_in_canonical_form_is_refused(tmp_path, store, sei_key):
    payload, _ = command(key=sei_key)
    data = json.dumps(payload, indent=1).encode()
    envelope = {"key_id": KEY_ID, "payload": base64.b64encode(data).decode(),
                "signature": base64.b64encode(sei_key.sign(SIGNING_CONTEXT + data)).decode()}
    assert_refused(channel_of(tmp_path, store, {KEY_ID: sei_key}), store, envelope, Reason.MALFORMED, verified=True)


def test_a_command_for_another_satellite_is_refused(tmp_path, store, sei_key):
    _, envelope = command(key=sei_key, satellite="sat-2")
    assert_refused(channel_of(tmp_path, store, {KEY_ID: sei_key}), store, envelope, Reason.WRONG_SATELLITE, verified=True)


def test_expired_and_future_commands_are_refused(tmp_path, store, sei_key):
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    past = datetime.now(UTC) - timedelta(hours=2)
    assert_refused(channel, store, command(key=sei_key, issued=past)[1], Reason.EXPIRED, verified=True)
    future = datetime.now(UTC) + timedelta(hours=2)
    assert_refused(channel, store, command(key=sei_key, issued=future)[1], Reason.NOT_YET_VALID, verified=True)


def test_a_replayed_command_is_refused_and_runs_once(tmp_path, store, sei_key):
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    _, envelope = command(key=sei_key)
    assert channel.handle(envelope).outcome is OutcomeKind.DONE
    store.set_state(PAUSED_BY_SEI, None)
    assert_refused(channel, store, envelope, Reason.REPLAYED, verified=True)
    again = channel_of(tmp_path, store, {KEY_ID: sei_key})  # the store remembers it: a restart changes nothing
    assert_refused(again, store, envelope, Reason.REPLAYED, verified=True)


def test_unknown_commands_and_bad_arguments_are_refused(tmp_path, store, sei_key):
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    assert_refused(channel, store, command("format_disk", key=sei_key)[1], Reason.UNKNOWN_COMMAND, verified=True)
    for args in ({"duration_s": "1h"}, {"duration_s": 0}, {"forever": True}):
        assert_refused(channel, store, command("pause", args, key=sei_key)[1], Reason.BAD_ARGUMENTS, verified=True)
    assert_refused(channel, store, command("set_log_level", {}, key=sei_key)[1], Reason.BAD_ARGUMENTS, verified=True)


def test_payload_fields_are_strict():
    good = new_payload(SATELLITE, "resume", {}, issued_at=datetime.now(UTC), ttl=timedelta(hours=1))
    for broken in ({**good, "extra": 1}, {k: v for k, v in good.items() if k != "expires_at"},
                   {**good, "expires_at": "tomorrow"}, {**good, "id": ""}, {**good, "expires_at": good["issued_at"]}):
        with pytest.raises(Refused) as raised:
            parse_payload(broken)
        assert raised.value.reason is Reason.MALFORMED
    assert parse_action(parse_payload({**good, "name": "resync", "args": {"streams": ["git.commits"], "since": "2026-11-01"}}))


# --- what runs -----------------------------------------------------------------------------------


def test_pause_resume_reconcile_log_level_and_the_missing_support_bundle(tmp_path, store, sei_key):
    reconciled: list[str] = []
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key}, reconcile=reconciled.append)
    assert channel.handle(command("pause", {"duration_s": 600}, key=sei_key)[1]).outcome is OutcomeKind.DONE
    paused = collection_paused(store)
    assert paused is not None and paused["until"] is not None
    assert channel.handle(command("resume", key=sei_key)[1]).detail == "collection resumed"
    assert collection_paused(store) is None
    assert channel.handle(command("reconcile_now", key=sei_key)[1]).outcome is OutcomeKind.DONE
    assert reconciled == ["tfs-main"]
    failed = channel.handle(command("reconcile_now", {"integration": "nope"}, key=sei_key)[1])
    assert (failed.outcome, failed.reason) == (OutcomeKind.FAILED, "bad_selection")
    bundle = channel.handle(command("upload_support_bundle", key=sei_key)[1])
    assert (bundle.outcome, bundle.reason) == (OutcomeKind.UNSUPPORTED, "not_available")
    before = structlog.get_config()["wrapper_class"]
    assert channel.handle(command("set_log_level", {"level": "debug", "duration_s": 60}, key=sei_key)[1]).outcome is OutcomeKind.DONE
    assert structlog.get_config()["wrapper_class"] is not before
    channel.executor.log_levels.restore()
    assert structlog.get_config()["wrapper_class"] is before


def test_reconcile_without_an_agent_resets_the_cursors(tmp_path, store, sei_key):
    store.save_cursor(CursorKey("tfs-main", "git.commits", "c/r"), "{}")
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    assert channel.handle(command("reconcile_now", key=sei_key)[1]).outcome is OutcomeKind.DONE
    assert store.get_cursor(CursorKey("tfs-main", "git.commits", "c/r")) is None


def test_rotation_two_keys_verify(tmp_path, store, sei_key):
    newer = Ed25519PrivateKey.generate()
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key, "sei-cmd-2": newer})
    assert channel.handle(command("resume", key=sei_key)[1]).outcome is OutcomeKind.DONE
    payload, _ = command("resume", key=newer)
    assert channel.handle(sign(payload, newer, "sei-cmd-2")).outcome is OutcomeKind.DONE


def test_outcomes_are_reported_until_a_heartbeat_carried_them(tmp_path, store, sei_key):
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    assert channel.handle_answer({"ok": True}) == []  # a v1.0 answer
    assert channel.handle_answer(None) == []
    channel.handle_answer({"commands": [command("resume", key=sei_key)[1]]})
    fields, carried = channel.heartbeat_fields()
    assert fields["protocol"] == "1.1" and fields["remote_commands"] == {"enabled": True, "key_ids": [KEY_ID]}
    assert [o["name"] for o in fields["command_outcomes"]] == ["resume"] and len(carried) == 1
    assert channel.heartbeat_fields()[1] == carried  # not reported yet: carried again
    channel.reported(carried)
    assert channel.heartbeat_fields()[0]["command_outcomes"] == []


def test_a_command_running_when_the_process_died_is_reported_interrupted_and_not_run_again(tmp_path, store, sei_key):
    payload, envelope = command(key=sei_key)
    journal = CommandJournal(store)
    assert journal.claim(payload["id"], "pause", KEY_ID, 2e9, 0.0) is not None  # claimed, then the process died
    channel = channel_of(tmp_path, store, {KEY_ID: sei_key})
    outcomes = channel.heartbeat_fields()[0]["command_outcomes"]
    assert [(o["id"], o["outcome"]) for o in outcomes] == [(payload["id"], "interrupted")]
    assert_refused(channel, store, envelope, Reason.REPLAYED, verified=True)

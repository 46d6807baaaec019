"""SEI's commands as typed values: the signed payload (``SignedCommand``), what each command asks
(``Resync``, ``Pause``...), why one is refused (``Reason``) and how one ended (``Outcome``).

Pure: parsing only, no I/O, no clock (the caller passes ``now``). Every parse error is a
``Refused`` with a ``Reason``; its message names the field, never echoes a long value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

__all__ = [
    "COMMANDS",
    "LOG_LEVELS",
    "PAYLOAD_FIELDS",
    "Action",
    "Outcome",
    "OutcomeKind",
    "Pause",
    "Reason",
    "ReconcileNow",
    "Refused",
    "Resume",
    "Resync",
    "SetLogLevel",
    "SignedCommand",
    "UploadSupportBundle",
    "format_time",
    "parse_action",
    "parse_payload",
    "parse_time",
]

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
PAYLOAD_FIELDS = frozenset({"id", "satellite_id", "name", "args", "issued_at", "expires_at"})
LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_PAUSE_S = 30 * 86400
MAX_LOG_LEVEL_S = 86400
DEFAULT_LOG_LEVEL_S = 3600
MAX_LOG_LINES = 100_000
ISSUED_SKEW_S = 300  # a command issued this far in the future (clocks apart) is still taken


class Reason(str, Enum):
    """Why a command was refused: the stable code reported to SEI (``reason``)."""

    DISABLED = "disabled"  # satellite.remote_commands: false
    MALFORMED = "malformed"  # not an envelope, a payload not in canonical form, a missing or bad field
    UNSIGNED = "unsigned"  # no signature or no key id
    UNKNOWN_KEY = "unknown_key"  # signed by a key not in satellite.command_keys
    BAD_SIGNATURE = "bad_signature"  # the signature does not verify with the named key
    WRONG_SATELLITE = "wrong_satellite"  # signed for another satellite id
    EXPIRED = "expired"  # expires_at has passed
    NOT_YET_VALID = "not_yet_valid"  # issued_at more than ISSUED_SKEW_S ahead of this satellite's clock
    REPLAYED = "replayed"  # this command id was taken before (it runs at most once)
    UNKNOWN_COMMAND = "unknown_command"  # a name this release does not know
    BAD_ARGUMENTS = "bad_arguments"  # arguments the command does not take, or of the wrong type


class Refused(Exception):
    """A command refused before it ran; ``command_id``/``name`` when they could be read."""

    def __init__(self, reason: Reason, detail: str, *, command_id: str | None = None, name: str | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.command_id = command_id
        self.name = name
        self.verified = False  # True: refused after its signature verified (``verify`` sets it)


class OutcomeKind(str, Enum):
    """How a command ended (``outcome``)."""

    DONE = "done"
    FAILED = "failed"  # it ran and could not do what it asked (e.g. an unknown stream to resync)
    REFUSED = "refused"  # it did not run (``reason`` says why)
    UNSUPPORTED = "unsupported"  # verified, but this satellite cannot do it (``reason`` says why)
    INTERRUPTED = "interrupted"  # the process ended while it ran; it is not run again


@dataclass(frozen=True, slots=True)
class Outcome:
    """One command's end, as reported in the heartbeat's ``command_outcomes``."""

    command_id: str | None
    name: str | None
    outcome: OutcomeKind
    reason: str | None
    detail: str
    received_at: float
    finished_at: float
    verified: bool = True  # False: refused before its signature was checked (id and name as claimed)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.command_id, "name": self.name, "outcome": self.outcome.value, "reason": self.reason,
                "detail": self.detail, "verified": self.verified, "received_at": round(self.received_at, 3),
                "finished_at": round(self.finished_at, 3)}


@dataclass(frozen=True, slots=True)
class SignedCommand:
    """The verified payload: who it is for, what it asks, when it is valid."""

    id: str
    satellite_id: str
    name: str
    args: Mapping[str, Any]
    issued_at: datetime
    expires_at: datetime

    def check_time(self, now: datetime) -> None:
        """Raises Refused(EXPIRED / NOT_YET_VALID) unless ``now`` is within the command's validity."""
        if now >= self.expires_at:
            raise Refused(Reason.EXPIRED, f"expired at {format_time(self.expires_at)}", command_id=self.id, name=self.name)
        if (self.issued_at - now).total_seconds() > ISSUED_SKEW_S:
            raise Refused(Reason.NOT_YET_VALID, f"issued at {format_time(self.issued_at)}, ahead of this satellite's clock",
                          command_id=self.id, name=self.name)


@dataclass(frozen=True, slots=True)
class Resync:
    """Forget a selection's cursors and delivered keys (``satellite resync``); None/empty: any."""

    integration: str | None = None
    streams: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    since: date | None = None  # what SEI needs again; the re-read starts at the beginning, which covers it


@dataclass(frozen=True, slots=True)
class Pause:
    """Collection pauses (delivery goes on) until ``resume`` or for ``duration_s``."""

    duration_s: int | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """Collection resumes after a ``pause``."""


@dataclass(frozen=True, slots=True)
class SetLogLevel:
    """The process logs at ``level`` for ``duration_s``, then at its configured level again."""

    level: str
    duration_s: int = DEFAULT_LOG_LEVEL_S


@dataclass(frozen=True, slots=True)
class UploadSupportBundle:
    """Build a support bundle, seal it to SEI's key and send it like a batch."""

    log_lines: int | None = None


@dataclass(frozen=True, slots=True)
class ReconcileNow:
    """A full reconciliation now: the integration's cursors reset and its jobs run (None: every integration)."""

    integration: str | None = None


Action = Resync | Pause | Resume | SetLogLevel | UploadSupportBundle | ReconcileNow


def parse_time(value: object, field: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds) as an aware datetime."""
    if not isinstance(value, str) or not TIME_PATTERN.match(value):
        raise ValueError(f"{field} must be a UTC time YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{field} is not a valid time") from None


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_payload(payload: object) -> SignedCommand:
    """The command of a verified payload (a JSON object).

    Raises:
        Refused: MALFORMED (a field missing, unknown or of the wrong form).
    """
    if not isinstance(payload, dict):
        raise Refused(Reason.MALFORMED, "the payload is not a JSON object")
    ident = payload.get("id")
    command_id = ident if isinstance(ident, str) and ID_PATTERN.match(ident) else None
    name = payload.get("name") if isinstance(payload.get("name"), str) else None

    def bad(detail: str) -> Refused:
        return Refused(Reason.MALFORMED, detail, command_id=command_id, name=name)

    missing, unknown = PAYLOAD_FIELDS - payload.keys(), payload.keys() - PAYLOAD_FIELDS
    if missing or unknown:
        raise bad(f"payload fields: missing {sorted(missing)}, unknown {sorted(unknown)[:5]}")
    if command_id is None:
        raise bad("id must be 1-128 characters of A-Z a-z 0-9 . _ : - (starting with a letter or digit)")
    if not isinstance(payload["satellite_id"], str) or not payload["satellite_id"]:
        raise bad("satellite_id must be a non-empty string")
    if name is None or not name:
        raise bad("name must be a non-empty string")
    if not isinstance(payload["args"], dict):
        raise bad("args must be a JSON object")
    try:
        issued, expires = parse_time(payload["issued_at"], "issued_at"), parse_time(payload["expires_at"], "expires_at")
    except ValueError as exc:
        raise bad(str(exc)) from None
    if expires <= issued:
        raise bad("expires_at must be after issued_at")
    return SignedCommand(command_id, payload["satellite_id"], name, dict(payload["args"]), issued, expires)


def parse_action(command: SignedCommand) -> Action:
    """What a command asks.

    Raises:
        Refused: UNKNOWN_COMMAND (a name this release does not know), BAD_ARGUMENTS.
    """
    parser = _PARSERS.get(command.name)
    if parser is None:
        raise Refused(Reason.UNKNOWN_COMMAND, f"unknown command (this release knows: {', '.join(COMMANDS)})",
                      command_id=command.id, name=command.name)
    args = _Args(command)
    action = parser(args)
    args.done()
    return action


class _Args:
    """Reads a command's arguments once each; ``done()`` refuses any left unread."""

    def __init__(self, command: SignedCommand) -> None:
        self._command = command
        self._left = dict(command.args)

    def bad(self, detail: str) -> Refused:
        return Refused(Reason.BAD_ARGUMENTS, detail, command_id=self._command.id, name=self._command.name)

    def text(self, key: str, *, choices: tuple[str, ...] | None = None, required: bool = False) -> str | None:
        value = self._left.pop(key, None)
        if value is None:
            if required:
                raise self.bad(f"{key} is required")
            return None
        if not isinstance(value, str) or not value or len(value) > 256:
            raise self.bad(f"{key} must be a non-empty string")
        if choices is not None and value not in choices:
            raise self.bad(f"{key} must be one of {', '.join(choices)}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self._left.pop(key, None)
        if value is None:
            return ()
        if not isinstance(value, list) or not value or len(value) > 100 or not all(
                isinstance(v, str) and v and len(v) <= 256 for v in value):
            raise self.bad(f"{key} must be a non-empty list of strings")
        return tuple(dict.fromkeys(value))

    def seconds(self, key: str, low: int, high: int) -> int | None:
        value = self._left.pop(key, None)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.bad(f"{key} must be an integer from {low} to {high}")
        return value

    def day(self, key: str) -> date | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise self.bad(f"{key} must be a date YYYY-MM-DD") from None

    def done(self) -> None:
        if self._left:
            raise self.bad(f"{self._command.name} does not take {', '.join(sorted(self._left)[:5])}")


def _resync(args: _Args) -> Resync:
    return Resync(args.text("integration"), args.texts("streams"), args.texts("projects"), args.day("since"))


def _set_log_level(args: _Args) -> SetLogLevel:
    level = args.text("level", choices=LOG_LEVELS, required=True)
    duration = args.seconds("duration_s", 60, MAX_LOG_LEVEL_S)
    return SetLogLevel(level, DEFAULT_LOG_LEVEL_S if duration is None else duration)  # type: ignore[arg-type]


_PARSERS = {
    "resync": _resync,
    "pause": lambda args: Pause(args.seconds("duration_s", 1, MAX_PAUSE_S)),
    "resume": lambda args: Resume(),
    "set_log_level": _set_log_level,
    "upload_support_bundle": lambda args: UploadSupportBundle(args.seconds("log_lines", 0, MAX_LOG_LINES)),
    "reconcile_now": lambda args: ReconcileNow(args.text("integration")),
}
COMMANDS: tuple[str, ...] = tuple(_PARSERS)

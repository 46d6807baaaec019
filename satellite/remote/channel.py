"""The remote-commands channel of the heartbeat: the commands of an answer verified, each id claimed
once, run, and its outcome kept in the store until a heartbeat SEI accepted has carried it.

    answer["commands"][i] -> disabled? -> verify (key, signature, payload, satellite, time)
        -> claim the id (replayed?) -> parse the action (unknown command? arguments?) -> run
        -> outcome row -> the next heartbeat's "command_outcomes" -> reported
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from satellite.remote.commands import (
    Outcome,
    OutcomeKind,
    Reason,
    Refused,
    parse_action,
)
from satellite.remote.executor import Executor, SupportBundleHook
from satellite.remote.verify import CommandKeys, parse_envelope, peek, verify
from satellite.store import Store
from satellite.store.commands import CommandJournal, CommandRow

__all__ = ["MAX_COMMANDS_PER_ANSWER", "PROTOCOL_VERSION", "CommandChannel"]

log = structlog.get_logger(__name__)

PROTOCOL_VERSION = "1.1"
MAX_COMMANDS_PER_ANSWER = 20  # more in one answer are left for the next (SEI hands out what has no outcome)


class CommandChannel:
    """One process's channel: ``settings`` is the config's ``satellite:`` section."""

    def __init__(self, settings: Any, journal: CommandJournal, executor: Executor,
                 clock: Callable[[], float] = time.time) -> None:
        self.enabled: bool = settings.remote_commands
        self.satellite_id: str = settings.id
        self.keys = CommandKeys.from_settings(settings.command_keys)
        self.journal = journal
        self.executor = executor
        self._clock = clock

    @classmethod
    def from_config(cls, config: Any, store: Store, *, reconcile: Callable[[str], None] | None = None,
                    support_bundle: SupportBundleHook | None = None) -> CommandChannel:
        """For a process holding the data dir (``sync``, ``run``): a command a previous process left
        running is reported ``interrupted`` (it is not run again)."""
        journal = CommandJournal(store)
        if journal.interrupt_running("the satellite stopped while it ran; it is not run again"):
            log.warning("remote_command_interrupted", hint="reported to SEI; send a new command to run it again")
        return cls(config.satellite, journal, Executor(config, store, reconcile=reconcile, support_bundle=support_bundle))

    # the heartbeat --------------------------------------------------------------------------

    def heartbeat_fields(self) -> tuple[dict[str, Any], list[int]]:
        """The v1.1 fields of the heartbeat body, and the outcome rows they carry (``reported``)."""
        rows = self.journal.unreported()
        fields = {
            "protocol": PROTOCOL_VERSION,
            "remote_commands": {"enabled": self.enabled, "key_ids": sorted(self.keys.keys)},
            "command_outcomes": [_outcome(row).to_json() for row in rows],
        }
        return fields, [row.seq for row in rows]

    def reported(self, seqs: list[int]) -> None:
        """SEI accepted a heartbeat carrying these outcomes."""
        self.journal.mark_reported(seqs, self._clock())

    def handle_answer(self, answer: object) -> list[Outcome]:
        """Run the commands of a heartbeat answer (a v1.0 answer has none)."""
        commands = answer.get("commands") if isinstance(answer, dict) else None
        if commands is None:
            return []
        if not isinstance(commands, list):
            log.warning("remote_commands_unreadable", hint="the heartbeat answer's commands is not a list: ignored")
            return []
        return [self.handle(entry) for entry in commands[:MAX_COMMANDS_PER_ANSWER]]

    # one command ------------------------------------------------------------------------------

    def handle(self, entry: object) -> Outcome:
        """Verify, claim, run and record one envelope; its outcome."""
        received = self._clock()
        seq: int | None = None
        try:
            if not self.enabled:
                command_id, name = peek(entry)
                raise Refused(Reason.DISABLED, "remote commands are off (satellite.remote_commands: false)",
                              command_id=command_id, name=name)
            envelope = parse_envelope(entry)
            command = verify(envelope, self.keys, self.satellite_id, datetime.fromtimestamp(received, UTC))
            seq = self.journal.claim(command.id, command.name, envelope.key_id, command.expires_at.timestamp(), received)
            if seq is None:
                refused = Refused(Reason.REPLAYED, "this command id was taken before: a command runs at most once",
                                  command_id=command.id, name=command.name)
                refused.verified = True
                raise refused
            try:
                action = parse_action(command)
            except Refused as refused:
                refused.verified = True
                raise
        except Refused as refused:
            if refused.command_id is None and not refused.verified:
                refused.command_id, refused.name = peek(entry)
            outcome = Outcome(refused.command_id, refused.name, OutcomeKind.REFUSED, refused.reason.value, refused.detail,
                              received, self._clock(), refused.verified)
            if seq is None:
                self.journal.record(outcome.command_id, outcome.name, outcome.outcome.value, outcome.reason, outcome.detail,
                                    outcome.verified, received, outcome.finished_at)
            else:
                self.journal.finish(seq, outcome.outcome.value, outcome.reason, outcome.detail, outcome.finished_at)
            log.warning("remote_command_refused", command=outcome.command_id, name=outcome.name, reason=outcome.reason,
                        detail=outcome.detail)
            return outcome
        log.info("remote_command_started", command=command.id, name=command.name, key_id=envelope.key_id)
        result = self.executor.run(action, command.id)
        outcome = Outcome(command.id, command.name, result.outcome, result.reason, result.detail, received, self._clock())
        self.journal.finish(seq, outcome.outcome.value, outcome.reason, outcome.detail, outcome.finished_at)
        log.info("remote_command_finished", command=command.id, name=command.name, outcome=outcome.outcome.value,
                 reason=outcome.reason, detail=outcome.detail)
        return outcome


def _outcome(row: CommandRow) -> Outcome:
    return Outcome(row.command_id, row.name, OutcomeKind(row.outcome), row.reason, row.detail, row.received_at,
                   row.finished_at or row.received_at, row.verified)

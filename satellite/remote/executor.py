"""What each verified command does to this satellite (the I/O of the remote-commands channel).

    resync                 satellite resync's selection forgotten (satellite.sync.resync)
    pause / resume         collection paused (delivery goes on) in the store's agent_state
    set_log_level          the process's log level for a while, then the level it had
    upload_support_bundle  the support-bundle hook (bundle_upload.py: built, sealed, sent with the outbox;
                           an executor without one answers "unsupported")
    reconcile_now          a full reconciliation: cursors reset, the agent's jobs run now
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from satellite.log import redact_text
from satellite.remote.commands import (
    Action,
    OutcomeKind,
    Pause,
    ReconcileNow,
    Resume,
    Resync,
    SetLogLevel,
    UploadSupportBundle,
)
from satellite.store import Store

__all__ = ["PAUSED_BY_SEI", "Executor", "LogLevels", "Result", "SupportBundleHook", "collection_paused"]

log = structlog.get_logger(__name__)

PAUSED_BY_SEI = "collection_paused_by_sei"  # agent_state: {"since", "until" (None: until resume), "command_id"}

SupportBundleHook = Callable[[UploadSupportBundle, str], str]
"""(the command, its id) -> what was sent (the detail reported); raises on failure. The support-bundle
builder plugs in here: ``Executor(support_bundle=...)``."""


@dataclass(frozen=True, slots=True)
class Result:
    outcome: OutcomeKind
    reason: str | None
    detail: str


def collection_paused(store: Store, now: float | None = None) -> dict[str, Any] | None:
    """The pause SEI asked for, if collection is paused now (``since``, ``until``, ``command_id``)."""
    text = store.get_state(PAUSED_BY_SEI)
    if not text:
        return None
    pause = json.loads(text)
    until = pause.get("until")
    if until is not None and (time.time() if now is None else now) >= until:
        return None
    return pause


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LogLevels:
    """The process's log level, set for a while then put back (structlog's filtering level)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._baseline: Any = None
        self._timer: threading.Timer | None = None

    def set_for(self, level: str, seconds: float) -> None:
        import logging

        numeric = logging.getLevelName(level.upper())
        with self._lock:
            if self._timer is None:
                self._baseline = structlog.get_config()["wrapper_class"]
            else:
                self._timer.cancel()
            structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(numeric))
            self._timer = threading.Timer(seconds, self.restore)
            self._timer.daemon = True
            self._timer.start()

    def restore(self) -> None:
        with self._lock:
            if self._timer is None:
                return
            self._timer.cancel()
            self._timer = None
            structlog.configure(wrapper_class=self._baseline)
        log.info("log_level_restored")


class Executor:
    """Runs verified commands against one satellite (its config and store).

    ``reconcile``: the agent's own reconciliation of an integration id (its cursors reset and its
    jobs run now); without it (``sync``) the cursors are reset and the next run reconciles.
    ``support_bundle``: builds and sends the bundle; without it the command is ``unsupported``.
    """

    def __init__(self, config: Any, store: Store, *, reconcile: Callable[[str], None] | None = None,
                 support_bundle: SupportBundleHook | None = None, log_levels: LogLevels | None = None) -> None:
        self.config = config
        self.store = store
        self.reconcile = reconcile
        self.support_bundle = support_bundle
        self.log_levels = log_levels or LogLevels()

    def run(self, action: Action, command_id: str) -> Result:
        """Run one command; a failure is a FAILED result, never raised."""
        try:
            return self._run(action, command_id)
        except Exception as exc:  # noqa: BLE001 - reported to SEI as the command's outcome
            log.error("remote_command_failed", command=command_id, error=f"{exc.__class__.__name__}: {exc}")
            return Result(OutcomeKind.FAILED, "error", redact_text(f"{exc.__class__.__name__}: {exc}"))

    def _run(self, action: Action, command_id: str) -> Result:
        if isinstance(action, Resync):
            return self._resync(action)
        if isinstance(action, Pause):
            return self._pause(action, command_id)
        if isinstance(action, Resume):
            return self._resume()
        if isinstance(action, SetLogLevel):
            self.log_levels.set_for(action.level, action.duration_s)
            return Result(OutcomeKind.DONE, None, f"logging at {action.level} until {_utc(time.time() + action.duration_s)}")
        if isinstance(action, ReconcileNow):
            return self._reconcile(action)
        if isinstance(action, UploadSupportBundle):
            if self.support_bundle is None:
                return Result(OutcomeKind.UNSUPPORTED, "not_available",
                              "this build of the satellite has no support-bundle builder: nothing was built or sent")
            return Result(OutcomeKind.DONE, None, self.support_bundle(action, command_id))
        raise TypeError(f"no executor for {type(action).__name__}")

    def _integrations(self, integration: str | None) -> list[str] | Result:
        known = [i.id for i in self.config.integrations]
        if integration is not None and integration not in known:
            return Result(OutcomeKind.FAILED, "bad_selection",
                          f"unknown integration {integration!r}; the integrations are: {', '.join(known)}")
        return known if integration is None else [integration]

    def _resync(self, action: Resync) -> Result:
        from satellite.sync.resync import resync

        said: list[str] = []
        complaints: list[str] = []
        code = resync(self.config, integration=action.integration, streams=list(action.streams) or None,
                      projects=list(action.projects) or None, echo=said.append, complain=complaints.append)
        if code != 0:
            reason = "bad_selection" if code == 2 else "server_unreachable"
            return Result(OutcomeKind.FAILED, reason, " ".join(complaints))
        if action.since is not None:
            said.append(f"since {action.since.isoformat()}: the selection is read again from its start (backfill.start),"
                        " which covers it")
        return Result(OutcomeKind.DONE, None, "; ".join(s.removeprefix("resync: ") for s in said))

    def _pause(self, action: Pause, command_id: str) -> Result:
        now = time.time()
        until = now + action.duration_s if action.duration_s else None
        self.store.set_state(PAUSED_BY_SEI, json.dumps({"since": now, "until": until, "command_id": command_id}))
        log.warning("collection_paused_by_sei", command=command_id, until=_utc(until) if until else "resume")
        return Result(OutcomeKind.DONE, None, f"collection paused until {_utc(until) if until else 'resume'}"
                      " (delivery goes on)")

    def _resume(self) -> Result:
        paused = collection_paused(self.store)
        self.store.set_state(PAUSED_BY_SEI, None)
        log.info("collection_resumed_by_sei", was_paused=paused is not None)
        return Result(OutcomeKind.DONE, None, "collection resumed" if paused else "collection was not paused")

    def _reconcile(self, action: ReconcileNow) -> Result:
        selected = self._integrations(action.integration)
        if isinstance(selected, Result):
            return selected
        for integration_id in selected:
            if self.reconcile is not None:
                self.reconcile(integration_id)
            else:
                self.store.reset_cursors(integration_id)
        when = "its jobs run now" if self.reconcile is not None else "the next run reads everything again"
        return Result(OutcomeKind.DONE, None, f"reconciliation of {', '.join(selected)}: cursors reset, {when}")

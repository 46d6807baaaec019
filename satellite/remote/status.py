"""SEI's recent commands as ``satellite status`` shows them (and whether SEI paused collection)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from satellite.remote.executor import collection_paused
from satellite.store import Store
from satellite.store.commands import CommandJournal

__all__ = ["CommandView", "RemoteStatus", "read_remote_status", "render_remote_status"]

RECENT = 10


@dataclass(frozen=True, slots=True)
class CommandView:
    id: str | None
    name: str | None
    outcome: str  # running, done, failed, refused, unsupported, interrupted
    reason: str | None
    detail: str
    received_at: float
    finished_at: float | None
    reported: bool  # carried by a heartbeat SEI accepted


@dataclass(frozen=True, slots=True)
class RemoteStatus:
    recent: tuple[CommandView, ...]  # newest first
    paused_since: float | None  # collection paused by SEI's pause command
    paused_until: float | None  # None with paused_since: until resume


def read_remote_status(store: Store, limit: int = RECENT) -> RemoteStatus:
    rows = CommandJournal(store).recent(limit)
    pause = collection_paused(store) or {}
    return RemoteStatus(
        tuple(CommandView(r.command_id, r.name, r.outcome, r.reason, r.detail, r.received_at, r.finished_at,
                          r.reported_at is not None) for r in rows),
        pause.get("since"), pause.get("until"))


def _at(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%MZ")


def render_remote_status(status: RemoteStatus) -> list[str]:
    """The status table's lines for SEI's commands (none when there is nothing to say)."""
    lines: list[str] = []
    if status.paused_since is not None:
        until = "its resume command" if status.paused_until is None else _at(status.paused_until)
        lines.append(f"collection PAUSED by SEI since {_at(status.paused_since)} until {until} (delivery goes on)")
    if status.recent:
        lines.append("recent SEI commands (newest first):")
        for c in status.recent:
            outcome = c.outcome + (f" ({c.reason})" if c.reason else "")
            pending = "" if c.reported or c.outcome == "running" else " [to report]"
            lines.append(f"  {_at(c.received_at)}  {(c.name or '?'):<21} {outcome:<28} {(c.id or '-')[:36]:<36}"
                         f"  {c.detail[:80]}{pending}".rstrip())
    return lines

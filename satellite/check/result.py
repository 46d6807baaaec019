"""One line of ``satellite check``: what was checked, against what, and how it went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from satellite.log import redact_text

__all__ = ["CheckResult", "Status", "passed", "failed", "skipped", "SEI"]

Status = Literal["pass", "fail", "skip"]
SEI = "SEI endpoint"  # the ``integration`` of the SEI side's lines (a space: never an integration id)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        integration: the integration id, or ``SEI`` for the SEI endpoint's lines.
        collection: the collection name, or None for lines about the host (DNS, TCP, TLS).
        check: what was checked ("dns", "tcp", "tls", "pat", "api-version", "service repos", ...).
        target: what it was checked against (a host, host:port or URL; never a credential).
        status: "pass", "fail", or "skip" (an earlier failure makes this check meaningless).
        detail: what was found.
        hint: how to fix a failure (empty when there is nothing to fix).
    """

    integration: str
    collection: str | None
    check: str
    target: str
    status: Status
    detail: str
    hint: str = ""

    def __post_init__(self) -> None:  # the last line of defence: no secret leaves a result
        object.__setattr__(self, "detail", redact_text(self.detail))
        object.__setattr__(self, "hint", redact_text(self.hint))
        object.__setattr__(self, "target", redact_text(self.target))

    @property
    def ok(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> dict:
        return {
            "integration": self.integration,
            "collection": self.collection,
            "check": self.check,
            "target": self.target,
            "ok": self.ok,
            "status": self.status,
            "detail": self.detail,
            "hint": self.hint,
        }


def passed(integration: str, collection: str | None, check: str, target: str, detail: str, hint: str = "") -> CheckResult:
    return CheckResult(integration, collection, check, target, "pass", detail, hint)


def failed(integration: str, collection: str | None, check: str, target: str, detail: str, hint: str = "") -> CheckResult:
    return CheckResult(integration, collection, check, target, "fail", detail, hint)


def skipped(integration: str, collection: str | None, check: str, target: str, reason: str) -> CheckResult:
    return CheckResult(integration, collection, check, target, "skip", f"skipped: {reason}")

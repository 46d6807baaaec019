"""api-version negotiation: which REST version to send to a given Azure DevOps Server.

2019 = 5.0, 2020 = 6.0, 2022 = 7.0, later on-prem = 7.1. We send the highest version we know
that the server supports, and ``X.Y-preview`` only on preview-only routes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ApiVersion", "KNOWN_VERSIONS", "pick_version", "parse_out_of_range", "SERVER_NAMES"]

KNOWN_VERSIONS = ("5.0", "6.0", "7.0", "7.1")
SERVER_NAMES = {"5.0": "Azure DevOps Server 2019", "6.0": "Azure DevOps Server 2020", "7.0": "Azure DevOps Server 2022", "7.1": "Azure DevOps Server (7.1)"}
_OUT_OF_RANGE = re.compile(r"supports is (\d+\.\d+)")


def _as_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def pick_version(server_max: str) -> str | None:
    """The highest known version not above what the server advertises; None if it is too old."""
    ceiling = _as_tuple(server_max)
    usable = [v for v in KNOWN_VERSIONS if _as_tuple(v) <= ceiling]
    return usable[-1] if usable else None


def parse_out_of_range(message: str) -> str | None:
    """The server's maximum from its 'out of range' error message."""
    match = _OUT_OF_RANGE.search(message)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class ApiVersion:
    """The version negotiated for one collection.

    Attributes:
        server_max: the highest version the server advertised (e.g. "7.0" or "5.1").
        base: the version we send (one of KNOWN_VERSIONS).
    """

    server_max: str
    base: str

    def for_route(self, preview: bool = False) -> str:
        return f"{self.base}-preview" if preview else self.base

    def at_least(self, version: str) -> bool:
        return _as_tuple(self.base) >= _as_tuple(version)

    @property
    def server_name(self) -> str:
        return SERVER_NAMES.get(self.base, f"api-version {self.base}")

"""Server profiles: which Azure DevOps Server release the simulator pretends to be.

A profile fixes the highest REST api-version the server accepts and, through it, which
optional fields appear in bodies (the spec ``definitions`` of each on-prem version).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Profile", "PROFILES", "version_tuple"]


def version_tuple(text: str) -> tuple[int, int]:
    """``"7.0"`` -> ``(7, 0)``."""
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


@dataclass(frozen=True, slots=True)
class Profile:
    """One server release: ``name`` as used on the command line, ``max_version`` as ``"7.0"``."""

    name: str
    product: str
    max_version: str

    @property
    def max(self) -> tuple[int, int]:
        return version_tuple(self.max_version)

    def has(self, since: str) -> bool:
        """True when this server's model already carries a field introduced in api-version ``since``."""
        return self.max >= version_tuple(since)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("2019", "Azure DevOps Server 2019", "5.0"),
        Profile("2020", "Azure DevOps Server 2020", "6.0"),
        Profile("2022", "Azure DevOps Server 2022", "7.0"),
        Profile("7.1", "Azure DevOps Server (api 7.1)", "7.1"),
    )
}

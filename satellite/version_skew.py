"""Version skew: what the heartbeat says about this satellite's versions, what SEI's answer announces
(ingest protocol v1.1), and what that means here.

The heartbeat carries ``version`` (the satellite's) and ``batch_formats`` (the sealed-batch format
version it writes and those it can read). An accepted heartbeat's JSON answer may carry:

    min_supported_version   the oldest satellite version SEI still supports
    latest_version          the newest satellite version available

Both are optional (a v1.0 receiver sends neither: no warning). Each accepted answer replaces the
announcement kept in the store (``agent_state``), so ``satellite status`` (another process), the
status page and ``/metrics`` read the same facts: *behind* (a newer version exists) or
*unsupported* (older than the minimum). Pure comparison here; the store is touched only by
``note_answer`` and ``current_skew``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import structlog

from satellite import __version__
from satellite.errors import SatelliteError
from satellite.sealing.batch_format import FORMATS, VERSION, suite_for_kem, version_for

__all__ = [
    "ANNOUNCEMENT_STATE",
    "LATEST_FIELD",
    "MIN_SUPPORTED_FIELD",
    "Announcement",
    "VersionSkew",
    "announcement_of",
    "assess",
    "batch_formats",
    "current_skew",
    "note_answer",
    "parse_version",
]

log = structlog.get_logger(__name__)

MIN_SUPPORTED_FIELD = "min_supported_version"
LATEST_FIELD = "latest_version"
ANNOUNCEMENT_STATE = "sei_version_announcement"  # agent_state key: the latest answer's announcement (JSON)
_MAX_VERSION_LENGTH = 64

_VERSION = re.compile(
    r"v?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>dev|a|alpha|b|beta|c|rc|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:\+[0-9A-Za-z.-]*)?",
    re.IGNORECASE,
)
_PRE_RANK = {"dev": 0, "a": 1, "alpha": 1, "b": 2, "beta": 2, "c": 3, "rc": 3, "pre": 3, "preview": 3}


def parse_version(text: object) -> tuple | None:
    """A sortable key of a version such as ``1.4.2``, ``1.5.0rc1`` or ``v2.0`` (a pre-release sorts
    before its release, a local ``+build`` part is ignored); None for anything else."""
    if not isinstance(text, str) or len(text) > _MAX_VERSION_LENGTH:
        return None
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    release = tuple(int(part) for part in match["release"].split("."))
    release = release + (0,) * (8 - len(release)) if len(release) < 8 else release
    pre = match["pre"]
    return (release, 1, 0, 0) if pre is None else (release, 0, _PRE_RANK[pre.lower()], int(match["pre_n"] or 0))


def batch_formats(settings: Any = None) -> dict[str, Any]:
    """The heartbeat's ``batch_formats``: the sealed-batch format version this satellite writes (that
    of its sealing key's KEM, from the config's ``satellite:`` section ``settings``; default: the
    X25519 one) and those it can read."""
    writes = VERSION
    encryption = getattr(settings, "encryption", None)
    if encryption is not None:
        writes = version_for(suite_for_kem(getattr(encryption.sealing_key(), "kem", "x25519"))).number
    return {"writes": writes, "reads": sorted(FORMATS)}


@dataclass(frozen=True, slots=True)
class Announcement:
    """What an answer announced (a field SEI left out or sent malformed is None)."""

    min_supported_version: str | None
    latest_version: str | None
    received_at: float


@dataclass(frozen=True, slots=True)
class VersionSkew:
    """This satellite's version against the latest announcement."""

    version: str
    min_supported_version: str | None = None
    latest_version: str | None = None
    announced_at: float | None = None
    behind: bool = False  # a newer version is available
    unsupported: bool = False  # older than the oldest version SEI supports

    def warning(self) -> str | None:
        """One line for status and the status page, or None when there is nothing to say."""
        if self.unsupported:
            return (f"satellite {self.version} is no longer supported by SEI (minimum {self.min_supported_version}):"
                    f" upgrade to {self.latest_version or self.min_supported_version} or later")
        if self.behind:
            return f"satellite {self.version} is behind: {self.latest_version} is available"
        return None


def announcement_of(body: object, now: float) -> Announcement | None:
    """The announcement in a heartbeat answer's JSON ``body``, or None when it has none (a v1.0
    answer). A field that is not a version string is left out."""
    if not isinstance(body, dict):
        return None
    fields = {name: body.get(name) if parse_version(body.get(name)) is not None else None
              for name in (MIN_SUPPORTED_FIELD, LATEST_FIELD)}
    if not any(fields.values()):
        return None
    return Announcement(fields[MIN_SUPPORTED_FIELD], fields[LATEST_FIELD], now)


def assess(version: str, announcement: Announcement | None) -> VersionSkew:
    """Whether ``version`` is behind or unsupported by ``announcement``."""
    if announcement is None:
        return VersionSkew(version)
    mine = parse_version(version)
    minimum, latest = parse_version(announcement.min_supported_version), parse_version(announcement.latest_version)
    return VersionSkew(
        version, announcement.min_supported_version, announcement.latest_version, announcement.received_at,
        behind=mine is not None and latest is not None and mine < latest,
        unsupported=mine is not None and minimum is not None and mine < minimum,
    )


def _stored(value: str | None) -> Announcement | None:
    try:
        data = json.loads(value) if value else None
        return Announcement(**data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None


def current_skew(store: Any, version: str = __version__) -> VersionSkew:
    """This satellite's skew as the latest accepted heartbeat answer kept in ``store`` says."""
    return assess(version, _stored(store.get_state(ANNOUNCEMENT_STATE)))


def note_answer(store: Any, response: Any, version: str = __version__, now: float | None = None) -> VersionSkew:
    """Keep what an accepted heartbeat answer (an ``httpx.Response``) announces, replacing what an
    earlier one did; log a warning when the verdict changes to behind or unsupported."""
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    announcement = announcement_of(body, time.time() if now is None else now)
    skew = assess(version, announcement)
    try:
        before = current_skew(store, version)
        store.set_state(ANNOUNCEMENT_STATE, None if announcement is None else json.dumps(
            {"min_supported_version": announcement.min_supported_version, "latest_version": announcement.latest_version,
             "received_at": announcement.received_at}))
    except SatelliteError as exc:  # the heartbeat is best effort: the next one tries again
        log.warning("version_announcement_not_kept", error=str(exc))
        return skew
    if skew.unsupported and not before.unsupported:
        log.warning("satellite_version_unsupported", version=version, min_supported_version=skew.min_supported_version,
                    latest_version=skew.latest_version)
    elif skew.behind and not skew.unsupported and not (before.behind and before.latest_version == skew.latest_version):
        log.warning("satellite_version_behind", version=version, latest_version=skew.latest_version)
    return skew

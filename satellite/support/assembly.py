"""The support bundle put together: parts -> scrubbed members + manifest -> tar.gz (pure, no I/O).

A part that could not be gathered is an ``<name>.error.txt`` member and a line of the manifest's
``errors``: a broken store or an unreachable server still gives a bundle with everything else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from satellite.support.archive import Member, pack
from satellite.support.redaction import scrub, scrub_data, secret_forms

__all__ = ["BUNDLE_FORMAT", "Part", "assemble", "bundle_root"]

BUNDLE_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Part:
    """One file of the bundle (``data``), or why it could not be gathered (``error``)."""

    name: str
    data: bytes | None = None
    error: str | None = None


def bundle_root(satellite_id: str, created_at: float) -> str:
    """The archive's top folder (and the default file name without ``.tar.gz``)."""
    stamp = datetime.fromtimestamp(created_at, UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"satellite-support-{re.sub(r'[^A-Za-z0-9_.-]', '_', satellite_id)}-{stamp}"


def assemble(parts: Sequence[Part], *, secrets: Iterable[str], identity: Mapping[str, Any], created_at: float) -> bytes:
    """The tar.gz bytes: ``manifest.json`` (format, time, ``identity``, every member with its size
    and SHA-256, the errors), then each part, every one scrubbed of ``secrets``."""
    forms = secret_forms(secrets)
    members: list[Member] = []
    listed: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for part in parts:
        if part.data is not None:
            member = Member(part.name, scrub(part.data.decode("utf-8", "replace"), forms).encode())
        else:
            errors[part.name] = scrub(part.error or "not gathered", forms)
            member = Member(f"{part.name}.error.txt", (errors[part.name] + "\n").encode())
        members.append(member)
        listed.append({"name": member.name, "bytes": len(member.data), "sha256": hashlib.sha256(member.data).hexdigest()})
    manifest = {
        "bundle_format": BUNDLE_FORMAT,
        "created_at": datetime.fromtimestamp(created_at, UTC).isoformat().replace("+00:00", "Z"),
        **scrub_data(dict(identity), forms),
        "members": listed,
        "errors": errors,
    }
    head = Member("manifest.json", (json.dumps(manifest, indent=2) + "\n").encode())
    return pack([head, *members], root=bundle_root(str(identity.get("satellite_id", "satellite")), created_at),
                mtime=created_at)

"""Which replica collects what, when several share the work (``satellite.shard``).

Every (collection, project) pair belongs to exactly one replica: the one whose index equals a
stable hash of the pair modulo the replica count. Collection-wide data (projects, fields, work
item reporting streams, TFVC changesets, identities) belongs to the replica that owns the
collection's own hash. Every replica lists the projects (one request) to find its pairs.
"""

from __future__ import annotations

import hashlib
import re
import socket
from dataclasses import dataclass

__all__ = ["ShardAssignment", "ordinal_from_hostname"]

_ORDINAL = re.compile(r"-(\d+)$")


def ordinal_from_hostname(hostname: str | None = None) -> int | None:
    """The ordinal a StatefulSet gives its pod (``sei-satellite-2`` -> 2), or None."""
    match = _ORDINAL.search((hostname if hostname is not None else socket.gethostname()).split(".")[0])
    return int(match.group(1)) if match else None


def _bucket(text: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(text.lower().encode()).digest()[:8], "big") % count


@dataclass(frozen=True, slots=True)
class ShardAssignment:
    index: int = 0
    count: int = 1

    @classmethod
    def from_settings(cls, shard, hostname: str | None = None) -> "ShardAssignment":
        """From ``satellite.config.Shard``; an unset index comes from the host name's ordinal."""
        index = shard.index if shard.index is not None else (ordinal_from_hostname(hostname) or 0)
        if index >= shard.count:
            raise ValueError(f"shard index {index} (from the host name) is not below shard.count {shard.count}")
        return cls(index, shard.count)

    def owns_collection(self, collection_url: str) -> bool:
        return self.count == 1 or _bucket(collection_url.rstrip("/"), self.count) == self.index

    def owns_project(self, collection_url: str, project_id: str) -> bool:
        return self.count == 1 or _bucket(f"{collection_url.rstrip('/')}/{project_id}", self.count) == self.index

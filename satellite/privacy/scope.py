"""The policy's scope filters on what is listed, shared by a sync (``Collector``) and ``satellite preview``.

A snapshot listing loses what the scope excludes (what was sent of it before is then deleted, as
anything gone from a listing); the repositories a listing excluded are remembered so that the
project-wide pull requests of those repositories are left out too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from satellite.privacy.policy import PrivacyPolicy
from satellite.streams.records import Record

__all__ = ["ScopeFilter", "REPOSITORY_KEYED"]

REPOSITORY_KEYED = "git.pull_requests"  # project-wide, keyed {repositoryId}:..., read after git.repositories


class ScopeFilter:
    """One integration's scope filters over one run (it remembers the repositories it excluded)."""

    def __init__(self, policy: PrivacyPolicy) -> None:
        self.policy = policy
        self.excluded_repositories: set[str] = set()  # ids of repositories listed and out of scope

    def listing(self, stream: str, items: list[dict]) -> list[dict]:
        """A snapshot stream's listing without what the scope filters exclude."""
        listed_by = {"git.repositories": ("name", self.policy.repository_in_scope),
                     "tfvc.branches": ("path", self.policy.tfvc_path_in_scope),
                     "wit.work_item_types": ("name", self.policy.work_item_type_in_scope)}.get(stream)
        if listed_by is None or self.policy.is_identity:
            return items
        member, in_scope = listed_by
        kept = []
        for item in items:
            name = item.get(member)
            if not isinstance(name, str) or in_scope(name):
                kept.append(item)
            elif stream == "git.repositories":
                self.excluded_repositories.add(str(item.get("id")))
        return kept

    def records(self, stream: str, items: Iterable) -> Iterator:
        """A stream's items without the records of excluded repositories (pull requests only)."""
        if stream != REPOSITORY_KEYED or not self.excluded_repositories:
            return iter(items)
        excluded = self.excluded_repositories
        return (i for i in items if not (isinstance(i, Record) and i.key.split(":", 1)[0] in excluded))

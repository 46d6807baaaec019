"""Core streams: projects of a collection."""

from __future__ import annotations

from typing import Callable, Iterator

from satellite.streams.base import Scope, SnapshotStream, StreamContext

__all__ = ["ProjectsStream"]


class ProjectsStream(SnapshotStream):
    """Every project of a collection that the integration's scope admits."""

    name = "core.projects"
    record_type = "core.project"
    key_format = "{projectId}"
    service = "core"
    scope = Scope.COLLECTION

    def __init__(self, in_scope: Callable[[str], bool] = lambda name: True) -> None:
        self._in_scope = in_scope

    def list(self, ctx: StreamContext, parent: dict | None) -> Iterator[dict]:
        for page in ctx.client.pages_by_offset("_apis/projects", {"stateFilter": "wellFormed"}, page_size=ctx.page_sizes.projects):
            for project in page:
                if self._in_scope(project.get("name", "")):
                    yield project

    def key(self, item: dict, parent: dict | None) -> str:
        return item["id"]

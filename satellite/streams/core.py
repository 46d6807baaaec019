"""Core streams: projects of a collection."""

from __future__ import annotations

from typing import Callable, Iterator

from satellite.streams.base import StreamContext, StreamItem, snapshot_diff

__all__ = ["ProjectsStream"]


class ProjectsStream:
    """Every project of a collection that the scope admits (full refresh + hash diff)."""

    name = "core.projects"
    record_type = "core.project"
    service = "core"
    immutable = False

    def __init__(self, in_scope: Callable[[str], bool]) -> None:
        self._in_scope = in_scope

    def list_projects(self, ctx: StreamContext) -> Iterator[dict]:
        for page in ctx.client.pages_by_offset("_apis/projects", {"stateFilter": "wellFormed"}, page_size=ctx.page_sizes.projects):
            for project in page:
                if self._in_scope(project.get("name", "")):
                    yield project

    def read(self, ctx: StreamContext, projects: list[dict] | None = None) -> Iterator[StreamItem]:
        listed = projects if projects is not None else self.list_projects(ctx)
        return snapshot_diff(self.record_type, ((p["id"], p) for p in listed), ctx.cursor)

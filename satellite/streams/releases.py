"""Classic release streams: definitions, releases and deployments (same collection URL on-prem).

Releases change after creation (their environments deploy), so the releases stream reads the
deployments modified since the last run and re-reads the releases they belong to, as well as
the releases created since the last run. Every release is read in full (deploy steps, phases,
jobs and tasks with their times).
"""

from __future__ import annotations

from typing import Any, Iterator

from satellite.ado.client import segment
from satellite.ado.paging import TokenHeader, items
from satellite.streams.base import IncrementalStream, KeyFormat, Scope, SnapshotStream, StreamContext, StreamItem, upsert
from satellite.streams.cursors import ReleasesCursor, Watermark

__all__ = ["ReleaseDefinitionsStream", "ReleasesStream"]


class ReleaseDefinitionsStream(SnapshotStream):
    name = "release.definitions"
    record_type = "release.definition"
    key_format = KeyFormat("{collectionId}:{definitionId}", {"definitionId": "id"})
    service = "pipelines"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        params = {"$expand": "environments,artifacts", "queryOrder": "idAscending"}
        path = f"{segment(parent['id'])}/_apis/release/definitions"
        pages = ctx.client.pages(path, TokenHeader(ctx.page_sizes.releases), params)
        return list(items(pages))


class ReleasesStream(IncrementalStream):
    name = "release.releases"
    record_type = "release.release"
    also_emits = ("release.deployment",)
    key_format = KeyFormat("{collectionId}:{releaseId}", {"releaseId": "id"})
    cursor = ReleasesCursor
    service = "pipelines"
    scope = Scope.PROJECT

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: ReleasesCursor) -> Iterator[StreamItem]:
        base = f"{segment(parent['id'])}/_apis/release"
        deployments, modified = self._since(ctx, f"{base}/deployments", cursor.modified, "lastModifiedOn", "minModifiedTime",
                                            {"queryOrder": "ascending", "latestAttemptsOnly": "false"})
        for deployment in deployments:
            yield upsert("release.deployment", f"{ctx.collection_id}:{deployment['id']}", deployment)
        created, created_mark = self._since(ctx, f"{base}/releases", cursor.created, "createdOn", "minCreatedTime",
                                            {"queryOrder": "ascending"})
        ids = sorted({d["release"]["id"] for d in deployments} | {r["id"] for r in created})
        for release in ctx.client.get_many((f"{base}/releases/{i}" for i in ids), missing_ok=True):
            if release is not None:  # None: deleted since
                yield upsert(self.record_type, self.key(ctx, release, parent), release)
        yield ReleasesCursor(created_mark, modified).checkpoint()

    @staticmethod
    def _since(ctx: StreamContext, path: str, mark: Watermark, field: str, min_param: str,
               params: dict[str, Any]) -> tuple[list[dict], Watermark]:
        """The items of ``path`` since ``mark`` (first run: since the backfill start), and the mark after them."""
        since = mark.time or ctx.backfill_start
        query = {**params, **({min_param: since} if since else {})}
        pages = ctx.client.pages(path, TokenHeader(ctx.page_sizes.releases), query)
        found = [i for i in items(pages) if mark.admits(i.get(field), i["id"])]
        return found, mark.advanced((i.get(field), i["id"]) for i in found)

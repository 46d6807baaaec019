"""Classic release streams: definitions, releases and deployments (same collection URL on-prem).

Releases change after creation (their environments deploy), so the releases stream reads the
deployments modified since the last run and re-reads the releases they belong to, as well as
the releases created since the last run. Every release is read in full (deploy steps, phases,
jobs and tasks with their times).
"""

from __future__ import annotations

import json
from typing import Iterator

from satellite.ado.client import segment
from satellite.streams.base import (
    IncrementalStream,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    cursor_json,
    latest_time,
    upsert,
)

__all__ = ["ReleaseDefinitionsStream", "ReleasesStream"]


class ReleaseDefinitionsStream(SnapshotStream):
    name = "release.definitions"
    record_type = "release.definition"
    key_format = "{collectionId}:{definitionId}"
    service = "pipelines"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        params = {"$expand": "environments,artifacts", "queryOrder": "idAscending"}
        pages = ctx.client.pages_by_token(f"{segment(parent['id'])}/_apis/release/definitions", params, page_size=ctx.page_sizes.releases)
        return [d for page in pages for d in page]

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{ctx.collection_id}:{item['id']}"


class ReleasesStream(IncrementalStream):
    name = "release.releases"
    record_type = "release.release"
    also_emits = ("release.deployment",)
    key_format = "{collectionId}:{releaseId}"
    cursor = "last created and last modified times (+ ids at them)"
    service = "pipelines"
    scope = Scope.PROJECT

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        state = json.loads(ctx.cursor) if ctx.cursor else {"created": None, "at_created": [], "modified": None, "at_modified": []}
        base = f"{segment(parent['id'])}/_apis/release"
        touched: set[int] = set()
        modified, at_modified = state["modified"], set(state["at_modified"])
        params = {"queryOrder": "ascending", "latestAttemptsOnly": "false"}
        if modified or ctx.backfill_start:
            params["minModifiedTime"] = modified or ctx.backfill_start
        deployments = [
            d for page in ctx.client.pages_by_token(f"{base}/deployments", params, page_size=ctx.page_sizes.releases) for d in page
            if not (d["id"] in at_modified and d.get("lastModifiedOn") == modified)
        ]
        for deployment in deployments:
            yield upsert("release.deployment", f"{ctx.collection_id}:{deployment['id']}", deployment)
            touched.add(deployment["release"]["id"])
        newest_modified = latest_time([modified] + [d.get("lastModifiedOn") for d in deployments])
        if newest_modified != modified:
            at_modified = set()
        at_modified |= {d["id"] for d in deployments if d.get("lastModifiedOn") == newest_modified}

        created, at_created = state["created"], set(state["at_created"])
        params = {"queryOrder": "ascending"}
        if created or ctx.backfill_start:
            params["minCreatedTime"] = created or ctx.backfill_start
        new = [
            r for page in ctx.client.pages_by_token(f"{base}/releases", params, page_size=ctx.page_sizes.releases) for r in page
            if not (r["id"] in at_created and r.get("createdOn") == created)
        ]
        newest_created = latest_time([created] + [r.get("createdOn") for r in new])
        if newest_created != created:
            at_created = set()
        at_created |= {r["id"] for r in new if r.get("createdOn") == newest_created}
        ids = sorted(touched | {r["id"] for r in new})
        for release_id, release in zip(ids, ctx.client.get_many((f"{base}/releases/{i}" for i in ids), missing_ok=True)):
            if release is not None:  # None: deleted since
                yield upsert(self.record_type, f"{ctx.collection_id}:{release_id}", release)
        yield cursor_json({"created": newest_created, "at_created": sorted(at_created),
                           "modified": newest_modified, "at_modified": sorted(at_modified)})

"""Classic release streams: definitions, releases and deployments (same collection URL on-prem).

Releases change after creation (their environments deploy, they are abandoned or edited), so the
releases stream reads (1) the deployments modified since the last run and re-reads the releases
they belong to, (2) the releases created since the last run, each from the overlap before its last
time (an item visible late is found; one read unchanged is not resent), and (3) one page per sync of
a walk over every release: the releases list has no modified filter ("minCreatedTime: Releases that
were created after this time."), so a release abandoned or edited with no deployment change is only
seen by its ``modifiedOn`` there; those modified since the previous walk passed are re-read. Every
release is read in full (deploy steps, phases, jobs and tasks with their times).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator

from satellite.ado.client import segment
from satellite.ado.paging import TokenHeader, items
from satellite.streams.base import (
    IncrementalStream,
    KeyFormat,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    content_hash,
    latest_time,
    parse_time,
    trim,
    upsert,
)
from satellite.streams.cursors import ReleasesCursor, ReleaseSweep, Watermark, format_time

__all__ = ["ReleaseDefinitionsStream", "ReleasesStream", "changed_since", "deployments_since", "walk_releases"]


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
    # A read from no cursor reads every release created since the backfill start (every page, each
    # read alone) and every release with a deployment modified since it. The only live releases it may
    # not meet are those an earlier walk read (created before the backfill start, edited since), and
    # one gone between the list and its read: each release not met is asked for alone (``gone``), and
    # only a 404 deletes it. Deployments are not reconciled: no route reads one alone (Deployments -
    # List only), so a delete could rest on nothing but the list; they go with their release.
    reconciled = ("release.release",)
    held = ("release.deployment",)  # keys of ids only; deleted with their project (sync/departed.py)
    service = "pipelines"
    scope = Scope.PROJECT

    def gone(self, ctx: StreamContext, parent: dict | None, record_type: str, keys: list[str]) -> list[str]:
        """Of keys "<collectionId>:<release id>", those whose release answers 404 when asked alone."""
        paths = (f"{segment(parent['id'])}/_apis/release/releases/{int(key.rsplit(':', 1)[1])}" for key in keys)
        return [key for key, release in zip(keys, ctx.client.get_many(paths, missing_ok=True)) if release is None]

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: ReleasesCursor) -> Iterator[StreamItem]:
        base = f"{segment(parent['id'])}/_apis/release"
        deployments, modified, open_ = deployments_since(ctx, base, cursor)
        for deployment in deployments:
            yield upsert("release.deployment", f"{ctx.collection_id}:{deployment['id']}", deployment)
        created, created_mark, _ = changed_since(ctx, f"{base}/releases", cursor.created, "createdOn", "minCreatedTime",
                                               {"queryOrder": "ascending"})
        sweep, edited = walk_releases(ctx, base, cursor, [modified.time, created_mark.time])
        ids = sorted({d["release"]["id"] for d in deployments} | {r["id"] for r in created} | edited)
        read: dict[int, str] = dict(sweep.read)
        for release in ctx.client.get_many((f"{base}/releases/{i}" for i in ids), missing_ok=True):
            if release is not None:  # None: deleted since
                if release.get("modifiedOn") and sweep.since and parse_time(release["modifiedOn"]) >= parse_time(sweep.since):
                    read[release["id"]] = release["modifiedOn"]
                yield self.upsert_of(ctx, release, parent)
        yield ReleasesCursor(created_mark, modified, replace(sweep, read=read), open_).checkpoint()


def deployments_since(ctx: StreamContext, base: str,
                      cursor: ReleasesCursor) -> tuple[list[dict], Watermark, dict[int, tuple[str, str]]]:
    """The deployments new or changed since the last read, the mark after them, and those not final.

    A deployment running when read and completed with a ``lastModifiedOn`` before the overlap (its
    change committed late) is not in the modified read: those open last time and not met there are
    looked for among the deployments started since the earliest of them (a request only then)."""
    path = f"{base}/deployments"
    params = {"queryOrder": "ascending", "latestAttemptsOnly": "false"}
    found, mark, hashed = changed_since(ctx, path, cursor.modified, "lastModifiedOn", "minModifiedTime", params)
    open_ = dict(cursor.open)
    met = {item["id"] for item, _ in hashed}
    pending = {i: entry for i, entry in open_.items() if i not in met}
    if pending:
        earliest = min((started for started, _ in pending.values()), key=parse_time)
        query = {**params, "minStartedTime": earliest}
        for item in items(ctx.client.pages(path, TokenHeader(ctx.page_sizes.releases), query)):
            if item["id"] in pending:
                digest = content_hash(trim(item))
                hashed.append((item, digest))
                if digest != pending[item["id"]][1]:
                    found.append(item)
        for i in pending:  # met below if still there; gone (deleted) otherwise
            open_.pop(i)
    for item, digest in hashed:
        if _deployment_open(item) and (item.get("startedOn") or item.get("queuedOn")):
            open_[item["id"]] = (item.get("startedOn") or item["queuedOn"], digest)
        else:
            open_.pop(item["id"], None)
    return found, mark, open_


def changed_since(ctx: StreamContext, path: str, mark: Watermark, field: str, min_param: str,
                  params: dict[str, Any]) -> tuple[list[dict], Watermark, list[tuple[dict, str]]]:
    """The items of ``path`` new or changed since ``mark`` (read from its overlap; first run: since
    the backfill start), the mark after them, and every item read with its content hash."""
    since = mark.since(ctx.overlap) or ctx.backfill_start
    query = {**params, **({min_param: since} if since else {})}
    pages = ctx.client.pages(path, TokenHeader(ctx.page_sizes.releases), query)
    hashed = [(item, content_hash(trim(item))) for item in items(pages)]
    found = [item for item, digest in hashed if mark.admits(item.get(field), item["id"], digest)]
    return found, mark.advanced(((item.get(field), item["id"], digest) for item, digest in hashed), ctx.overlap), hashed


def walk_releases(ctx: StreamContext, base: str, cursor: ReleasesCursor, times: list[str | None]) -> tuple[ReleaseSweep, set[int]]:
    """One page of the walk over every release (newest first): the sweep after it, and the ids of
    the releases modified since the previous walk passed and not read since. The first run
    starts the walk without reading (it reads every release anyway)."""
    sweep = cursor.sweep
    known = latest_time(times)  # the latest server time known (a time the server wrote)
    if cursor.created.time is None or sweep.since is None:
        start = format_time(parse_time(known) - ctx.overlap) if known else None
        return ReleaseSweep(None, start, known, {}), set()
    params = {"queryOrder": "descending", **({"continuationToken": sweep.token} if sweep.token else {})}
    pages = ctx.client.pages(f"{base}/releases", TokenHeader(ctx.page_sizes.releases), params)
    page = next(iter(pages))
    since = parse_time(sweep.since)
    edited = {r["id"] for r in page.items if r.get("modifiedOn") and parse_time(r["modifiedOn"]) >= since
              and sweep.read.get(r["id"]) != r["modifiedOn"]}
    known = latest_time([known, sweep.started, *(r.get("modifiedOn") for r in page.items)])
    if page.resume:  # the walk goes on from the next page
        return replace(sweep, token=page.resume, started=sweep.started), edited
    # the walk ends: the next one re-reads what was modified after this one began
    following = format_time(parse_time(sweep.started or known) - ctx.overlap) if (sweep.started or known) else sweep.since
    kept = {i: m for i, m in sweep.read.items() if parse_time(m) >= parse_time(following)}
    return ReleaseSweep(None, following, known, kept), edited


# DeploymentStatus inProgress (undefined: not yet known), or not deployed yet while its operation is under way
OPEN_OPERATIONS = frozenset({"queued", "scheduled", "pending", "approved", "deferred", "queuedforagent", "phaseinprogress",
                             "queuedforpipeline", "evaluatinggates"})


def _deployment_open(deployment: dict) -> bool:
    status = str(deployment.get("deploymentStatus", "")).lower()
    operation = str(deployment.get("operationStatus", "")).lower()
    return status in ("inprogress", "undefined") or status == "notdeployed" and operation in OPEN_OPERATIONS

"""Pipelines streams: build definitions, builds with their timelines, YAML pipelines (their runs:
``pipeline_runs.py``).

Builds change until they finish (and again when re-run: same id, a new attempt), and their
queue time is no safe cursor, so the builds stream reads (1) the builds queued or running, delivered
again only when they changed, (2) builds completed since the last finish time less the overlap, in
finish-time order, sending those new or changed (id and content hash), and (3) each build open last
time that neither list shows any more, on its own. A completion can be committed late (the build
reads as running while later builds read as completed), and the two lists see the server at two
moments: a build queued after list (1) and completed late by the time of list (2) is in neither. So
(2) starts no later than the newest time known when (1) was read last time (``visible_at``): such a
build, queued after it, finished after it, and the next sync finds it. Each build that has
started comes with its timeline (stage, job and task records: durations, results, ``attempt`` and
``previousAttempts``); it is read again with every change of the build, a rerun's included. Each
build delivered completed comes with its changes (``builds/{id}/changes``: the commits or changesets
since the previous build of its definition), one walk per build: Get Changes Between Builds
(``build/changes?fromBuildId&toBuildId``) answers the union of a range, which says nothing of which
build of it carried a change, so it would take one request per pair of builds: as many, and unpaged.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Iterator

from satellite.ado.client import segment
from satellite.ado.paging import TokenHeader, items
from satellite.errors import AdoNotFoundError
from satellite.politeness.work import carrying
from satellite.streams.base import (
    IncrementalStream,
    KeyFormat,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    content_hash,
    delete,
    nested,
    trim,
    upsert,
)
from satellite.streams.cursors import EPOCH, BuildsCursor, latest_time

__all__ = ["BuildDefinitionsStream", "BuildsStream", "PipelinesStream", "builds_gone", "builds_path"]

OPEN_STATUSES = "notStarted,inProgress,cancelling,postponed"  # a flags enum: one query for all of them
CHANGE_WALKS = 8  # builds whose changes are read at once (each a walk of dependent pages; with 4, a project's builds
# ran 4-7 in flight when they were the last stream of a backfill)
CHANGES_AHEAD = 2 * CHANGE_WALKS  # walks started ahead of the build being sent: the workers stay busy, the answers bounded


def builds_path(project: dict) -> str:
    return f"{segment(project['id'])}/_apis/build/builds"


class BuildDefinitionsStream(SnapshotStream):
    name = "build.definitions"
    record_type = "build.definition"
    key_format = KeyFormat("{collectionId}:{definitionId}", {"definitionId": "id"})
    service = "pipelines"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        params = {"queryOrder": "definitionNameAscending", "includeAllProperties": "true"}
        path = f"{segment(parent['id'])}/_apis/build/definitions"
        pages = ctx.client.pages(path, TokenHeader(ctx.page_sizes.default), params)
        return list(items(pages))


def builds_with_timelines(ctx: StreamContext, stream: IncrementalStream, project: dict,
                          builds: list[dict]) -> Iterator[Record]:
    """Each build, and its timeline once it has started (running builds show live stage status).

    Timelines are fetched concurrently and lazily: only those being fetched are held, not a
    page's worth (a page of 1,000 builds held ~1,000 parsed timelines at once)."""
    started = [b for b in builds if b.get("status") != "notStarted"]
    paths = (f"{builds_path(project)}/{b['id']}/timeline" for b in started)
    timelines = ctx.client.get_many(paths, missing_ok=True, list_key="records")  # None: the build is gone
    changes = build_changes(ctx, project, [b for b in builds if b.get("status") == "completed"])
    for build in builds:
        key = stream.key(ctx, build, project)
        yield upsert(stream.record_type, key, build)
        if build.get("status") != "notStarted":
            yield from nested("build.timeline_record", key, next(timelines) or [])
        if build.get("status") == "completed":
            yield from nested("build.change", key, next(changes))


def build_changes(ctx: StreamContext, project: dict, builds: list[dict]) -> Iterator[list[dict]]:
    """The changes (commits, changesets) of each build, every page (``x-ms-continuationtoken``),
    the walks of several builds at once; a build gone since it was listed has none.

    At most ``CHANGES_AHEAD`` walks are started ahead of the one yielded next: the walks run faster
    than their builds' timelines are read and sent, and ``Executor.map`` would start a page's
    builds at once and hold every answer until its build was sent."""
    def walk(build: dict) -> list[dict]:
        path = f"{builds_path(project)}/{build['id']}/changes"
        try:
            return list(items(ctx.client.pages(path, TokenHeader(ctx.page_sizes.default))))
        except AdoNotFoundError:
            return []

    walk_here = carrying(walk)  # as backfill work when the unit is one
    waiting = iter(builds)
    with ThreadPoolExecutor(max_workers=CHANGE_WALKS, thread_name_prefix="build-changes") as pool:
        started = deque(pool.submit(walk_here, build) for build in islice(waiting, CHANGES_AHEAD))
        while started:
            changes = started.popleft().result()
            started.extend(pool.submit(walk_here, build) for build in islice(waiting, 1))
            yield changes


class BuildsStream(IncrementalStream):
    name = "build.builds"
    record_type = "build.build"
    also_emits = ("build.timeline_record", "build.change")
    nested_types = also_emits
    key_format = KeyFormat("{collectionId}:{buildId}", {"buildId": "id"})
    cursor = BuildsCursor
    # A read from no cursor meets every build of the project within the backfill start: the completed
    # ones finished since it (every page, whatever the cursor's hashes: none yet) and every open one
    # (no time filter). A build queued between the two queries and completed late is in neither, so each
    # build not met is asked for alone (``gone``): only a 404 or a ``deleted`` answer deletes it. Timeline records
    # (children) are not reconciled.
    reconciled = ("build.build",)
    service = "pipelines"
    scope = Scope.PROJECT

    def gone(self, ctx: StreamContext, parent: dict | None, record_type: str, keys: list[str]) -> list[str]:
        return builds_gone(ctx, parent, keys)

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: BuildsCursor) -> Iterator[StreamItem]:
        path = builds_path(parent)
        known_open = dict(cursor.open)
        # (0) a first read: the newest build queued so far, before the open builds are listed
        visible = newest_queue_time(ctx, path) if cursor == BuildsCursor() else cursor.visible_at
        # (1) the open builds, sent when new or changed; listed first, so that a build queued after this
        # listing finished after ``visible`` (below), where the next read of completed builds starts
        still_open: dict[str, str] = {}
        for page in ctx.client.pages(path, TokenHeader(ctx.page_sizes.builds), {"statusFilter": OPEN_STATUSES}):
            changed = []
            for build in page.items:
                still_open[str(build["id"])] = digest = content_hash(trim(build))
                if known_open.get(str(build["id"])) != digest:
                    changed.append(build)
            yield from builds_with_timelines(ctx, self, parent, changed)
            visible = latest_time([visible, *(b.get(f) for b in page.items for f in ("queueTime", "startTime"))]) or visible
        # every time read before or in the listing is one the server's clock had passed then
        visible = latest_time([visible, cursor.finished.time]) or visible
        # (2) the completed builds, in finish-time order: those new or changed (a rerun completes again
        # with a new finish time and result)
        finished = cursor.finished
        params = {"queryOrder": "finishTimeAscending", "statusFilter": "completed"}
        since = latest_time([cursor.since(ctx.overlap), ctx.backfill_start])
        if since:
            params["minTime"] = since
        completed: set[str] = set()
        for page in ctx.client.pages(path, TokenHeader(ctx.page_sizes.builds), params):
            hashed = [(build, content_hash(trim(build))) for build in page.items]
            fresh = [b for b, digest in hashed if finished.admits(b.get("finishTime"), b["id"], digest)]
            yield from builds_with_timelines(ctx, self, parent, fresh)
            completed.update(str(b["id"]) for b in page.items)
            finished = finished.advanced(((b.get("finishTime"), b["id"], d) for b, d in hashed), ctx.overlap,
                                         keep_from=visible)  # the window keeps what the next read meets
            # open builds not yet known completed stay tracked, those open last time included (step 3)
            tracked = {i: d for i, d in {**known_open, **still_open}.items() if i not in completed}
            yield BuildsCursor(finished, tracked, visible).checkpoint()
        # (3) open last time, open no more, and not among the completed builds just read: completed before
        # the overlap, or deleted (404, or answered with ``deleted`` true): each is read on its own and
        # sent, or deleted.
        vanished = sorted(int(i) for i in known_open.keys() - still_open.keys() - completed)
        answers = list(zip(vanished, ctx.client.get_many((f"{path}/{i}" for i in vanished), missing_ok=True)))
        found = [b for _, b in answers if b is not None and not b.get("deleted")]
        yield from builds_with_timelines(ctx, self, parent, found)
        for build_id, build in answers:  # known deleted: the build goes (its timeline records: the reconcile)
            if build is None or build.get("deleted"):
                yield delete(self.record_type, self.key(ctx, {"id": build_id}, parent))
        done = [(b.get("finishTime"), b["id"], content_hash(trim(b))) for b in found if b.get("status") == "completed"]
        still_open = {i: d for i, d in still_open.items() if i not in completed}
        still_open.update((str(b["id"]), content_hash(trim(b))) for b in found if b.get("status") != "completed")
        yield BuildsCursor(finished.advanced(done, ctx.overlap, move=False, keep_from=visible), still_open, visible).checkpoint()


def newest_queue_time(ctx: StreamContext, path: str) -> str:
    """The queue time of the project's newest build (``EPOCH`` when it has none): a time the server's
    clock has passed, read before anything else on a first read."""
    newest = ctx.client.get_list(path, {"queryOrder": "queueTimeDescending", "$top": 1})
    return latest_time(b.get("queueTime") for b in newest) or EPOCH


class PipelinesStream(SnapshotStream):
    """YAML pipelines (the Pipelines API exists from Server 2020)."""

    name = "pipelines.pipelines"
    record_type = "pipelines.pipeline"
    key_format = KeyFormat("{collectionId}:{pipelineId}", {"pipelineId": "id"})
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        preview = not ctx.client.api_version().at_least("7.0")  # 6.0-preview.1 on Server 2020
        pages = ctx.client.pages(f"{segment(parent['id'])}/_apis/pipelines", TokenHeader(ctx.page_sizes.default),
                                 preview=preview)
        return list(items(pages))


def builds_gone(ctx: StreamContext, project: dict, keys: list[str]) -> list[str]:
    """Of keys "<collectionId>:<build id>", those whose build answers 404 or ``deleted`` when asked
    alone (another error raises: nothing is deleted)."""
    paths = (f"{builds_path(project)}/{int(key.rsplit(':', 1)[1])}" for key in keys)
    answers = ctx.client.get_many(paths, missing_ok=True)
    return [key for key, build in zip(keys, answers) if build is None or build.get("deleted")]

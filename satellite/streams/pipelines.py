"""Pipelines streams: build definitions, builds with their timelines, YAML pipelines and runs.

Builds change until they finish, and their queue time is no safe cursor, so the builds stream
reads (1) builds completed since the last delivered finish time, in finish-time order, and (2)
the builds still queued or running, delivered again only when they changed. Each build that
has started comes with its timeline (stage, job and task records: durations, results,
attempts); a running build's timeline is read again with every change until it finishes.

Pipeline runs: the runs list of a pipeline has no time filter, but a run is a build of the
pipeline's definition. So after the first sync, two build queries per project (builds queued,
and builds finished, since the last activity seen, less a margin) say which pipelines have
anything new, and only those pipelines' runs are read: a sync with nothing new costs two
requests per project instead of one per pipeline.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Iterator

from satellite.ado.client import segment
from satellite.ado.paging import TokenHeader, items
from satellite.streams.base import (
    IncrementalStream,
    KeyFormat,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    content_hash,
    latest_time,
    nested,
    parse_time,
    trim,
    upsert,
)
from satellite.streams.cursors import BuildsCursor, OpenRun, PipelineRunsCursor

__all__ = ["BuildDefinitionsStream", "BuildsStream", "PipelinesStream", "PipelineRunsStream"]

OPEN_STATUSES = "notStarted,inProgress,cancelling,postponed"  # a flags enum: one query for all of them


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


class BuildsStream(IncrementalStream):
    name = "build.builds"
    record_type = "build.build"
    also_emits = ("build.timeline_record",)
    key_format = KeyFormat("{collectionId}:{buildId}", {"buildId": "id"})
    cursor = BuildsCursor
    service = "pipelines"
    scope = Scope.PROJECT

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: BuildsCursor) -> Iterator[StreamItem]:
        finished, open_builds = cursor.finished, dict(cursor.open)
        params = {"queryOrder": "finishTimeAscending", "statusFilter": "completed"}
        if finished.time or ctx.backfill_start:
            params["minTime"] = finished.time or ctx.backfill_start
        for page in ctx.client.pages(builds_path(parent), TokenHeader(ctx.page_sizes.builds), params):
            fresh = [b for b in page.items if finished.admits(b.get("finishTime"), b["id"])]
            yield from self._records(ctx, parent, fresh)
            for build in fresh:
                open_builds.pop(str(build["id"]), None)
            finished = finished.advanced((b.get("finishTime"), b["id"]) for b in fresh)
            yield BuildsCursor(finished, open_builds).checkpoint()
        still_open: dict[str, str] = {}
        for page in ctx.client.pages(builds_path(parent), TokenHeader(ctx.page_sizes.builds), {"statusFilter": OPEN_STATUSES}):
            changed = []
            for build in page.items:
                still_open[str(build["id"])] = digest = content_hash(trim(build))
                if open_builds.get(str(build["id"])) != digest:
                    changed.append(build)
            yield from self._records(ctx, parent, changed)
        yield BuildsCursor(finished, still_open).checkpoint()

    def _records(self, ctx: StreamContext, project: dict, builds: list[dict]) -> Iterator[Record]:
        """Each build, and its timeline once it has started (running builds show live stage status).

        Timelines are fetched concurrently and lazily: only those being fetched are held, not a
        page's worth (a page of 1,000 builds held ~1,000 parsed timelines at once)."""
        started = [b for b in builds if b.get("status") != "notStarted"]
        paths = (f"{builds_path(project)}/{b['id']}/timeline" for b in started)
        timelines = ctx.client.get_many(paths, missing_ok=True, list_key="records")  # None: the build is gone
        for build in builds:
            key = self.key(ctx, build, project)
            yield upsert(self.record_type, key, build)
            if build.get("status") != "notStarted":
                yield from nested("build.timeline_record", key, next(timelines) or [])


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


class PipelineRunsStream(IncrementalStream):
    """Runs of each YAML pipeline with build activity: new runs, and runs not finished last time once they change."""

    name = "pipelines.runs"
    record_type = "pipelines.run"
    key_format = KeyFormat("{collectionId}:{runId}", {"runId": "id"})
    cursor = PipelineRunsCursor
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"
    # the build queries start this long before the latest activity seen, so that a build that shows
    # up late (its transaction committed after a later one was read) is still found; builds already
    # seen in that window are told apart by id
    MARGIN = timedelta(minutes=10)

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: PipelineRunsCursor) -> Iterator[StreamItem]:
        pipelines = ctx.listed.get(PipelinesStream.name)
        due, recent = self._due(ctx, parent, cursor, PipelinesStream().list(ctx, parent) if pipelines is None else pipelines)
        due_ids = {str(p["id"]) for p in due}  # the open runs of the other pipelines stay as they were
        open_runs = {rid: run for rid, run in cursor.open.items() if run.pipeline is not None and run.pipeline not in due_ids}
        highest = dict(cursor.max)
        paths = (f"{segment(parent['id'])}/_apis/pipelines/{p['id']}/runs" for p in due)
        preview = not ctx.client.api_version().at_least("7.0")
        for pipeline, runs in zip(due, ctx.client.get_many(paths, preview=preview, list_key="value")):
            pid = str(pipeline["id"])
            highest.setdefault(pid, 0)
            for run in runs:
                rid, digest, before = str(run["id"]), content_hash(trim(run)), cursor.open.get(str(run["id"]))
                if run.get("state") != "completed":
                    open_runs[rid] = OpenRun(pid, digest)
                if run["id"] > cursor.max.get(pid, 0) or (before is not None and before.digest != digest):
                    yield upsert(self.record_type, self.key(ctx, run, parent), run)
                highest[pid] = max(highest[pid], run["id"])
                for tag, at in ((f"q{rid}", run.get("createdDate")), (f"f{rid}", run.get("finishedDate"))):
                    if at:
                        recent[tag] = at
        activity = latest_time([cursor.activity, *recent.values()])
        window = parse_time(activity) - self.MARGIN if activity else None
        seen = frozenset(tag for tag, at in recent.items() if window and parse_time(at) >= window)
        yield PipelineRunsCursor(highest, open_runs, activity, seen).checkpoint()

    def _due(self, ctx: StreamContext, project: dict, cursor: PipelineRunsCursor,
             pipelines: list[dict]) -> tuple[list[dict], dict[str, str]]:
        """(the pipelines whose runs to read, "q<id>"/"f<id>" -> time of each build queued/finished
        since the last activity less the margin); every pipeline before any activity was seen."""
        if not cursor.activity or not pipelines:
            return pipelines, {}
        recent: dict[str, str] = {}
        active = set()
        since = (parse_time(cursor.activity) - self.MARGIN).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for order, field, mark in (("queueTimeDescending", "queueTime", "q"), ("finishTimeDescending", "finishTime", "f")):
            params = {"queryOrder": order, "minTime": since}
            for build in items(ctx.client.pages(builds_path(project), TokenHeader(ctx.page_sizes.builds), params)):
                if build.get(field):
                    recent[f"{mark}{build['id']}"] = build[field]
                    if f"{mark}{build['id']}" not in cursor.seen:
                        active.add((build.get("definition") or {}).get("id"))
        return [p for p in pipelines if p["id"] in active or str(p["id"]) not in cursor.max], recent

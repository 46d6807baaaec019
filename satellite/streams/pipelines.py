"""Pipelines streams: build definitions, builds with their timelines, YAML pipelines and runs.

Builds change until they finish, and their queue time is no safe cursor, so the builds stream
reads (1) builds completed since the last delivered finish time, in finish-time order, and (2)
the builds still queued or running, delivered again only when they changed. Each build that
has started comes with its timeline (stage, job and task records: durations, results,
attempts); a running build's timeline is read again with every change until it finishes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Iterator

from satellite.ado.client import segment
from satellite.streams.base import (
    IncrementalStream,
    Record,
    Scope,
    SnapshotStream,
    StreamContext,
    StreamItem,
    content_hash,
    cursor_json,
    latest_time,
    parse_time,
    trim,
    upsert,
)

__all__ = ["BuildDefinitionsStream", "BuildsStream", "PipelinesStream", "PipelineRunsStream"]

OPEN_STATUSES = "notStarted,inProgress,cancelling,postponed"  # a flags enum: one query for all of them


class BuildDefinitionsStream(SnapshotStream):
    name = "build.definitions"
    record_type = "build.definition"
    key_format = "{collectionId}:{definitionId}"
    service = "pipelines"
    scope = Scope.PROJECT

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        params = {"queryOrder": "definitionNameAscending", "includeAllProperties": "true"}
        pages = ctx.client.pages_by_token(f"{segment(parent['id'])}/_apis/build/definitions", params, page_size=ctx.page_sizes.default)
        return [d for page in pages for d in page]

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{ctx.collection_id}:{item['id']}"


class BuildsStream(IncrementalStream):
    name = "build.builds"
    record_type = "build.build"
    also_emits = ("build.timeline_record",)
    key_format = "{collectionId}:{buildId}"
    cursor = "last finish time (+ ids at it) + hashes of open builds"
    service = "pipelines"
    scope = Scope.PROJECT

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        state = json.loads(ctx.cursor) if ctx.cursor else {"finish": None, "at_finish": [], "open": {}}
        base = f"{segment(parent['id'])}/_apis/build/builds"
        finish, at_finish, open_builds = state["finish"], set(state["at_finish"]), dict(state["open"])
        params = {"queryOrder": "finishTimeAscending", "statusFilter": "completed"}
        since = finish or ctx.backfill_start
        if since:
            params["minTime"] = since
        for page in ctx.client.pages_by_token(base, params, page_size=ctx.page_sizes.builds):
            fresh = [b for b in page if not (b["id"] in at_finish and b.get("finishTime") == finish)]
            for build, timeline in zip(fresh, self._timelines(ctx, parent, fresh)):
                yield from self._records(ctx, build, timeline)
                open_builds.pop(str(build["id"]), None)
                if build.get("finishTime") != finish:
                    finish, at_finish = build.get("finishTime"), set()
                at_finish.add(build["id"])
            yield cursor_json({"finish": finish, "at_finish": sorted(at_finish), "open": open_builds})
        still_open: dict[str, str] = {}
        for page in ctx.client.pages_by_token(base, {"statusFilter": OPEN_STATUSES}, page_size=ctx.page_sizes.builds):
            changed = []
            for build in page:
                digest = content_hash(trim(build))
                still_open[str(build["id"])] = digest
                if open_builds.get(str(build["id"])) != digest:
                    changed.append(build)
            for build, timeline in zip(changed, self._timelines(ctx, parent, changed)):
                yield from self._records(ctx, build, timeline)
        yield cursor_json({"finish": finish, "at_finish": sorted(at_finish), "open": still_open})

    @staticmethod
    def _timelines(ctx: StreamContext, project: dict, builds: list[dict]) -> Iterator[dict | None]:
        """The timeline of each build in order, fetched concurrently; None before a build starts.

        Lazily: only the timelines being fetched are held, not a page's worth (a page of 1,000
        builds held ~1,000 parsed timelines at once, per project read side by side)."""
        started = [b for b in builds if b.get("status") != "notStarted"]
        paths = (f"{segment(project['id'])}/_apis/build/builds/{b['id']}/timeline" for b in started)
        fetched = ctx.client.get_many(paths, missing_ok=True)
        return (next(fetched) if b.get("status") != "notStarted" else None for b in builds)

    def _records(self, ctx: StreamContext, build: dict, timeline: dict | None) -> Iterator[Record]:
        """The build, and its timeline once it has started (running builds show live stage status)."""
        key = f"{ctx.collection_id}:{build['id']}"
        yield upsert(self.record_type, key, build)
        for record in (timeline or {}).get("records") or []:
            yield upsert("build.timeline_record", f"{key}:{record['id']}", record)


class PipelinesStream(SnapshotStream):
    """YAML pipelines (the Pipelines API exists from Server 2020)."""

    name = "pipelines.pipelines"
    record_type = "pipelines.pipeline"
    key_format = "{collectionId}:{pipelineId}"
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        preview = not ctx.client.api_version().at_least("7.0")  # 6.0-preview.1 on Server 2020
        pages = ctx.client.pages_by_token(f"{segment(parent['id'])}/_apis/pipelines", page_size=ctx.page_sizes.default, preview=preview)
        return [p for page in pages for p in page]

    def key(self, ctx: StreamContext, item: dict, parent: dict | None) -> str:
        return f"{ctx.collection_id}:{item['id']}"


class PipelineRunsStream(IncrementalStream):
    """Runs of each YAML pipeline: new runs, and runs not finished last time once they change.

    The runs list of a pipeline has no time filter, but a run is a build of the pipeline's
    definition. So after the first sync, two build queries per project (builds queued, and builds
    finished, since the last activity seen, less a margin) say which pipelines have anything new,
    and only those pipelines' runs are read: a sync with nothing new costs two requests per project
    instead of one per pipeline.
    """

    name = "pipelines.runs"
    record_type = "pipelines.run"
    key_format = "{collectionId}:{runId}"
    cursor = "highest run id per pipeline + hashes of open runs + time of the latest build activity"
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"

    # the build queries start this long before the latest activity seen, so that a build that shows
    # up late (its transaction committed after a later one was read) is still found; builds already
    # seen in that window are told apart by id
    MARGIN = timedelta(minutes=10)

    def read(self, ctx: StreamContext, parent: dict | None) -> Iterator[StreamItem]:
        state = json.loads(ctx.cursor) if ctx.cursor else {"max": {}, "open": {}}
        preview = not ctx.client.api_version().at_least("7.0")
        pipelines = ctx.listed.get(PipelinesStream.name)
        if pipelines is None:
            pipelines = PipelinesStream().list(ctx, parent)
        previous_open = state["open"]
        activity = state.get("activity")  # none before any run was seen, or in a cursor older than it
        seen = set(state.get("seen", []))
        highest: dict[str, int] = dict(state["max"])
        recent: dict[str, str] = {}  # "q<id>"/"f<id>" (queued/finished) -> time, of builds and runs seen now
        if not activity or not pipelines:
            due = pipelines
        else:
            active = set()
            for tag, definition, moment in self._build_activity(ctx, parent, activity):
                recent[tag] = moment
                if tag not in seen:
                    active.add(definition)
            due = [p for p in pipelines if p["id"] in active or str(p["id"]) not in highest]
        due_ids = {str(p["id"]) for p in due}
        # open runs of the pipelines not read this time stay as they were
        open_runs = {rid: entry for rid, entry in previous_open.items()
                     if isinstance(entry, list) and entry[0] not in due_ids}
        paths = (f"{segment(parent['id'])}/_apis/pipelines/{p['id']}/runs" for p in due)
        for pipeline, body in zip(due, ctx.client.get_many(paths, preview=preview)):
            pid = str(pipeline["id"])
            highest.setdefault(pid, 0)
            for run in body.get("value", []):
                rid = str(run["id"])
                digest = content_hash(trim(run))
                if run.get("state") != "completed":
                    open_runs[rid] = [pid, digest]
                before = previous_open.get(rid)
                before_digest = before[1] if isinstance(before, list) else before
                if run["id"] > state["max"].get(pid, 0) or (before is not None and before_digest != digest):
                    yield upsert(self.record_type, f"{ctx.collection_id}:{rid}", run)
                highest[pid] = max(highest[pid], run["id"])
                for tag, moment in ((f"q{rid}", run.get("createdDate")), (f"f{rid}", run.get("finishedDate"))):
                    if moment:
                        recent[tag] = moment
        activity = latest_time([activity, *recent.values()])
        window = parse_time(activity) - self.MARGIN if activity else None
        seen_now = sorted(tag for tag, moment in recent.items() if window and parse_time(moment) >= window)
        yield cursor_json({"max": highest, "open": open_runs, "activity": activity, "seen": seen_now})

    def _build_activity(self, ctx: StreamContext, project: dict, since: str) -> Iterator[tuple[str, int, str]]:
        """(tag, definition id, time) of each build queued, and each finished, since ``since`` less the margin."""
        base = f"{segment(project['id'])}/_apis/build/builds"
        start = _iso(parse_time(since) - self.MARGIN)
        for order, field, mark in (("queueTimeDescending", "queueTime", "q"), ("finishTimeDescending", "finishTime", "f")):
            params = {"queryOrder": order, "minTime": start}
            for page in ctx.client.pages_by_token(base, params, page_size=ctx.page_sizes.builds):
                for build in page:
                    if build.get(field):
                        yield f"{mark}{build['id']}", (build.get("definition") or {}).get("id"), build[field]


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

"""Pipelines streams: build definitions, builds with their timelines, YAML pipelines and runs.

Builds change until they finish (and again when re-run: same id, a new attempt), and their
queue time is no safe cursor, so the builds stream reads (1) builds completed since the last
finish time less the overlap, in finish-time order, sending those new or changed (id and content
hash), (2) the builds still queued or running, delivered again only when they changed, and (3)
each build open last time that neither list shows any more, on its own. Each build that has
started comes with its timeline (stage, job and task records: durations, results, ``attempt`` and
``previousAttempts``); it is read again with every change of the build, a rerun's included.

Pipeline runs: the runs list of a pipeline has no time filter, but a run is a build of the
pipeline's definition. So after the first sync, two build queries per project (builds queued,
and builds finished, since the last activity seen, less a margin) say which pipelines have
anything new, and only those pipelines' runs are read: a sync with nothing new costs two
requests per project instead of one per pipeline. A run whose build was queued or finished since
(a rerun finishing again, a run visible late below the highest id) is sent whatever its id. The
runs list answers "top 10000 runs" with no paging: older runs come from the builds API.
"""

from __future__ import annotations

from datetime import timedelta
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
    delete,
    latest_time,
    nested,
    parse_time,
    trim,
    upsert,
)
from satellite.streams.cursors import BuildsCursor, OpenRun, PipelineRunsCursor, format_time

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
    # A read from no cursor meets every build of the project within the backfill start: the completed
    # ones finished since it (every page, whatever the cursor's hashes: none yet) and every open one
    # (no time filter). A build finishing between the two queries is in neither, so each build not met
    # is asked for alone (``gone``): only a 404 or a ``deleted`` answer deletes it. Timeline records
    # (children) are not reconciled.
    reconciled = ("build.build",)
    service = "pipelines"
    scope = Scope.PROJECT

    def gone(self, ctx: StreamContext, parent: dict | None, record_type: str, keys: list[str]) -> list[str]:
        return _builds_gone(ctx, parent, keys)

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: BuildsCursor) -> Iterator[StreamItem]:
        finished, open_builds = cursor.finished, dict(cursor.open)
        params = {"queryOrder": "finishTimeAscending", "statusFilter": "completed"}
        since = finished.since(ctx.overlap) or ctx.backfill_start
        if since:
            params["minTime"] = since
        for page in ctx.client.pages(builds_path(parent), TokenHeader(ctx.page_sizes.builds), params):
            hashed = [(build, content_hash(trim(build))) for build in page.items]
            # new, or changed since read: a rerun completes again with a new finish time and result
            fresh = [b for b, digest in hashed if finished.admits(b.get("finishTime"), b["id"], digest)]
            yield from self._records(ctx, parent, fresh)
            for build in fresh:
                open_builds.pop(str(build["id"]), None)
            finished = finished.advanced(((b.get("finishTime"), b["id"], d) for b, d in hashed), ctx.overlap)
            yield BuildsCursor(finished, open_builds).checkpoint()
        still_open: dict[str, str] = {}
        for page in ctx.client.pages(builds_path(parent), TokenHeader(ctx.page_sizes.builds), {"statusFilter": OPEN_STATUSES}):
            changed = []
            for build in page.items:
                still_open[str(build["id"])] = digest = content_hash(trim(build))
                if open_builds.get(str(build["id"])) != digest:
                    changed.append(build)
            yield from self._records(ctx, parent, changed)
        # open last time, open no more, and not among the completed builds just read: completed before
        # the overlap (or after the completed query ran), or deleted (404, or answered with ``deleted``
        # true): each is read on its own and sent, or deleted.
        vanished = sorted(int(i) for i in open_builds.keys() - still_open.keys())
        paths = (f"{builds_path(parent)}/{i}" for i in vanished)
        answers = list(zip(vanished, ctx.client.get_many(paths, missing_ok=True)))
        found = [b for _, b in answers if b is not None and not b.get("deleted")]
        yield from self._records(ctx, parent, found)
        for build_id, build in answers:  # known deleted: the build goes (its timeline records: the reconcile)
            if build is None or build.get("deleted"):
                yield delete(self.record_type, self.key(ctx, {"id": build_id}, parent))
        done = [(b.get("finishTime"), b["id"], content_hash(trim(b))) for b in found if b.get("status") == "completed"]
        still_open.update((str(b["id"]), content_hash(trim(b))) for b in found if b.get("status") != "completed")
        yield BuildsCursor(finished.advanced(done, ctx.overlap, move=False), still_open).checkpoint()

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
    """Runs of each YAML pipeline with build activity: new runs, runs whose build was queued or
    finished (again) since the last read, and runs not finished last time once they change."""

    name = "pipelines.runs"
    record_type = "pipelines.run"
    key_format = KeyFormat("{collectionId}:{runId}", {"runId": "id"})
    cursor = PipelineRunsCursor
    # A read from no cursor reads every pipeline listed (no activity known yet) as a first read: its
    # runs list, and the older runs the capped list leaves out from the builds API (no time filter),
    # each sent whatever its id. A run not met (its pipeline deleted, or a run the list and the builds
    # query both missed while runs were queued) is asked for alone as the build it is (a run id is a
    # build id; Get Run needs the pipeline, which the key does not hold): only a 404 or a ``deleted``
    # build deletes it.
    reconciled = ("pipelines.run",)
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"
    # the build queries start this long before the latest activity seen (or the configured overlap,
    # if longer), so that a build that shows up late (its transaction committed after a later one was
    # read) is still found; events already seen in that window are told apart by id and time
    MARGIN = timedelta(minutes=10)
    # pipelines 6.0-7.1 Runs - List: "Gets top 10000 runs for a particular pipeline." (no $top, no token)
    RUNS_CAP = 10_000

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: PipelineRunsCursor) -> Iterator[StreamItem]:
        pipelines = ctx.listed.get(PipelinesStream.name)
        pipelines = PipelinesStream().list(ctx, parent) if pipelines is None else pipelines
        due, recent, active = self._due(ctx, parent, cursor, pipelines)
        due_ids = {str(p["id"]) for p in due}  # the open runs of the other pipelines stay as they were
        open_runs = {rid: run for rid, run in cursor.open.items() if run.pipeline is not None and run.pipeline not in due_ids}
        highest = dict(cursor.max)
        paths = (f"{segment(parent['id'])}/_apis/pipelines/{p['id']}/runs" for p in due)
        preview = not ctx.client.api_version().at_least("7.0")
        for pipeline, runs in zip(due, ctx.client.get_many(paths, preview=preview, list_key="value")):
            pid = str(pipeline["id"])
            first_read = pid not in cursor.max
            highest.setdefault(pid, 0)
            for run in runs:
                rid, digest, before = str(run["id"]), content_hash(trim(run)), cursor.open.get(str(run["id"]))
                if run.get("state") != "completed":
                    open_runs[rid] = OpenRun(pid, digest)
                # new; or its build queued or finished since the last read (a run that showed up late
                # with an id below the highest, a rerun completing again); or open last time and changed
                if (first_read or run["id"] > cursor.max[pid] or run["id"] in active
                        or (before is not None and before.digest != digest)):
                    yield upsert(self.record_type, self.key(ctx, run, parent), run)
                highest[pid] = max(highest[pid], run["id"])
                recent.update(_events(run, "createdDate", "finishedDate"))
            listed = {run["id"] for run in runs}
            if runs and first_read:  # later, a run leaving the capped list was delivered while in it
                for run in self._older_runs(ctx, parent, pipeline, runs, listed):
                    highest[pid] = max(highest[pid], run["id"])
                    yield upsert(self.record_type, self.key(ctx, run, parent), run)
            # active builds of this pipeline the list no longer holds (beyond its cap): read one by one
            beyond = sorted(i for i, definition in active.items() if str(definition) == pid and i not in listed)
            single = (f"{segment(parent['id'])}/_apis/pipelines/{pid}/runs/{i}" for i in beyond)
            for run in ctx.client.get_many(single, preview=preview, missing_ok=True):
                if run is not None:
                    yield upsert(self.record_type, self.key(ctx, run, parent), run)
        activity = latest_time([cursor.activity, *recent.values()])
        window = parse_time(activity) - self._margin(ctx) if activity else None
        seen = frozenset(f"{tag}@{_norm(at)}" for tag, at in recent.items() if window and parse_time(at) >= window)
        yield PipelineRunsCursor(highest, open_runs, activity, seen).checkpoint()

    def gone(self, ctx: StreamContext, parent: dict | None, record_type: str, keys: list[str]) -> list[str]:
        return _builds_gone(ctx, parent, keys)

    def _margin(self, ctx: StreamContext) -> timedelta:
        return max(self.MARGIN, ctx.overlap)

    def _due(self, ctx: StreamContext, project: dict, cursor: PipelineRunsCursor,
             pipelines: list[dict]) -> tuple[list[dict], dict[str, str], dict[int, int]]:
        """(the pipelines whose runs to read, "q<id>"/"f<id>" -> time of each build queued/finished
        since the last activity less the margin, build id -> pipeline id of the builds with an event
        not seen before); every pipeline before any activity was seen."""
        if not cursor.activity or not pipelines:
            return pipelines, {}, {}
        recent: dict[str, str] = {}
        active: dict[int, int] = {}
        since = format_time(parse_time(cursor.activity) - self._margin(ctx))
        for order, field in (("queueTimeDescending", "queueTime"), ("finishTimeDescending", "finishTime")):
            params = {"queryOrder": order, "minTime": since}
            for build in items(ctx.client.pages(builds_path(project), TokenHeader(ctx.page_sizes.builds), params)):
                for tag, at in _events(build, *(("queueTime", None) if field == "queueTime" else (None, "finishTime"))).items():
                    recent[tag] = at
                    # an older cursor's tag has no time: an event of that build already seen
                    if f"{tag}@{_norm(at)}" not in cursor.seen and tag not in cursor.seen:
                        active[build["id"]] = (build.get("definition") or {}).get("id")
        wanted = set(active.values())
        return [p for p in pipelines if p["id"] in wanted or str(p["id"]) not in cursor.max], recent, active

    def _older_runs(self, ctx: StreamContext, project: dict, pipeline: dict, runs: list[dict],
                    listed: set[int]) -> Iterator[dict]:
        """Runs the capped list leaves out, from the builds API (which pages), as runs.

        Asked on a pipeline's first read only, whatever the list's length (a server's real cap may be
        lower than the documented ``RUNS_CAP``; a list under it costs this one request). Later a run
        that leaves the list was delivered while in it, and one beyond it that changes (a rerun)
        shows as activity and is read alone. Each build is mapped to the run the list would show:
        one run GET per older run would cost a request per run of a backfill beyond 10,000."""
        created = [r["createdDate"] for r in runs if r.get("createdDate")]
        params = {"definitions": str(pipeline["id"]), "queryOrder": "queueTimeDescending"}
        if created:
            params["maxTime"] = min(created, key=parse_time)  # older than the oldest run listed
        for build in items(ctx.client.pages(builds_path(project), TokenHeader(ctx.page_sizes.builds), params)):
            if build["id"] not in listed:
                listed.add(build["id"])
                yield run_of_build(pipeline, build)


def _builds_gone(ctx: StreamContext, project: dict, keys: list[str]) -> list[str]:
    """Of keys "<collectionId>:<build id>", those whose build answers 404 or ``deleted`` when asked
    alone (another error raises: nothing is deleted)."""
    paths = (f"{builds_path(project)}/{int(key.rsplit(':', 1)[1])}" for key in keys)
    answers = ctx.client.get_many(paths, missing_ok=True)
    return [key for key, build in zip(keys, answers) if build is None or build.get("deleted")]


# Build status/result -> Run state/result (pipelines RunState: canceling, completed, inProgress, unknown;
# RunResult: canceled, failed, succeeded, unknown)
RUN_STATES = {"notStarted": "inProgress", "inProgress": "inProgress", "postponed": "inProgress",
              "cancelling": "canceling", "completed": "completed"}
RUN_RESULTS = {"succeeded": "succeeded", "partiallySucceeded": "succeeded", "failed": "failed", "canceled": "canceled"}


def run_of_build(pipeline: dict, build: dict) -> dict:
    """The run a pipeline's runs list shows for one of its builds: the pipeline reference, state,
    result, created (queue) and finished times, url, id and name (the build number)."""
    reference = {k: pipeline[k] for k in ("url", "id", "revision", "name", "folder") if k in pipeline}
    run: dict = {"pipeline": reference, "state": RUN_STATES.get(build.get("status", ""), "unknown")}
    if build.get("status") == "completed":
        run["result"] = RUN_RESULTS.get(build.get("result", ""), "unknown")
    if build.get("queueTime"):
        run["createdDate"] = build["queueTime"]
    if build.get("status") == "completed" and build.get("finishTime"):
        run["finishedDate"] = build["finishTime"]
    base = str(pipeline.get("url", "")).split("?")[0]
    return run | {"url": f"{base}/runs/{build['id']}", "id": build["id"], "name": build.get("buildNumber")}


def _events(item: dict, queued: str | None, finished: str | None) -> dict[str, str]:
    """"q<id>"/"f<id>" -> the time a build or run was queued / finished (those it has)."""
    out = {}
    for mark, field in (("q", queued), ("f", finished)):
        if field and item.get(field):
            out[f"{mark}{item['id']}"] = item[field]
    return out


def _norm(at: str) -> str:
    return format_time(parse_time(at))

"""The pipeline runs stream, and its collaborators: the build activity that says which pipelines
are due, and the runs backfill from the builds API.

Pipeline runs: the runs list of a pipeline has no time filter, but a run is a build of the
pipeline's definition. So after the first sync, two build queries per project (builds queued,
and builds finished, since the last activity seen, less a margin) say which pipelines have
anything new, and only those pipelines' runs are read: a sync with nothing new costs two
requests per project instead of one per pipeline. The same activity says when the deployment records
of the project's YAML environments may have changed: the stream reads them too (``environments.py``).
A run whose build was queued or finished since (a rerun finishing again, a run visible late below
the highest id) is sent whatever its id. The runs list answers "top 10000 runs" with no paging:
older runs come from the builds API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

from satellite.ado.client import segment
from satellite.ado.paging import TokenHeader, items
from satellite.streams.base import (
    IncrementalStream,
    KeyFormat,
    Scope,
    StreamContext,
    StreamItem,
    content_hash,
    latest_time,
    parse_time,
    trim,
)
from satellite.streams.cursors import OpenRun, PipelineRunsCursor, earliest_time, format_time
from satellite.streams.environments import RECORD_TYPE, environment_deployments
from satellite.streams.pipelines import PipelinesStream, builds_gone, builds_path, newest_queue_time

__all__ = ["PipelineRunsStream", "BuildActivity", "older_runs", "run_of_build", "RUNS_CAP", "MARGIN"]

# the build queries start this long before the latest activity seen (or the configured overlap,
# if longer), so that a build that shows up late (its transaction committed after a later one was
# read) is still found; events already seen in that window are told apart by id and time
MARGIN = timedelta(minutes=10)
# pipelines 6.0-7.1 Runs - List: "Gets top 10000 runs for a particular pipeline." (no $top, no token)
RUNS_CAP = 10_000


class PipelineRunsStream(IncrementalStream):
    """Runs of each YAML pipeline with build activity: new runs, runs whose build was queued or
    finished (again) since the last read, and runs not finished last time once they change."""

    name = "pipelines.runs"
    record_type = "pipelines.run"
    also_emits = (RECORD_TYPE,)  # YAML environments' deployment records: they change only with runs (environments.py)
    key_format = KeyFormat("{collectionId}:{runId}", {"runId": "id"})
    cursor = PipelineRunsCursor
    # A read from no cursor reads every pipeline listed (no activity known yet) as a first read: its runs list,
    # and the older runs the capped list leaves out from the builds API (no time filter), each sent whatever
    # its id. A run not met (its pipeline deleted, or a run the list and the builds query both missed while
    # runs were queued) is asked for alone as the build it is (a run id is a build id; Get Run needs the
    # pipeline, which the key does not hold): only a 404 or a ``deleted`` build deletes it.
    reconciled = ("pipelines.run",)
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: PipelineRunsCursor) -> Iterator[StreamItem]:
        pipelines = ctx.listed.get(PipelinesStream.name)
        pipelines = PipelinesStream().list(ctx, parent) if pipelines is None else pipelines
        pipeline_ids = {p["id"] for p in pipelines}  # a malformed list fails here, named for its route, before any build query
        activity = BuildActivity.read(ctx, parent, cursor, pipelines)
        recent, active = dict(activity.recent), activity.active
        due_ids = {str(p["id"]) for p in activity.due}  # open runs of others stay
        open_runs = {rid: run for rid, run in cursor.open.items() if run.pipeline is not None and run.pipeline not in due_ids}
        highest = dict(cursor.max)
        paths = (f"{segment(parent['id'])}/_apis/pipelines/{p['id']}/runs" for p in activity.due)
        preview = not ctx.client.api_version().at_least("7.0")
        for pipeline, runs in zip(activity.due, ctx.client.get_many(paths, preview=preview, list_key="value")):
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
                    yield self.upsert_of(ctx, run, parent)
                highest[pid] = max(highest[pid], run["id"])
                recent.update(_events(run, "createdDate", "finishedDate"))
            listed = {run["id"] for run in runs}
            if runs and first_read:  # later, a run leaving the capped list was delivered while in it
                for run in older_runs(ctx, parent, pipeline, runs, listed):
                    highest[pid] = max(highest[pid], run["id"])
                    yield self.upsert_of(ctx, run, parent)
            # active builds of this pipeline the list no longer holds (beyond its cap): read one by one
            beyond = sorted(i for i, definition in active.items() if str(definition) == pid and i not in listed)
            single = (f"{segment(parent['id'])}/_apis/pipelines/{pid}/runs/{i}" for i in beyond)
            for run in ctx.client.get_many(single, preview=preview, missing_ok=True):
                if run is not None:
                    yield self.upsert_of(ctx, run, parent)
        marks = yield from environment_deployments(ctx, parent, cursor.environments, set(active.values()) & pipeline_ids)
        yield PipelineRunsCursor(highest, open_runs, *_seen_since(ctx, cursor.activity, recent, activity.visible), marks,
                                 activity.visible).checkpoint()

    def gone(self, ctx: StreamContext, parent: dict | None, record_type: str, keys: list[str]) -> list[str]:
        return builds_gone(ctx, parent, keys)


def _margin(ctx: StreamContext) -> timedelta:
    return max(MARGIN, ctx.overlap)


def _seen_since(ctx: StreamContext, activity: str | None, recent: dict[str, str],
                visible: str | None) -> tuple[str | None, frozenset[str]]:
    """The latest activity seen, and the events ("<tag>@<time>") the next activity queries meet again:
    inside the margin before it (or before ``visible``, if earlier)."""
    activity = latest_time([activity, *recent.values()])
    start = earliest_time([activity, visible])
    window = parse_time(start) - _margin(ctx) if start else None
    return activity, frozenset(f"{tag}@{_norm(at)}" for tag, at in recent.items() if window and parse_time(at) >= window)


@dataclass(frozen=True)
class BuildActivity:
    """What the builds API says of a project since the last activity seen less the margin: the
    pipelines whose runs to read (``due``), "q<id>"/"f<id>" -> time of each build queued/finished
    (``recent``), build id -> pipeline id of the builds with an event not seen before (``active``);
    every pipeline before any activity was seen. ``visible``: a time the server's clock had passed
    when this read began (the latest time read before it, and the queue times the queued builds
    query answers): a build queued later finished later, so the next queries start no later than it.

    The two queries (and the runs lists) see the server at different moments, and a completion can
    be committed late (the build reads as running while later builds read as finished): a build
    queued after the queued builds query and completed late by the finished builds query is in
    neither, and the latest activity moves past both its times. Without ``visible`` it would never
    be read again."""

    due: list[dict]
    recent: dict[str, str]
    active: dict[int, int]
    visible: str | None = None

    @classmethod
    def read(cls, ctx: StreamContext, project: dict, cursor: PipelineRunsCursor, pipelines: list[dict]) -> BuildActivity:
        visible = latest_time([cursor.visible_at, cursor.activity]) or cursor.visible_at
        if not pipelines:
            return cls(pipelines, {}, {}, visible)
        if cursor.visible_at is None and not cursor.activity:  # a first read: before any runs list is read
            visible = newest_queue_time(ctx, builds_path(project))
        if not cursor.activity:  # no activity known yet: every pipeline's runs
            return cls(pipelines, {}, {}, visible)
        recent: dict[str, str] = {}
        active: dict[int, int] = {}
        since = format_time(parse_time(earliest_time([cursor.activity, cursor.visible_at]) or cursor.activity) - _margin(ctx))
        for order, field in (("queueTimeDescending", "queueTime"), ("finishTimeDescending", "finishTime")):
            params = {"queryOrder": order, "minTime": since}
            for build in items(ctx.client.pages(builds_path(project), TokenHeader(ctx.page_sizes.builds), params)):
                if field == "queueTime":
                    visible = latest_time([visible, build.get("queueTime")]) or visible
                for tag, at in _events(build, *(("queueTime", None) if field == "queueTime" else (None, "finishTime"))).items():
                    recent[tag] = at
                    # an older cursor's tag has no time: an event of that build already seen
                    if f"{tag}@{_norm(at)}" not in cursor.seen and tag not in cursor.seen:
                        active[build["id"]] = (build.get("definition") or {}).get("id")
        wanted = set(active.values())
        return cls([p for p in pipelines if p["id"] in wanted or str(p["id"]) not in cursor.max], recent, active, visible)


def older_runs(ctx: StreamContext, project: dict, pipeline: dict, runs: list[dict], listed: set[int]) -> Iterator[dict]:
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

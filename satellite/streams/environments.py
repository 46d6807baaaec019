"""YAML environments (Server 2020+) and their deployment records.

Environments are a snapshot per project. A deployment record (``environmentdeploymentrecords``) is
one deployment job attempt; its ``result`` and ``finishTime`` are set when the job completes. The
records of an environment are listed newest first (id descending), paged by ``top`` and the
``x-ms-continuationtoken`` header, with no time filter. Per environment the cursor holds the highest
record id delivered and the records still open when read: a read walks newest first down to the
lowest of those, sends the new records and the open ones that changed.

A record changes only while the run that owns it runs, so after its first read an environment is
read again only when it had open records, or when a build of the project finished since the last
read (one builds query per project, ``finishTimeDescending`` from the latest finish seen less a
margin, as the pipeline runs stream does): a sync with nothing new costs that one request per
project, not one per environment. A record queued and finished while its run goes on is delivered
when the run finishes (or with any other finish before).
"""

from __future__ import annotations

from typing import Iterator

from satellite.ado.client import segment
from satellite.ado.paging import NewestFirst, TokenHeader, items
from satellite.errors import AdoNotFoundError
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
from satellite.streams.cursors import DeploymentRecordsCursor, format_time
from satellite.streams.pipeline_runs import MARGIN
from satellite.streams.pipelines import builds_path

__all__ = ["EnvironmentsStream", "EnvironmentDeploymentsStream", "builds_finished_since"]


def _preview(ctx: StreamContext) -> bool:
    return not ctx.client.api_version().at_least("7.0")  # distributedtask 6.0: 6.0-preview.1 only


def _environments(project: dict) -> str:
    return f"{segment(project['id'])}/_apis/distributedtask/environments"


class EnvironmentsStream(SnapshotStream):
    """YAML environments of a project."""

    name = "distributedtask.environments"
    record_type = "distributedtask.environment"
    key_format = KeyFormat("{projectId}:{environmentId}", {"environmentId": "id"}, parent="projectId")
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        pages = ctx.client.pages(_environments(parent), TokenHeader(ctx.page_sizes.default), preview=_preview(ctx))
        return list(items(pages))


class EnvironmentDeploymentsStream(IncrementalStream):
    """Deployment records of each YAML environment: new ones, and those open last time once they change."""

    name = "distributedtask.environment_deployments"
    record_type = "distributedtask.environment_deployment"
    key_format = KeyFormat("{projectId}:{environmentId}:{recordId}", {"recordId": "id"}, parent="projectId")
    cursor = DeploymentRecordsCursor
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"

    def read_since(self, ctx: StreamContext, parent: dict | None, cursor: DeploymentRecordsCursor) -> Iterator[StreamItem]:
        environments = ctx.listed.get(EnvironmentsStream.name)
        environments = EnvironmentsStream().list(ctx, parent) if environments is None else environments
        activity, seen, finished = builds_finished_since(ctx, parent, cursor)
        marks: dict[str, tuple[int, dict[int, str]]] = {}
        for environment in environments:
            eid, mark = str(environment["id"]), cursor.environments.get(str(environment["id"]))
            if mark is not None and not mark[1] and not finished:
                marks[eid] = mark  # nothing open, no run finished: nothing can have changed
                continue
            delivered, was_open = mark or (0, {})
            walk = NewestFirst(TokenHeader(ctx.page_sizes.default, "top"), "id", min([delivered, *(i - 1 for i in was_open)]))
            path = f"{_environments(parent)}/{environment['id']}/environmentdeploymentrecords"
            top, now_open = delivered, {}
            try:
                for record in items(ctx.client.pages(path, walk, preview=_preview(ctx))):
                    digest = content_hash(trim(record))
                    if not record.get("finishTime"):
                        now_open[record["id"]] = digest
                    if record["id"] > delivered or was_open.get(record["id"], digest) != digest:
                        yield upsert(self.record_type, self.key(ctx, {**record, "environmentId": environment["id"]}, parent), record)
                    top = max(top, record["id"])
            except AdoNotFoundError:
                continue  # the environment was deleted since it was listed
            marks[eid] = (top, now_open)
            yield DeploymentRecordsCursor({**cursor.environments, **marks}, cursor.activity, cursor.seen).checkpoint()
        yield DeploymentRecordsCursor(marks, activity, seen).checkpoint()


def builds_finished_since(ctx: StreamContext, project: dict, cursor: DeploymentRecordsCursor) -> tuple[str | None, frozenset[str], bool]:
    """The latest build finish known, the builds finished within the margin before it ("<id>@<time>"),
    and whether a build finished that the last read had not seen. The first read asks for the latest
    page only (every environment is read then anyway)."""
    margin = max(MARGIN, ctx.overlap)
    since = format_time(parse_time(cursor.activity) - margin) if cursor.activity else None
    params = {"queryOrder": "finishTimeDescending", **({"minTime": since} if since else {})}
    pages = ctx.client.pages(builds_path(project), TokenHeader(ctx.page_sizes.builds), params)
    builds = list(items(pages)) if since else next(iter(pages)).items
    tags = {f"{b['id']}@{format_time(parse_time(b['finishTime']))}" for b in builds if b.get("finishTime")}
    latest = latest_time([cursor.activity, *(b.get("finishTime") for b in builds)])
    floor = parse_time(latest) - margin if latest else None
    kept = frozenset(t for t in tags | cursor.seen if floor and parse_time(t.split("@", 1)[1]) >= floor)
    return latest, kept, bool(tags - cursor.seen)

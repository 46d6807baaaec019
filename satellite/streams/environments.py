"""YAML environments (Server 2020+) and their deployment records.

Environments are a snapshot per project. A deployment record (``environmentdeploymentrecords``) is
one deployment job attempt of a pipeline run; its ``result`` and ``finishTime`` are set when the job
completes. An environment's records are listed newest first (id descending), paged by ``top`` and
the ``x-ms-continuationtoken`` header, with no time filter. Per environment the cursor holds the
highest record id delivered, the records still open when read and the highest id of the walk before
(``EnvironmentMark``): a read walks newest first down to the lowest of those and sends the records
not delivered yet (one committed after a higher id was read among them) and the open ones that changed.

A record changes only while the run that owns it runs, and a run is a build: so the records are read
by the pipeline runs stream (``pipelines.runs``), whose build queries already say whether any build
was queued or finished since its last read. An environment is read again only when there was such
activity, when it had open records, or when it is new: a sync with nothing new reads no record (the
environments list is the one request more per project). A record queued and finished while its run
goes on, with no other build activity, is delivered when the run finishes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Generator, Mapping

from satellite.ado.client import segment
from satellite.ado.paging import NewestFirst, TokenHeader, items
from satellite.errors import AdoNotFoundError
from satellite.streams.base import KeyFormat, Record, Scope, SnapshotStream, StreamContext, content_hash, trim, upsert
from satellite.streams.cursors import EnvironmentMark

__all__ = ["EnvironmentsStream", "environment_deployments", "RECORD_TYPE", "RECORD_KEY"]

RECORD_TYPE = "distributedtask.environment_deployment"
RECORD_KEY = KeyFormat("{projectId}:{environmentId}:{recordId}", {"recordId": "id"}, parent="projectId")
Marks = Mapping[str, EnvironmentMark]  # by environment id


def _preview(ctx: StreamContext) -> bool:
    return not ctx.client.api_version().at_least("7.0")  # distributedtask 6.0: 6.0-preview.1 only


def _environments(project: dict) -> str:
    return f"{segment(project['id'])}/_apis/distributedtask/environments"


class EnvironmentsStream(SnapshotStream):
    """YAML environments of a project."""

    name = "distributedtask.environments"
    record_type = "distributedtask.environment"
    nested_types = ("distributedtask.environment_deployment",)  # keyed "<project id>:<environment id>:<record id>"
    key_format = KeyFormat("{projectId}:{environmentId}", {"environmentId": "id"}, parent="projectId")
    service = "pipelines"
    scope = Scope.PROJECT
    min_version = "6.0"

    def list(self, ctx: StreamContext, parent: dict | None) -> list[dict]:
        pages = ctx.client.pages(_environments(parent), TokenHeader(ctx.page_sizes.default), preview=_preview(ctx))
        return list(items(pages))


def environment_deployments(ctx: StreamContext, project: dict, marks: Marks, activity: object) -> Generator[Record, None, Marks]:
    """The deployment records new or changed since ``marks`` of the environments listed in this run,
    and returns the marks after them. ``activity`` (true or not): a build of a YAML pipeline was
    queued or finished since the last read; without it only environments new or with open records
    are read."""
    environments = ctx.listed.get(EnvironmentsStream.name)
    if environments is None:  # not listed (their unit failed): with activity, each read is owed to the next run,
        # noted as a record open above the highest delivered (the walk's floor stays; its id, if it comes, is new)
        return {eid: replace(mark, open={**mark.open, mark.top + 1: "owed"}) if activity else mark
                for eid, mark in marks.items()}
    after: dict[str, EnvironmentMark] = {}
    for environment in environments:
        eid, mark = str(environment["id"]), marks.get(str(environment["id"]))
        if mark is not None and not mark.open and not activity:
            after[eid] = mark  # nothing open, no build activity: nothing can have changed
            continue
        before = mark or EnvironmentMark()
        walk = NewestFirst(TokenHeader(ctx.page_sizes.default, "top"), "id", before.walk_to)
        top, now_open, met = before.top, {}, set()
        try:
            for record in items(ctx.client.pages(f"{_environments(project)}/{eid}/environmentdeploymentrecords", walk,
                                                 preview=_preview(ctx))):
                digest = content_hash(trim(record))
                if not record.get("finishTime"):
                    now_open[record["id"]] = digest
                if not before.delivered(record["id"]) or before.open.get(record["id"], digest) != digest:
                    yield upsert(RECORD_TYPE, RECORD_KEY.build(ctx.collection_id, {**record, "environmentId": environment["id"]},
                                                               project), record)
                top = max(top, record["id"])
                met.add(record["id"])
        except AdoNotFoundError:
            continue  # deleted since it was listed
        floor = before.top if mark is not None else top  # a first walk: its own top, nothing below it to wait for
        after[eid] = EnvironmentMark(top, now_open, floor, frozenset(i for i in met if i > floor))
    return after

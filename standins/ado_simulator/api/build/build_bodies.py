"""Build response bodies: BuildDefinitionReference/BuildDefinition, Build and Timeline, per the on-prem specs."""

from __future__ import annotations

from standins.ado_simulator.world.pipelines.build_timeline import TimelineRecord
from standins.ado_simulator.world.pipelines.builds import COMPLETED, NOT_STARTED, Build, BuildDomain, Definition, stamp
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.api.core.core_routes import project_json
from standins.ado_simulator.world.model import iso, iso_fraction

__all__ = ["definition_url", "definition_ref", "definition_json", "build_json", "timeline_json", "queue_json"]

_SERVICE_IDENTITY = "00000002-0000-8888-8000-000000000000"  # the build service writes timelines


def definition_url(site: Site, req: Request, definition: Definition) -> str:
    project = site.world.projects[definition.project]
    return f"{site.collection_url(req)}/{project.id}/_apis/build/Definitions/{definition.id}"


def queue_json(site: Site, req: Request, definition: Definition) -> dict:
    """AgentPoolQueue."""
    queue = definition.queue
    url = f"{site.collection_url(req)}/_apis/build/Queues/{queue.id}"
    return {"_links": {"self": {"href": url}}, "id": queue.id, "name": queue.name, "url": url,
            "pool": {"id": queue.pool_id, "name": queue.pool_name}}


def _reference(site: Site, req: Request, definition: Definition) -> dict:
    """DefinitionReference, as embedded in a build."""
    project = site.world.projects[definition.project]
    return {
        "id": definition.id,
        "name": definition.name,
        "url": definition_url(site, req, definition),
        "uri": f"vstfs:///Build/Definition/{definition.id}",
        "path": definition.path,
        "type": "build",
        "queueStatus": "enabled",
        "revision": definition.revision,
        "project": project_json(site, req, project),
    }


def definition_ref(site: Site, req: Request, definition: Definition) -> dict:
    """BuildDefinitionReference as listed."""
    project = site.world.projects[definition.project]
    collection = site.collection_url(req)
    url = definition_url(site, req, definition)
    body = {
        "_links": {
            "self": {"href": url},
            "web": {"href": f"{collection}/{project.id}/_build/definition?definitionId={definition.id}"},
            "editor": {"href": f"{collection}/{project.id}/_build/designer?id={definition.id}&_a=edit-build-definition"},
            "badge": {"href": f"{collection}/{project.id}/_apis/build/status/{definition.id}"},
        },
        "quality": "definition",
        "authoredBy": site.identity(req, site.world.people[definition.author]),
        "drafts": [],
        "queue": queue_json(site, req, definition),
    }
    body |= _reference(site, req, definition)
    body["createdDate"] = iso_fraction(definition.modified, (definition.id * 104_729) % 10_000_000)
    return body


def definition_json(site: Site, req: Request, definition: Definition) -> dict:
    """BuildDefinition (single GET, or ``includeAllProperties``): process, repository, triggers..."""
    repo = site.world.repositories[definition.repository]
    body = {
        "options": [],
        "triggers": [{"triggerType": "continuousIntegration"}],
        "variables": {"BuildConfiguration": {"value": "release", "allowOverride": True}},
        "properties": {},
        "tags": [],
        "jobAuthorizationScope": "projectCollection",
        "jobTimeoutInMinutes": 60,
        "jobCancelTimeoutInMinutes": 5,
        "badgeEnabled": False,
        "buildNumberFormat": "$(date:yyyyMMdd)$(rev:.r)",
        "process": {"type": 2 if definition.yaml else 1},  # the specs' BuildProcess: YAML 2, designer 1
        "repository": {
            "properties": {"cleanOptions": "0", "reportBuildStatus": "true", "fetchDepth": "0"},
            "id": repo.id,
            "type": "TfsGit",
            "name": repo.name,
            "url": site.remote_url(req, repo),
            "defaultBranch": repo.default_branch,
            "clean": "false",
            "checkoutSubmodules": False,
        },
        "retentionRules": [],
    }
    body |= definition_ref(site, req, definition)
    return body


def build_json(site: Site, req: Request, domain: BuildDomain, build: Build) -> dict:
    """Build, with the fields each server version's model has."""
    definition = domain.definitions[build.definition - 1]
    project = site.world.projects[definition.project]
    repo = site.world.repositories[definition.repository]
    people = site.world.people
    collection = site.collection_url(req)
    url = f"{collection}/{project.id}/_apis/build/Builds/{build.id}"
    plan = domain.plan_id(build)
    body: dict = {
        "_links": {
            "self": {"href": url},
            "web": {"href": f"{collection}/{project.id}/_build/results?buildId={build.id}"},
            "sourceVersionDisplayUri": {"href": f"{url}/sources"},
            "timeline": {"href": f"{url}/Timeline"},
            "badge": {"href": f"{collection}/{project.id}/_apis/build/status/{definition.id}"},
        },
        "properties": {},
        "tags": [],
        "validationResults": [],
        "plans": [{"planId": plan}],
        "triggerInfo": {},
        "id": build.id,
        "buildNumber": build.number,
        "status": build.status,
    }
    if build.status == COMPLETED:
        body["result"] = build.result
    body["queueTime"] = stamp(build.queued, build.id, 0)
    if build.status != NOT_STARTED:
        body["startTime"] = stamp(build.started, build.id, 1)
    if build.status == COMPLETED:
        body["finishTime"] = stamp(build.finished, build.id, 2)
    body |= {
        "url": url,
        "definition": _reference(site, req, definition),
        "buildNumberRevision": int(build.number.rsplit(".", 1)[1]),
        "project": project_json(site, req, project),
        "uri": f"vstfs:///Build/Build/{build.id}",
        "sourceBranch": build.branch,
        "sourceVersion": build.commit,
        "queue": queue_json(site, req, definition),
        "priority": "normal",
        "reason": build.reason,
        "requestedFor": site.identity(req, people[build.requested_for]),
        "requestedBy": site.identity(req, people[build.requested_by]),
        "lastChangedDate": stamp(build.changed, build.id, 3),
        "lastChangedBy": site.identity(req, people[build.deleted_by if build.deleted else build.requested_by]),
        "orchestrationPlan": {"planId": plan},
        "logs": {"id": 0, "type": "Container", "url": f"{url}/logs"},
        "repository": {"id": repo.id, "type": "TfsGit", "name": repo.name, "url": site.remote_url(req, repo),
                       "clean": "false", "checkoutSubmodules": False},
        "retainedByRelease": False,
    }
    if build.deleted:
        body |= {"deleted": True, "deletedBy": site.identity(req, people[build.deleted_by]),
                 "deletedDate": iso(build.deleted), "deletedReason": "Deleted by retention policy"}
    profile = site.profile
    if not profile.has("7.0"):
        body["keepForever"] = False
    if profile.has("7.0") and definition.yaml:
        body["templateParameters"] = {}
    if profile.has("7.1"):
        body["appendCommitMessageToRunName"] = True
    return body


def timeline_json(site: Site, req: Request, domain: BuildDomain, build: Build, records: list[TimelineRecord]) -> dict:
    """Timeline (no envelope): ``identifier`` and ``queueId`` only from 6.0."""
    definition = domain.definitions[build.definition - 1]
    project = site.world.projects[definition.project]
    base = f"{site.collection_url(req)}/{project.id}/_apis/build/builds/{build.id}"
    plan = domain.plan_id(build)
    newer = site.profile.has("6.0")
    seen = [r for r in records if r.state != "pending"]
    last = max((r.finish or r.start or build.started for r in seen), default=build.started)
    items = []
    for record in records:
        item: dict = {"previousAttempts": [{"attempt": a, "timelineId": t, "recordId": r} for a, t, r in record.previous],
                      "id": record.id}
        if record.parent:
            item["parentId"] = record.parent
        item |= {"type": record.type, "name": record.name}
        if record.start is not None:
            item["startTime"] = iso_fraction(record.start, _ticks(record.id, 0))
        if record.finish is not None:
            item["finishTime"] = iso_fraction(record.finish, _ticks(record.id, 1))
        item["percentComplete"] = 100 if record.state == "completed" else 0
        item["state"] = record.state
        if record.result:
            item["result"] = record.result
        item |= {"changeId": record.change_id, "lastModified": iso(record.finish or record.start or build.queued)}
        if record.worker:
            item["workerName"] = record.worker
        if newer and record.queue_id is not None:
            item["queueId"] = record.queue_id
        item |= {"order": record.order, "errorCount": record.errors, "warningCount": record.warnings}
        if record.log_id is not None:
            item["log"] = {"id": record.log_id, "type": "Container", "url": f"{base}/logs/{record.log_id}"}
        if record.task:
            item["task"] = {"id": record.task[0], "name": record.task[1], "version": record.task[2]}
        item["attempt"] = record.attempt
        if newer and record.identifier:
            item["identifier"] = record.identifier
        if record.issue:
            kind = "error" if record.errors else "warning"
            item["issues"] = [{"type": kind, "category": "General", "message": record.issue,
                               "data": {"type": kind, "logFileLineNumber": str(12 + record.order)}}]
        items.append(item)
    return {
        "records": items,
        "lastChangedBy": _SERVICE_IDENTITY,
        "lastChangedOn": iso(last),
        "id": plan,
        "changeId": max((r.change_id for r in seen), default=0),
        "url": f"{base}/Timeline/{plan}",
    }


def _ticks(record_id: str, kind: int) -> int:
    return (int(record_id[:8], 16) + kind * 3_333_331) % 10_000_000


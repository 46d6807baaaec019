"""Release response bodies: ReleaseDefinition, Release (environments, deploy steps, phases, jobs, tasks)
and Deployment, per the on-prem specs (fields that only 5.0 or only 6.0+ have follow the profile)."""

from __future__ import annotations

from standins.ado_simulator.world.pipelines.builds import builds_of
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.world.model import iso
from standins.ado_simulator.world.pipelines.releases import (
    IN_PROGRESS,
    NOT_DEPLOYED,
    Deployment,
    DeployTask,
    Release,
    ReleaseDefinition,
    ReleaseDomain,
    release_time,
)

__all__ = ["definition_shallow", "definition_json", "release_json", "deployment_json", "operation_status"]

_FORMAT = "Release-$(rev:r)"
_OPERATIONS = {IN_PROGRESS: "phaseInProgress", "succeeded": "approved", "partiallySucceeded": "phasePartiallySucceeded",
               "failed": "phaseFailed"}
_PHASES = {NOT_DEPLOYED: "notStarted", IN_PROGRESS: "inProgress"}


def _base(site: Site, req: Request, project_index: int) -> str:
    return f"{site.collection_url(req)}/{site.world.projects[project_index].id}/_apis/Release"


def _project_ref(site: Site, project_index: int) -> dict:
    project = site.world.projects[project_index]
    return {"id": project.id, "name": project.name}


def definition_shallow(site: Site, req: Request, definition: ReleaseDefinition) -> dict:
    """ReleaseDefinitionShallowReference."""
    url = f"{_base(site, req, definition.project)}/definitions/{definition.id}"
    web = f"{site.collection_url(req)}/{site.world.projects[definition.project].id}/_release?definitionId={definition.id}"
    return {"id": definition.id, "name": definition.name, "path": definition.path,
            "projectReference": _project_ref(site, definition.project), "url": url,
            "_links": {"self": {"href": url}, "web": {"href": web}}}


def _release_shallow(site: Site, req: Request, release: Release, project_index: int) -> dict:
    url = f"{_base(site, req, project_index)}/releases/{release.id}"
    web = f"{site.collection_url(req)}/{site.world.projects[project_index].id}/_release?releaseId={release.id}&_a=release-summary"
    return {"id": release.id, "name": release.name, "url": url, "_links": {"self": {"href": url}, "web": {"href": web}}}


def _approvals(site: Site, req: Request, definition: ReleaseDefinition, index: int, post: bool) -> dict:
    """Approvals of an environment: production-like environments need a person before deploying."""
    manual = not post and index > 0 and index == len(definition.environments) - 1
    approval: dict = {"rank": 1, "isAutomated": not manual, "isNotificationOn": False,
                      "id": definition.environment_ids[index] * 3 + (2 if post else 1)}
    if manual:
        approval["approver"] = site.identity(req, site.world.people[definition.author])
    options = {"requiredApproverCount": 0, "releaseCreatorCanBeApprover": True,
               "autoTriggeredAndPreviousEnvironmentApprovedCanBeSkipped": False, "enforceIdentityRevalidation": False,
               "timeoutInMinutes": 43200, "executionOrder": "beforeGates"}
    return {"approvals": [approval], "approvalOptions": options}


def _deploy_approvals(site: Site, req: Request, definition: ReleaseDefinition, release: Release, attempts: list[Deployment],
                      index: int, clock: int, post: bool) -> list[dict]:
    """ReleaseApprovals of an environment, one per deploy step (``attempt``): before deploying, the last of several
    environments waits for its approver (pending from the queue time, approved when the deployment starts), the
    others are approved automatically when queued; after deploying, an automated approval once it completes."""
    manual = not post and index > 0 and index == len(definition.environments) - 1
    project = definition.project
    env_id = release.environment_ids[index]
    env_url = f"{_base(site, req, project)}/releases/{release.id}/environments/{env_id}"
    approver = site.identity(req, site.world.people[definition.author])
    approvals = []
    for deployment in attempts:
        if post and not deployment.done(clock):
            continue
        created = deployment.modified(clock) if post else deployment.queued
        approved = post or not manual or deployment.started <= clock
        modified = created if post or not manual or not approved else deployment.started
        approval_id = deployment.id * 2 + (2 if post else 1)
        body: dict = {"id": approval_id, "revision": 1 if created == modified else 2,
                      "approvalType": "postDeploy" if post else "preDeploy", "createdOn": release_time(created, approval_id, 4),
                      "modifiedOn": release_time(modified, approval_id, 4 if created == modified else 5),
                      "status": "approved" if approved else "pending", "comments": "", "isAutomated": not manual,
                      "rank": 1, "attempt": deployment.attempt, "history": [],
                      "release": _release_shallow(site, req, release, project),
                      "releaseDefinition": definition_shallow(site, req, definition),
                      "releaseEnvironment": {"id": env_id, "name": definition.environments[index], "url": env_url,
                                             "_links": {}},
                      "url": f"{_base(site, req, project)}/approvals/{approval_id}"}
        if manual:
            body["approver"] = approver
            if approved:
                body["approvedBy"] = approver
        approvals.append(body)
    return approvals


def _environment_options(site: Site) -> dict:
    options: dict = {"autoLinkWorkItems": False, "badgeEnabled": False, "publishDeploymentStatus": True,
                     "pullRequestDeploymentEnabled": False}
    if not site.profile.has("6.0"):
        options |= {"emailNotificationType": "OnlyOnFailure", "emailRecipients": "release.environment.owner;release.creator",
                    "skipArtifactsDownload": False, "timeoutInMinutes": 0, "enableAccessToken": False}
    return options


def _deploy_phases(site: Site, definition: ReleaseDefinition) -> list[dict]:
    task = {"environment": {}, "taskId": "e213ff0f-5d5c-4791-802d-52ea3e7be1f1", "version": "2.*", "name": "Deploy",
            "refName": "", "enabled": True, "alwaysRun": False, "continueOnError": False, "timeoutInMinutes": 0,
            "definitionType": "task", "overrideInputs": {}, "condition": "succeeded()",
            "inputs": {"targetType": "filePath", "filePath": "$(System.DefaultWorkingDirectory)/deploy.ps1"}}
    return [{"rank": 1, "phaseType": "agentBasedDeployment", "name": "Agent job", "refName": "Agent_job",
             "workflowTasks": [task]}]


def _definition_environment(site: Site, req: Request, domain: ReleaseDomain, definition: ReleaseDefinition, index: int) -> dict:
    """ReleaseDefinitionEnvironment."""
    env_id = definition.environment_ids[index]
    project = site.world.projects[definition.project]
    current = domain.latest.get(definition.id, 0)
    body = {
        "id": env_id,
        "name": definition.environments[index],
        "rank": index + 1,
        "owner": site.identity(req, site.world.people[definition.author]),
        "variables": {},
        "variableGroups": [],
        "preDeployApprovals": _approvals(site, req, definition, index, post=False),
        "deployStep": {"id": env_id * 3},
        "postDeployApprovals": _approvals(site, req, definition, index, post=True),
        "deployPhases": _deploy_phases(site, definition),
        "environmentOptions": _environment_options(site),
        "demands": [],
        "conditions": [{"name": "ReleaseStarted", "conditionType": "event", "value": ""}] if index == 0 else
                      [{"name": definition.environments[index - 1], "conditionType": "environmentState", "value": "4"}],
        "executionPolicy": {"concurrencyCount": 1, "queueDepthCount": 0},
        "schedules": [],
        "currentRelease": {"id": current, "url": f"{_base(site, req, definition.project)}/releases/{current}", "_links": {}},
        "retentionPolicy": {"daysToKeep": 30, "releasesToKeep": 3, "retainBuild": True},
        "processParameters": {},
        "properties": {},
        "preDeploymentGates": {"id": 0, "gates": []},
        "postDeploymentGates": {"id": 0, "gates": []},
        "environmentTriggers": [],
        "badgeUrl": f"{site.collection_url(req)}/_apis/public/Release/badge/{project.id}/{definition.id}/{env_id}",
    }
    return body


def _artifact(site: Site, req: Request, definition: ReleaseDefinition, build_id: int | None) -> dict:
    """Artifact: the build definition (and, for a release, the build it deploys)."""
    builds = builds_of(site.world)
    build_definition = builds.definitions[definition.build_definition - 1]
    project = site.world.projects[build_definition.project]
    collection = site.collection_url(req)
    permalink = f"{collection}/_permalink/_build/index?collectionId={site.world.collection.id}&projectId={project.id}"
    reference = {
        "artifactSourceDefinitionUrl": {"id": f"{permalink}&definitionId={build_definition.id}", "name": ""},
        "defaultVersionBranch": {"id": "", "name": ""},
        "defaultVersionSpecific": {"id": "", "name": ""},
        "defaultVersionTags": {"id": "", "name": ""},
        "defaultVersionType": {"id": "latestType", "name": "Latest"},
        "definition": {"id": str(build_definition.id), "name": build_definition.name},
        "project": {"id": project.id, "name": project.name},
    }
    if build_id is not None:
        build = builds.builds[build_id - 1]
        repo = site.world.repositories[build_definition.repository]
        person = site.world.people[build.requested_for]
        reference |= {
            "artifactSourceVersionUrl": {"id": f"{permalink}&buildId={build.id}", "name": ""},
            "branch": {"id": build.branch, "name": build.branch},
            "buildUri": {"id": f"vstfs:///Build/Build/{build.id}", "name": ""},
            "repository": {"id": repo.id, "name": repo.name},
            "requestedFor": {"id": person.id, "name": person.display_name},
            "sourceVersion": {"id": build.commit, "name": build.commit},
            "version": {"id": str(build.id), "name": build.number},
        }
    return {"type": "Build", "alias": definition.alias,
            "definitionReference": reference, "isPrimary": True, "isRetained": build_id is not None}


def definition_json(site: Site, req: Request, domain: ReleaseDomain, definition: ReleaseDefinition, expand: set[str]) -> dict:
    """ReleaseDefinition; ``expand`` holds "environments", "artifacts", "triggers" (all for a single GET)."""
    people = site.world.people
    body: dict = {
        "source": "userInterface",
        "revision": definition.revision,
        "description": "",
        "createdBy": site.identity(req, people[definition.author]),
        "createdOn": release_time(definition.created, definition.id, 0),
        "modifiedBy": site.identity(req, people[definition.author]),
        "modifiedOn": release_time(definition.modified, definition.id, 1),
        "isDeleted": False,
    }
    latest = domain.latest.get(definition.id)
    if latest:
        release = domain.releases[latest - 1]
        body["lastRelease"] = _release_reference(site, req, domain, release)
    body |= {"variables": {}, "variableGroups": [], "releaseNameFormat": _FORMAT, "properties": {}, "tags": []}
    if "environments" in expand:
        body["environments"] = [_definition_environment(site, req, domain, definition, i)
                                for i in range(len(definition.environments))]
    if "artifacts" in expand:
        body["artifacts"] = [_artifact(site, req, definition, None)]
    if "triggers" in expand:
        body["triggers"] = [{"triggerType": "artifactSource"}]
    return body | definition_shallow(site, req, definition)


def _release_reference(site: Site, req: Request, domain: ReleaseDomain, release: Release) -> dict:
    """ReleaseReference (a definition's lastRelease, a deployment's release)."""
    definition = domain.definitions[release.definition - 1]
    links = _release_shallow(site, req, release, definition.project)["_links"]
    return {
        "id": release.id,
        "name": release.name,
        "_links": links,
        "artifacts": [],
        "description": "",
        "releaseDefinition": definition_shallow(site, req, definition),
        "createdOn": release_time(release.created, release.id, 0),
        "createdBy": site.identity(req, site.world.people[release.created_by]),
        "reason": release.reason,
    }


def release_json(site: Site, req: Request, domain: ReleaseDomain, release: Release, expand: set[str], clock: int) -> dict:
    """Release; environments (with deploy steps) and artifacts when expanded (a single GET expands both)."""
    definition = domain.definitions[release.definition - 1]
    people = site.world.people
    creator = site.identity(req, people[release.created_by])
    base = _base(site, req, definition.project)
    body: dict = {
        "id": release.id,
        "name": release.name,
        "status": release.status,
        "createdOn": release_time(release.created, release.id, 0),
        "modifiedOn": release_time(release.modified, release.id, 1),
        "modifiedBy": creator,
        "createdBy": creator,
    }
    if site.profile.has("6.0"):
        body["createdFor"] = creator
    if "environments" in expand:
        body["environments"] = [_release_environment(site, req, domain, release, i, clock)
                                for i in range(len(definition.environments))]
    body |= {"variables": {}, "variableGroups": []}
    if "artifacts" in expand:
        body["artifacts"] = [_artifact(site, req, definition, release.build)]
    body["releaseDefinition"] = definition_shallow(site, req, definition)
    if site.profile.has("6.0"):
        body["releaseDefinitionRevision"] = definition.revision
    if release.comment:
        body["comment"] = release.comment
    body |= {
        "description": "",
        "reason": release.reason,
        "releaseNameFormat": _FORMAT,
        "keepForever": release.keep_forever,
        "definitionSnapshotRevision": 1,
        "logsContainerUrl": f"{base}/releases/{release.id}/logs",
    }
    body["_links"] = _release_shallow(site, req, release, definition.project)["_links"]
    body["tags"] = []
    if release.reason == "continuousIntegration":
        body["triggeringArtifactAlias"] = definition.alias
    body |= {"projectReference": _project_ref(site, definition.project), "properties": {}}
    return body


def _release_environment(site: Site, req: Request, domain: ReleaseDomain, release: Release, index: int, clock: int) -> dict:
    """ReleaseEnvironment with its deploy steps (one per deployment attempt)."""
    definition = domain.definitions[release.definition - 1]
    env_id = release.environment_ids[index]
    attempts = [d for d in domain.deployments_of(release) if d.environment == index]
    people = site.world.people
    modified = max([release.created] + [d.modified(clock) for d in attempts])
    body: dict = {
        "id": env_id,
        "releaseId": release.id,
        "name": definition.environments[index],
        "status": domain.environment_status(release, index, clock),
        "variables": {},
        "variableGroups": [],
        "preDeployApprovals": _deploy_approvals(site, req, definition, release, attempts, index, clock, post=False),
        "postDeployApprovals": _deploy_approvals(site, req, definition, release, attempts, index, clock, post=True),
        "preApprovalsSnapshot": _approvals(site, req, definition, index, post=False),
        "postApprovalsSnapshot": _approvals(site, req, definition, index, post=True),
        "deploySteps": [_deploy_step(site, req, domain, release, d, clock) for d in attempts],
        "rank": index + 1,
        "definitionEnvironmentId": definition.environment_ids[index],
        "environmentOptions": _environment_options(site),
        "conditions": [],
        "createdOn": release_time(release.created, env_id, 2),
        "modifiedOn": release_time(modified, env_id, 3),
        "deployPhasesSnapshot": _deploy_phases(site, definition),
        "owner": site.identity(req, people[definition.author]),
        "schedules": [],
        "release": _release_shallow(site, req, release, definition.project),
        "releaseDefinition": definition_shallow(site, req, definition),
        "releaseCreatedBy": site.identity(req, people[release.created_by]),
        "triggerReason": "After release creation" if index == 0 and release.reason == "continuousIntegration" else "Manual",
        "processParameters": {},
        "preDeploymentGatesSnapshot": {"id": 0, "gates": []},
        "postDeploymentGatesSnapshot": {"id": 0, "gates": []},
    }
    done = [d for d in attempts if d.done(clock)]
    if done:
        body["timeToDeploy"] = round((done[-1].completed - done[-1].started) / 60, 2)
    if not site.profile.has("6.0"):
        body |= {"demands": [], "workflowTasks": [], "releaseDescription": "",
                 "queueId": builds_of(site.world).definitions[definition.build_definition - 1].queue.id}
    return body


def operation_status(deployment: Deployment, clock: int) -> str:
    status = deployment.status(clock)
    if status == NOT_DEPLOYED:
        return "queued" if deployment.reason == "automated" else "pending"
    return _OPERATIONS[status]


def _modified(deployment: Deployment, clock: int) -> str:
    """lastModifiedOn: the queue, start or completion time, written like that time."""
    kind = 0 if deployment.started > clock else 2 if deployment.done(clock) else 1
    return release_time(deployment.modified(clock), deployment.id, kind)


def _deploy_step(site: Site, req: Request, domain: ReleaseDomain, release: Release, deployment: Deployment, clock: int) -> dict:
    """DeploymentAttempt: its deploy phase, job and tasks once it has started."""
    people = site.world.people
    requested = site.identity(req, people[deployment.requested_by])
    status = deployment.status(clock)
    plan = domain.run_plan(deployment)
    phases = []
    if deployment.started <= clock:
        tasks = domain.deploy_tasks(deployment, clock)
        logs = f"{_base(site, req, domain.definitions[release.definition - 1].project)}/releases/{release.id}" \
               f"/environments/{release.environment_ids[deployment.environment]}/deployPhases/{deployment.id}/tasks"
        phase: dict = {}
        if not site.profile.has("6.0"):
            phase["id"] = deployment.id
        phase |= {"phaseId": "1", "name": "Agent job", "rank": 1, "phaseType": "agentBasedDeployment",
                  "status": _PHASES.get(status, status), "runPlanId": plan,
                  "deploymentJobs": [{"job": _task_json(tasks[0], logs), "tasks": [_task_json(t, logs) for t in tasks[1:]]}],
                  "manualInterventions": [], "startedOn": release_time(deployment.started, deployment.id, 1)}
        phases.append(phase)
    body: dict = {
        "id": deployment.id,
        "deploymentId": deployment.id,
        "attempt": deployment.attempt,
        "reason": deployment.reason,
        "status": status,
        "operationStatus": operation_status(deployment, clock),
        "releaseDeployPhases": phases,
        "requestedBy": requested,
        "requestedFor": requested,
        "queuedOn": release_time(deployment.queued, deployment.id, 0),
        "lastModifiedBy": requested,
        "lastModifiedOn": _modified(deployment, clock),
        "hasStarted": deployment.started <= clock,
        "issues": [],
    }
    if not site.profile.has("6.0"):
        body |= {"tasks": [], "runPlanId": plan}
    return body


def _task_json(task: DeployTask, logs: str) -> dict:
    """ReleaseTask (the job itself has rank 0)."""
    body: dict = {"id": task.id, "timelineRecordId": task.record_id, "name": task.name}
    if task.start is not None:
        body["startTime"] = iso(task.start)
    if task.finish is not None:
        body["finishTime"] = iso(task.finish)
    body |= {"status": task.status, "rank": task.rank, "lineCount": task.lines,
             "issues": [{"issueType": "Error" if task.status == "failed" else "Warning", "message": task.issue,
                         "data": {}}] if task.issue else [],
             "agentName": task.agent}
    if task.start is not None:
        body["logUrl"] = f"{logs}/{task.id}/logs"
    if task.task:
        body["task"] = {"id": task.task[0], "name": task.task[1], "version": task.task[2]}
    return body


def deployment_json(site: Site, req: Request, domain: ReleaseDomain, deployment: Deployment, clock: int) -> dict:
    """Deployment as listed."""
    release = domain.releases[deployment.release - 1]
    definition = domain.definitions[release.definition - 1]
    env_id = release.environment_ids[deployment.environment]
    people = site.world.people
    requested = site.identity(req, people[deployment.requested_by])
    env_url = f"{_base(site, req, definition.project)}/releases/{release.id}/environments/{env_id}"
    body: dict = {
        "id": deployment.id,
        "release": _release_reference(site, req, domain, release),
        "releaseDefinition": definition_shallow(site, req, definition),
        "releaseEnvironment": {"id": env_id, "name": definition.environments[deployment.environment], "url": env_url,
                               "_links": {}},
        "projectReference": _project_ref(site, definition.project),
        "definitionEnvironmentId": definition.environment_ids[deployment.environment],
        "attempt": deployment.attempt,
        "reason": deployment.reason,
        "deploymentStatus": deployment.status(clock),
        "operationStatus": operation_status(deployment, clock),
        "requestedBy": requested,
        "requestedFor": requested,
        "queuedOn": release_time(deployment.queued, deployment.id, 0),
    }
    if deployment.started <= clock:
        body["startedOn"] = release_time(deployment.started, deployment.id, 1)
    if deployment.done(clock):
        body["completedOn"] = release_time(deployment.completed, deployment.id, 2)
    body |= {"lastModifiedOn": _modified(deployment, clock), "lastModifiedBy": requested,
             "conditions": [], "preDeployApprovals": [], "postDeployApprovals": [], "_links": {}}
    return body

"""Event payloads from the changes of a step: the envelope Microsoft documents (docs: 'Service hooks
events') around the affected object as the REST API returns it.

    events = build_events(changes, reader, origin)   # sorted by createdDate
    event.to_json(subscription_id, notification_id)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standins.ado_simulator.api.wit.wit_bodies import work_item_json
from standins.ado_simulator.events.catalog import EVENT_TYPES
from standins.ado_simulator.events.changes import (
    Changes,
    PullRequestChange,
    PushChange,
    WorkItemChange,
)
from standins.ado_simulator.events.reader import Reader, request_for
from standins.ado_simulator.world.boards.wit_process import TYPES

__all__ = ["Event", "Message", "build_events", "event_id", "iso_ms"]

_RESOURCE_VERSIONS = {e.id: e.resource_version for e in EVENT_TYPES}
_PUBLISHERS = {e.id: e.publisher for e in EVENT_TYPES}
_BUILD_WORDS = {"succeeded": "succeeded", "partiallySucceeded": "partially succeeded", "failed": "failed",
                "canceled": "was canceled"}


def iso_ms(seconds: float) -> str:
    """``2025-01-01T10:00:30.000Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(seconds))) + f".{int(seconds * 1000) % 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    html: str
    markdown: str

    @staticmethod
    def of(plain: str, link_text: str = "", url: str = "") -> Message:
        """``plain`` with ``{link}`` standing for ``link_text`` (a link to ``url`` in html and markdown)."""
        return Message(plain.replace("{link}", link_text),
                       plain.replace("{link}", f'<a href="{url}">{link_text}</a>'),
                       plain.replace("{link}", f"[{link_text}]({url})"))

    def to_json(self, which: str = "all") -> dict | None:
        if which == "none":
            return None
        body = {"text": self.text, "html": self.html, "markdown": self.markdown}
        return body if which == "all" else {which: body[which]}


@dataclass(frozen=True, slots=True)
class Event:
    """One event, the same for every subscription it is sent to."""

    id: str
    event_type: str
    created: float  # Unix seconds
    message: Message
    detailed: Message
    resource: dict
    containers: dict[str, str] = field(default_factory=dict)  # collection / account / project -> id
    # Filter facts a receiver does not see in the payload: tfvc.checkin "path" (the server paths the changeset
    # touched), git.pullrequest.updated "notificationType".
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def publisher_id(self) -> str:
        return _PUBLISHERS[self.event_type]

    @property
    def resource_version(self) -> str:
        return _RESOURCE_VERSIONS[self.event_type]

    def to_json(self, subscription_id: str = "", notification_id: int = 0, resource_details: str = "all",
                messages: str = "all", detailed_messages: str = "all") -> dict:
        body: dict[str, Any] = {}
        if subscription_id:
            body |= {"subscriptionId": subscription_id, "notificationId": notification_id}
        body |= {"id": self.id, "eventType": self.event_type, "publisherId": self.publisher_id,
                 "message": self.message.to_json(messages), "detailedMessage": self.detailed.to_json(detailed_messages),
                 "resource": _details(self.resource, resource_details), "resourceVersion": self.resource_version,
                 "resourceContainers": {name: {"id": value} for name, value in self.containers.items()},
                 "createdDate": iso_ms(self.created)}
        return body


_MINIMAL = ("id", "url", "pushId", "pullRequestId", "workItemId", "rev", "changesetId", "buildNumber", "runId",
            "pipelineId", "status", "result")


def _details(resource: dict, which: str) -> dict | None:
    if which == "none":
        return None
    if which == "minimal":
        return {k: resource[k] for k in _MINIMAL if k in resource}
    return resource


def event_id(seed: int, scale: str, event_type: str, key: str) -> str:
    """Stable across runs of the same world: the same change has the same id everywhere."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ado-simulator-event:{seed}:{scale}:{event_type}:{key}"))


class _Builder:
    def __init__(self, reader: Reader, origin: str) -> None:
        self.reader = reader
        self.origin = origin
        self.world = reader.site.world
        self.events: list[tuple[float, int, Event]] = []

    def get(self, path: str, query: str = "") -> dict | None:
        return self.reader.get(self.origin, path, query)

    def add(self, event_type: str, key: str, when: float, project_id: str, message: Message, resource: dict | None,
            detailed: Message | None = None, extra: dict[str, tuple[str, ...]] | None = None) -> None:
        if resource is None:
            return
        containers = {"collection": self.world.collection.id, "account": self.world.deployment_id}
        if project_id:
            containers["project"] = project_id
        event = Event(event_id(self.world.seed, self.world.scale, event_type, key), event_type, when, message,
                      detailed or message, resource, containers, extra or {})
        self.events.append((when, len(self.events), event))

    # -- git -----------------------------------------------------------------------------------

    def push(self, change: PushChange) -> None:
        repo = self.world.repository(change.repository_id)
        if repo is None:
            return
        resource = self.get(f"{repo.project_id}/_apis/git/repositories/{repo.id}/pushes/{change.push_id}",
                            "includeRefUpdates=true")
        if resource is None:
            return
        with self.world.reading(repo.id) as history:
            push = history.pushes[change.push_id - 1]
        who = resource.get("pushedBy", {}).get("displayName", "")
        branch = push.ref_updates[0].name.removeprefix("refs/heads/") if push.ref_updates else ""
        url = f"{self.reader.site.remote_url(request_for(self.reader, self.origin), repo)}/"
        message = Message.of(f"{who} pushed updates to {{link}}", f"{repo.name}:{branch}", url + f"?version=GB{branch}")
        commits = "".join(f"\n* {c.get('comment', '')[:80]}" for c in resource.get("commits", ()))
        detailed = Message(message.text + commits, message.html, message.markdown + commits)
        self.add("git.push", f"{repo.id}:{change.push_id}", push.time, repo.project_id, message, resource, detailed)

    def pull_request(self, change: PullRequestChange) -> None:
        domain = self.world.domain("pull_requests")
        pr = domain.get(change.pull_request_id)
        repo = self.world.repository(pr.repository_id) if pr is not None else None
        if repo is None:
            return
        resource = self.get(f"{repo.project_id}/_apis/git/repositories/{repo.id}/pullRequests/{pr.id}",
                            "includeCommits=true")  # the documented payloads carry the commits
        if resource is None:
            return
        who = resource.get("createdBy", {}).get("displayName", "")
        link = f"pull request {pr.id}"
        url = f"{self.reader.site.remote_url(request_for(self.reader, self.origin), repo)}/pullrequest/{pr.id}"
        if change.kind == "created":
            text = f"{who} created {{link}} ({pr.title}) in {repo.name}"
        elif change.kind == "merged":
            text = f"{{link}} ({pr.title}) in {repo.name}: merge {resource.get('mergeStatus', 'succeeded')}"
        else:
            what = {"PushNotification": "updated the source branch of", "ReviewerVoteNotification": "has a new vote on",
                    "ReviewersUpdateNotification": "changed the reviewers of",
                    "StatusUpdateNotification": f"set the status ({resource.get('status')}) of"}[change.notification_type]
            text = f"{who} {what} {{link}} ({pr.title}) in {repo.name}"
        key = f"{pr.id}:{change.kind}:{change.notification_type}:{change.time}"
        extra = {"notificationType": (change.notification_type,)} if change.notification_type else None
        self.add(f"git.pullrequest.{change.kind}", key, change.time, repo.project_id, Message.of(text, link, url), resource,
                 extra=extra)

    # -- builds and pipelines ------------------------------------------------------------------------

    def _build(self, build_id: int):
        builds = self.world.domain("build")
        build = builds.builds[build_id - 1]
        definition = builds.definitions[build.definition - 1]
        return build, definition, self.world.projects[definition.project]

    def build_complete(self, build_id: int) -> None:
        build, _, project = self._build(build_id)
        resource = self.get(f"{project.id}/_apis/build/builds/{build.id}")
        if resource is None:
            return
        url = resource.get("_links", {}).get("web", {}).get("href", "")
        text = f"Build {{link}} {_BUILD_WORDS.get(build.result, build.result)}"
        when = max(build.finished, build.changed)
        self.add("build.complete", f"{build.id}:{build.attempt}", when, project.id, Message.of(text, build.number, url),
                 resource)

    def run_state(self, build_id: int) -> None:
        build, definition, project = self._build(build_id)
        if not definition.yaml or not self.reader.site.profile.has("6.0"):
            return
        run = self.get(f"{project.id}/_apis/pipelines/{definition.id}/runs/{build.id}")
        pipeline = self.get(f"{project.id}/_apis/pipelines/{definition.id}")
        if run is None or pipeline is None:
            return
        state = run.get("state", build.status)
        url = run.get("_links", {}).get("web", {}).get("href", "")
        text = f"Run {{link}} {'completed: ' + str(run.get('result')) if state == 'completed' else state}"
        resource = {"run": run, "pipeline": pipeline, "stageName": None, "runId": build.id, "runUrl": run.get("url"),
                    "pipelineId": definition.id}
        when = max(build.started, build.rerun) if state != "completed" else max(build.finished, build.changed)
        self.add("ms.vss-pipelines.run-state-changed-event", f"{build.id}:{build.attempt}:{state}", when, project.id,
                 Message.of(text, build.number, url), resource)

    # -- work items ---------------------------------------------------------------------------------

    def work_item(self, change: WorkItemChange) -> None:
        domain = self.world.domain("work_items")
        item = domain.items[change.item_id] if change.item_id < len(domain.items) else None
        if item is None:
            return
        project = domain.project(item)
        base = f"{project.id}/_apis/wit/workItems/{item.id}"
        if change.kind == "deleted":
            state = domain.state(item)
            if state is None:
                return
            resource = work_item_json(self.reader.site, request_for(self.reader, self.origin), domain, item, state, None,
                                      "none", None)
        elif change.kind == "updated":
            resource = self.get(f"{base}/updates/{change.rev}")
            revision = self.get(f"{base}/revisions/{change.rev}")
            if resource is not None and revision is not None:
                resource = resource | {"revision": revision}
        else:
            resource = self.get(f"{base}/revisions/{change.rev}")
        if resource is None:
            return
        fields = resource.get("fields", {}) if change.kind != "updated" else resource.get("revision", {}).get("fields", {})
        kind = TYPES[item.type].name
        who = {"created": "created", "updated": "updated", "commented": "commented on", "deleted": "deleted"}[change.kind]
        actor = fields.get("System.ChangedBy", "")
        actor = actor.get("displayName", "") if isinstance(actor, dict) else str(actor).split(" <")[0]
        url = f"{self.reader.site.collection_url(request_for(self.reader, self.origin))}/{project.id}/_workitems/edit/{item.id}"
        text = f"{kind} {{link}} ({fields.get('System.Title', '')}) {who} by {actor}"
        self.add(f"workitem.{change.kind}", f"{item.id}:{change.rev}:{change.kind}", change.time, project.id,
                 Message.of(text, f"#{item.id}", url), resource)

    # -- TFVC and releases ----------------------------------------------------------------------------

    def changeset(self, changeset_id: int) -> None:
        tfvc = self.world.domain("tfvc")
        changeset = tfvc.changeset(changeset_id)
        if changeset is None:
            return
        project = self.world.projects[changeset.project]
        resource = self.get(f"{project.id}/_apis/tfvc/changesets/{changeset_id}")
        if resource is None:
            return
        who = resource.get("checkedInBy", resource.get("author", {})).get("displayName", "")
        url = resource.get("_links", {}).get("web", {}).get("href", resource.get("url", ""))
        text = f"{who} checked in {{link}}" + (f": {changeset.comment}" if changeset.comment else "")
        paths = tuple(change.path for change in tfvc.changes(changeset)) or (changeset.branch,)
        self.add("tfvc.checkin", str(changeset_id), changeset.time, project.id,
                 Message.of(text, f"changeset {changeset_id}", url), resource, extra={"path": paths})

    def deployment(self, deployment_id: int) -> None:
        releases = self.world.domain("release")
        deployment = releases.deployments[deployment_id - 1]
        release = releases.releases[deployment.release - 1]
        definition = releases.definitions[release.definition - 1]
        project = self.world.projects[definition.project]
        release_body = self.get(f"{project.id}/_apis/release/releases/{release.id}")
        if release_body is None or release.deleted:
            return
        environment_id = release.environment_ids[deployment.environment]
        environment = next((e for e in release_body.get("environments", ()) if e.get("id") == environment_id), None)
        listed = self.get(f"{project.id}/_apis/release/deployments",
                          f"definitionId={definition.id}&definitionEnvironmentId={definition.environment_ids[deployment.environment]}"
                          "&$top=100")
        found = next((d for d in (listed or {}).get("value", ()) if d.get("id") == deployment_id), None)
        if environment is None or found is None:
            return
        resource = {"environment": environment, "release": release_body, "deployment": found,
                    "project": {"id": project.id, "name": project.name}, "comment": None, "data": {}}
        url = release_body.get("_links", {}).get("web", {}).get("href", "")
        name = definition.environments[deployment.environment]
        text = f"Deployment of release {{link}} on stage {name} {deployment.outcome}"
        self.add("ms.vss-release.deployment-completed-event", str(deployment_id), deployment.completed, project.id,
                 Message.of(text, release.name, url), resource)


def build_events(changes: Changes, reader: Reader, origin: str,
                 wanted: Callable[[str], bool] = lambda event_type: True) -> list[Event]:
    """The events of one step's ``changes`` (call with the world's lock held), oldest first; only event
    types ``wanted`` says yes to are built (reading resources costs)."""
    builder = _Builder(reader, origin)
    if wanted("git.push"):
        for push in changes.pushes:
            builder.push(push)
    for change in changes.pull_requests:
        if wanted(f"git.pullrequest.{change.kind}"):
            builder.pull_request(change)
    if wanted("build.complete"):
        for build_id in changes.builds_completed:
            builder.build_complete(build_id)
    if wanted("ms.vss-pipelines.run-state-changed-event"):
        for build_id in changes.runs_changed:
            builder.run_state(build_id)
    for change in changes.work_items:
        if wanted(f"workitem.{change.kind}"):
            builder.work_item(change)
    if wanted("tfvc.checkin"):
        for changeset_id in changes.changesets:
            builder.changeset(changeset_id)
    if wanted("ms.vss-release.deployment-completed-event"):
        for deployment_id in changes.deployments_completed:
            builder.deployment(deployment_id)
    return [event for _, _, event in sorted(builder.events, key=lambda item: (item[0], item[1]))]

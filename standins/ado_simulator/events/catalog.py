"""What the server offers to subscribe to: publishers, their event types (with filter inputs) and the
``webHooks`` consumer with its ``httpRequest`` action (hooks/azure-devops-server-<v>/serviceHooks-onprem.json:
Publisher, EventTypeDescriptor, Consumer, ConsumerAction, InputDescriptor)."""

from __future__ import annotations

from dataclasses import dataclass

from standins.ado_simulator.wire.profiles import Profile

__all__ = [
    "ACTION_ID",
    "CONSUMER_ID",
    "CONSUMER_INPUTS",
    "EVENT_TYPES",
    "PUBLISHERS",
    "SERVER_ADDED_INPUTS",
    "EventType",
    "Input",
    "Publisher",
    "action_json",
    "consumer_json",
    "event_type",
    "event_type_json",
    "event_types_of",
    "input_json",
    "publisher_json",
    "publishers_of",
]

CONSUMER_ID = "webHooks"
ACTION_ID = "httpRequest"
SERVER_ADDED_INPUTS = frozenset({"hostId", "tfsSubscriptionId"})  # the server writes them into publisherInputs


@dataclass(frozen=True, slots=True)
class Input:
    """One InputDescriptor: a filter of an event type or an input of the consumer action."""

    id: str
    name: str
    description: str
    mode: str = "textBox"  # combo, textBox, passwordBox, textArea
    values: tuple[str, ...] = ()  # the possible values of a combo ("" = any)
    confidential: bool = False
    required: bool = False
    data_type: str = "string"


@dataclass(frozen=True, slots=True)
class EventType:
    publisher: str
    id: str
    name: str
    description: str
    resource_version: str
    inputs: tuple[Input, ...]
    since: str = "5.0"  # first server api-version that publishes it


@dataclass(frozen=True, slots=True)
class Publisher:
    id: str
    name: str
    description: str
    since: str = "5.0"


_PROJECT = Input("projectId", "Project", "Filter events to include only those of the specified project", "combo",
                 data_type="guid")
_REPOSITORY = Input("repository", "Repository", "The repository (id) the event happened in", "combo", data_type="guid")
_BRANCH = Input("branch", "Branch", "The branch (name or refs/heads/ name); for pull requests the target branch", "combo")
_PR = (_PROJECT, _REPOSITORY, _BRANCH,
       Input("pullrequestCreatedBy", "Requested by a member of group", "The creator (identity id or unique name)", "combo"),
       Input("pullrequestReviewersContains", "Reviewer includes group", "A reviewer (identity id or unique name)", "combo"))
_WORK_ITEM = (_PROJECT,
              Input("areaPath", "Area path", "Only work items under this area path", "combo"),
              Input("workItemType", "Work item type", "Only work items of this type", "combo"))

EVENT_TYPES: tuple[EventType, ...] = (
    EventType("tfs", "git.push", "Code pushed", "Code is pushed to a Git repository", "1.0",
              (_PROJECT, _REPOSITORY, _BRANCH,
               Input("pushedBy", "Pushed by a member of group", "The pusher (identity id or unique name)", "combo"))),
    EventType("tfs", "git.pullrequest.created", "Pull request created", "Pull request is created in a Git repository",
              "1.0", _PR),
    EventType("tfs", "git.pullrequest.updated", "Pull request updated",
              "Pull request is updated; status, review list, reviewer vote changed or the source branch is updated with a push",
              "1.0", _PR + (Input("notificationType", "Change", "The kind of update", "combo",
                                  ("", "PushNotification", "ReviewersUpdateNotification", "StatusUpdateNotification",
                                   "ReviewerVoteNotification")),)),
    EventType("tfs", "git.pullrequest.merged", "Pull request merge attempted", "Pull request - Merge attempted", "1.0", _PR),
    EventType("tfs", "build.complete", "Build completed", "A build completes", "1.0",
              (_PROJECT,
               Input("definitionName", "Build pipeline", "Filter events to include only completed builds for the specified pipeline",
                     "combo"),
               Input("buildStatus", "Build status", "Filter events to include only completed builds for the specified completion status",
                     "combo", ("", "Succeeded", "PartiallySucceeded", "Failed", "Stopped")))),
    EventType("tfs", "workitem.created", "Work item created", "A new work item is created", "1.0", _WORK_ITEM),
    EventType("tfs", "workitem.updated", "Work item updated", "A work item is changed", "1.0", _WORK_ITEM),
    EventType("tfs", "workitem.deleted", "Work item deleted", "A work item is deleted", "1.0", _WORK_ITEM),
    EventType("tfs", "workitem.commented", "Work item commented on", "A work item is commented on", "1.0", _WORK_ITEM),
    EventType("tfs", "tfvc.checkin", "Code checked in", "A changeset is checked into TFVC", "1.0",
              (_PROJECT, Input("path", "Under path", "Only check-ins touching this server path or below it", "textBox"))),
    EventType("pipelines", "ms.vss-pipelines.run-state-changed-event", "Run state changed",
              "Overall status of a pipeline run changed", "5.1-preview.1",
              (_PROJECT, Input("pipelineId", "Pipeline", "The pipeline (id)", "combo"),
               Input("runStateId", "State", "The state of the run", "combo", ("", "InProgress", "Completed")),
               Input("runResultId", "Result", "The result of a completed run", "combo", ("", "Succeeded", "Failed", "Canceled"))),
              since="6.0"),
    EventType("rm", "ms.vss-release.deployment-completed-event", "Release deployment completed",
              "A deployment completed", "3.0-preview.1",
              (_PROJECT, Input("releaseDefinitionId", "Release pipeline", "The release definition (id)", "combo"),
               Input("releaseEnvironmentId", "Stage", "The definition environment (id)", "combo"),
               Input("releaseEnvironmentStatus", "Status", "The status of the deployment", "combo",
                     ("", "Succeeded", "PartiallySucceeded", "Rejected", "Canceled")))),
)

PUBLISHERS: tuple[Publisher, ...] = (
    Publisher("tfs", "Azure DevOps Server", "Publishes Azure DevOps Server events"),
    Publisher("rm", "Release Management", "Publishes release management events"),
    Publisher("pipelines", "Pipelines", "Publishes events of YAML pipelines", since="6.0"),  # last: lists align across profiles
)

CONSUMER_INPUTS: tuple[Input, ...] = (
    Input("url", "URL", "The URL to which an HTTP POST will be sent", required=True, data_type="uri"),
    Input("acceptUntrustedCerts", "Accept untrusted SSL certificates", "Accept self-signed certificates", "checkBox",
          data_type="boolean"),
    Input("basicAuthUsername", "Basic authentication username", "The user name of Basic authentication"),
    Input("basicAuthPassword", "Basic authentication password", "The password of Basic authentication", "passwordBox",
          confidential=True),
    Input("httpHeaders", "HTTP headers", "HTTP header keys and values, one 'Key:Value' per line", "textArea"),
    Input("resourceDetailsToSend", "Resource details to send", "How much of the resource to send", "combo",
          ("all", "minimal", "none")),
    Input("messagesToSend", "Messages to send", "Which message formats to send", "combo",
          ("all", "text", "html", "markdown", "none")),
    Input("detailedMessagesToSend", "Detailed messages to send", "Which detailed message formats to send", "combo",
          ("all", "text", "html", "markdown", "none")),
)


def _has(profile: Profile, since: str) -> bool:
    return profile.has(since)


def publishers_of(profile: Profile) -> tuple[Publisher, ...]:
    return tuple(p for p in PUBLISHERS if _has(profile, p.since))


def event_types_of(profile: Profile, publisher: str | None = None) -> tuple[EventType, ...]:
    return tuple(e for e in EVENT_TYPES if _has(profile, e.since) and (publisher is None or e.publisher == publisher))


def event_type(profile: Profile, publisher: str, event_id: str) -> EventType | None:
    return next((e for e in event_types_of(profile, publisher) if e.id.lower() == event_id.lower()), None)


def input_json(item: Input) -> dict:
    body: dict = {"id": item.id, "name": item.name, "description": item.description, "inputMode": item.mode,
                  "isConfidential": item.confidential, "useInDefaultDescription": False,
                  "validation": {"dataType": item.data_type, "isRequired": item.required}}
    if item.values:
        body["values"] = {"defaultValue": item.values[0], "isLimitedToPossibleValues": True,
                          "possibleValues": [{"value": v, "displayValue": v or "[Any]"} for v in item.values]}
    return body


def event_type_json(base: str, event: EventType) -> dict:
    return {"publisherId": event.publisher, "id": event.id, "url": f"{base}/publishers/{event.publisher}/eventTypes/{event.id}",
            "name": event.name, "description": event.description, "supportedResourceVersions": [event.resource_version],
            "inputDescriptors": [input_json(i) for i in event.inputs]}


def publisher_json(base: str, profile: Profile, publisher: Publisher) -> dict:
    return {"id": publisher.id, "url": f"{base}/publishers/{publisher.id}", "name": publisher.name,
            "description": publisher.description, "inputDescriptors": [],
            "supportedEvents": [event_type_json(base, e) for e in event_types_of(profile, publisher.id)]}


def action_json(base: str, profile: Profile) -> dict:
    events = event_types_of(profile)
    return {"id": ACTION_ID, "consumerId": CONSUMER_ID, "url": f"{base}/consumers/{CONSUMER_ID}/actions/{ACTION_ID}",
            "name": "Post via HTTP", "description": "Posts the event as JSON to an HTTP(S) endpoint",
            "supportedEventTypes": [e.id for e in events],
            "supportedResourceVersions": {e.id: [e.resource_version] for e in events},
            "allowResourceVersionOverride": True,
            "inputDescriptors": [input_json(i) for i in CONSUMER_INPUTS]}


def consumer_json(base: str, profile: Profile) -> dict:
    return {"id": CONSUMER_ID, "url": f"{base}/consumers/{CONSUMER_ID}", "name": "Web Hooks",
            "description": "Provides event communication via HTTP", "imageUrl": "",
            "informationUrl": "https://go.microsoft.com/fwlink/?LinkID=393641", "authenticationType": "none",
            "inputDescriptors": [], "actions": [action_json(base, profile)]}

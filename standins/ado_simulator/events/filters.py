"""Publisher filters: does an event match a subscription's ``publisherInputs``? The facts are read from the
event itself (its resource and containers), so a filter sees what a receiver sees. An empty or absent
input matches everything; ``hostId`` and ``tfsSubscriptionId`` (written by the server) are no filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standins.ado_simulator.events.catalog import SERVER_ADDED_INPUTS
from standins.ado_simulator.events.payloads import Event

__all__ = ["BUILD_STATUS", "DEPLOYMENT_STATUS", "facts_of", "matches"]

BUILD_STATUS = {"succeeded": "Succeeded", "partiallysucceeded": "PartiallySucceeded", "failed": "Failed",
                "canceled": "Stopped"}
DEPLOYMENT_STATUS = {"succeeded": "Succeeded", "partiallysucceeded": "PartiallySucceeded", "rejected": "Rejected",
                     "failed": "Rejected", "canceled": "Canceled"}


def _identity(ref: Any) -> tuple[str, ...]:
    return (str(ref.get("id", "")), str(ref.get("uniqueName", ""))) if isinstance(ref, dict) else ()


def facts_of(event: Event) -> dict[str, tuple[str, ...]]:
    """Filter input id -> the values of this event (any of them matches)."""
    r = event.resource
    facts: dict[str, tuple[str, ...]] = {"projectId": (event.containers.get("project", ""),)}
    kind = event.event_type
    if kind == "git.push":
        facts |= {"repository": (r.get("repository", {}).get("id", ""),),
                  "branch": tuple(u.get("name", "") for u in r.get("refUpdates", ())),
                  "pushedBy": _identity(r.get("pushedBy"))}
    elif kind.startswith("git.pullrequest."):
        facts |= {"repository": (r.get("repository", {}).get("id", ""),), "branch": (r.get("targetRefName", ""),),
                  "pullrequestCreatedBy": _identity(r.get("createdBy")),
                  "pullrequestReviewersContains": tuple(v for x in r.get("reviewers", ()) for v in _identity(x))}
    elif kind == "build.complete":
        facts |= {"definitionName": (r.get("definition", {}).get("name", ""),),
                  "buildStatus": (BUILD_STATUS.get(str(r.get("result", "")).lower(), ""),)}
    elif kind.startswith("workitem."):
        fields = (r.get("revision") or r).get("fields", {})
        facts |= {"workItemType": (str(fields.get("System.WorkItemType", "")),),
                  "areaPath": (str(fields.get("System.AreaPath", "")),)}
    elif kind == "ms.vss-pipelines.run-state-changed-event":
        run = r.get("run", {})
        facts |= {"pipelineId": (str(r.get("pipelineId", "")),),
                  "runStateId": ({"inprogress": "InProgress", "completed": "Completed"}.get(str(run.get("state", "")).lower(), ""),),
                  "runResultId": (str(run.get("result", "") or "").capitalize(),)}
    elif kind == "ms.vss-release.deployment-completed-event":
        environment = r.get("environment", {})
        facts |= {"releaseDefinitionId": (str(r.get("release", {}).get("releaseDefinition", {}).get("id", "")),),
                  "releaseEnvironmentId": (str(environment.get("definitionEnvironmentId", "")),),
                  "releaseEnvironmentStatus": (DEPLOYMENT_STATUS.get(str(environment.get("status", "")).lower(), ""),)}
    return facts | event.extra


def _branch(value: str) -> str:
    return value if value.lower().startswith("refs/") else f"refs/heads/{value}"


def _one(name: str, wanted: str, values: tuple[str, ...]) -> bool:
    wanted_low = wanted.lower()
    lowered = [v.lower() for v in values if v]
    if name == "branch":
        return _branch(wanted).lower() in lowered
    if name == "areaPath":
        return any(v == wanted_low or v.startswith(wanted_low.rstrip("\\") + "\\") for v in lowered)
    if name == "path":
        root = wanted_low.rstrip("/")
        return any(v == root or v.startswith(root + "/") for v in lowered)
    return wanted_low in lowered


def matches(event: Event, publisher_inputs: Mapping[str, str]) -> bool:
    """True when every non-empty filter input holds for ``event``."""
    facts = facts_of(event)
    for name, wanted in publisher_inputs.items():
        if not wanted or name in SERVER_ADDED_INPUTS:
            continue
        if not _one(name, str(wanted), facts.get(name, ())):
            return False
    return True

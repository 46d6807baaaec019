"""The event types the satellite subscribes to: publisher, service, and the streams each marks due.

An event never carries the records: it only names the partition whose streams read them again from
the API with their normal cursors (a repository's refs, pushes and commits; a project's pull
requests, builds, runs or releases; the collection's work item revisions, links and comments or
TFVC changesets).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["EVENT_TYPES", "EventType", "Partition", "event_type", "types_for_services"]


class Partition(Enum):
    """What part of the collection an event's streams run over."""

    REPOSITORY = "repository"  # the event's repository (parent: the repository id)
    PROJECT = "project"  # the event's project (parent: the project id)
    COLLECTION = "collection"  # collection-wide streams (parent: "")


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    publisher: str
    service: str
    partition: Partition
    streams: tuple[str, ...]
    min_api: str = "5.0"  # the server's api-version from which the publisher offers it
    project_streams: tuple[str, ...] = ()  # also due over the event's project, when it names one


_REPO = ("git.refs", "git.pushes", "git.commits")
_WIT = ("wit.revisions", "wit.links", "wit.comments")

EVENT_TYPES: tuple[EventType, ...] = (
    EventType("git.push", "tfs", "repos", Partition.REPOSITORY, _REPO),
    EventType("git.pullrequest.created", "tfs", "repos", Partition.PROJECT, ("git.pull_requests",)),
    EventType("git.pullrequest.updated", "tfs", "repos", Partition.PROJECT, ("git.pull_requests",)),
    EventType("git.pullrequest.merged", "tfs", "repos", Partition.PROJECT, ("git.pull_requests",)),
    EventType("build.complete", "tfs", "pipelines", Partition.PROJECT, ("build.builds",)),
    EventType("ms.vss-pipelines.run-state-changed-event", "pipelines", "pipelines", Partition.PROJECT,
              ("build.builds", "distributedtask.environments", "pipelines.runs"), min_api="6.0"),
    EventType("ms.vss-release.deployment-completed-event", "rm", "pipelines", Partition.PROJECT, ("release.releases",)),
    EventType("workitem.created", "tfs", "boards", Partition.COLLECTION, _WIT),
    EventType("workitem.updated", "tfs", "boards", Partition.COLLECTION, _WIT),
    EventType("workitem.deleted", "tfs", "boards", Partition.COLLECTION, _WIT),
    EventType("workitem.commented", "tfs", "boards", Partition.COLLECTION, _WIT),
    # a checkin may create a branch; labels have no event of their own (one listing each, cheap)
    EventType("tfvc.checkin", "tfs", "tfvc", Partition.COLLECTION, ("tfvc.changesets",),
              project_streams=("tfvc.branches", "tfvc.labels")),
)
_BY_NAME = {t.name: t for t in EVENT_TYPES}


def event_type(name: str) -> EventType | None:
    """The catalog entry of an event type (None: not one the satellite uses)."""
    return _BY_NAME.get(name)


def types_for_services(services: tuple[str, ...]) -> tuple[EventType, ...]:
    """The event types of the enabled services, in catalog order."""
    return tuple(t for t in EVENT_TYPES if t.service in services)

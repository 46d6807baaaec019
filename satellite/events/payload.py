"""An event's shape, checked in one place: what the satellite needs from a service hook POST.

Only identifiers are taken (event id and type, collection, project, repository ids); the rest of
the payload (the resource, messages) is never stored or logged: the records are read from the API.
A payload the satellite cannot place raises ``InvalidEvent`` (answered 400, counted); an event type
it does not use parses with ``kind`` None (answered 200 and ignored).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from satellite.events.catalog import EventType, Partition, event_type
from satellite.store.events import DuePartition

__all__ = ["MAX_BODY_BYTES", "Event", "InvalidEvent", "parse_event"]

MAX_BODY_BYTES = 4 * 1024 * 1024  # a push of many commits stays far below
_EVENT_ID = re.compile(r"^[!-~]{1,128}$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class InvalidEvent(ValueError):
    """A payload that is not a service hook event the satellite can place (the message names the field, never a value)."""


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    event_type: str
    kind: EventType | None  # None: a type the satellite does not use
    collection_id: str  # "" when the payload names none (then any collection of the integration)
    project_id: str  # "" for collection-wide events
    repository_id: str  # "" unless the event is about a repository

    def due(self, services: tuple[str, ...]) -> tuple[DuePartition, ...]:
        """The partitions this event marks due (none for a type or service not collected)."""
        if self.kind is None or self.kind.service not in services:
            return ()
        parent = {Partition.REPOSITORY: self.repository_id, Partition.PROJECT: self.project_id,
                  Partition.COLLECTION: ""}[self.kind.partition]
        project = "" if self.kind.partition is Partition.COLLECTION else self.project_id
        collection = self.collection_id.lower()
        due = [DuePartition(collection, stream, parent.lower(), project.lower()) for stream in self.kind.streams]
        if self.project_id:
            due += [DuePartition(collection, stream, self.project_id.lower(), self.project_id.lower())
                    for stream in self.kind.project_streams]
        return tuple(due)


def _dig(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def _guid(value: Any, field: str, *, required: bool) -> str:
    if value is None or value == "":
        if required:
            raise InvalidEvent(f"{field} is missing")
        return ""
    if not isinstance(value, str) or not _GUID.match(value):
        raise InvalidEvent(f"{field} is not a GUID")
    return value


def parse_event(body: bytes) -> Event:
    """The identifiers of a service hook event body (JSON).

    Raises:
        InvalidEvent: not JSON, not an object, no usable ``id`` or ``eventType``, or an id the event's
            kind needs (project, repository) missing or not a GUID.
    """
    if len(body) > MAX_BODY_BYTES:
        raise InvalidEvent("the body is too large")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidEvent("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidEvent("the body is not a JSON object")
    event_id, name = data.get("id"), data.get("eventType")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        raise InvalidEvent("id is missing or not an event id")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        raise InvalidEvent("eventType is missing")
    for field in ("resource", "resourceContainers"):
        if data.get(field) is not None and not isinstance(data[field], dict):
            raise InvalidEvent(f"{field} is not an object")
    kind = event_type(name)
    collection = _guid(_dig(data, "resourceContainers", "collection", "id"), "resourceContainers.collection.id", required=False)
    if kind is None:
        return Event(event_id, name, None, collection, "", "")
    project = repository = ""
    if kind.partition is Partition.COLLECTION and kind.project_streams:  # the project, if the event names one
        project = _guid(_dig(data, "resourceContainers", "project", "id"), "resourceContainers.project.id", required=False)
    if kind.partition is not Partition.COLLECTION:
        found = (_dig(data, "resourceContainers", "project", "id") or _dig(data, "resource", "repository", "project", "id")
                 or _dig(data, "resource", "project", "id"))
        project = _guid(found, "resourceContainers.project.id", required=True)
    if kind.partition is Partition.REPOSITORY:
        repository = _guid(_dig(data, "resource", "repository", "id"), "resource.repository.id", required=True)
    return Event(event_id, name, kind, collection, project, repository)

"""The Service Hooks API (``_apis/hooks/subscriptions``, collection level): the Web Hooks
subscriptions an integration needs, and creating, updating, listing and deleting them.

One subscription per event type of the enabled services (``catalog.py``), collection-wide (no
project filter: the project filter of the config applies when the event's partition is read),
consumer ``webHooks``, action ``httpRequest``, posting to ``<events.public_url>/events/ado/<id>``
with the events' HTTP Basic credentials; ``resourceDetailsToSend: all`` (a push names its repository only
there) and no messages. A subscription is the satellite's when it posts to that URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from satellite.ado.client import AdoClient
from satellite.ado.versions import ApiVersion
from satellite.errors import AdoResponseError
from satellite.events.catalog import EventType, types_for_services
from satellite.events.receiver import PATH_PREFIX

__all__ = [
    "SUBSCRIPTIONS",
    "Found",
    "Wanted",
    "apply_subscription",
    "delete_subscription",
    "event_url",
    "list_subscriptions",
    "ours",
    "subscription_body",
    "wanted_subscriptions",
]

SUBSCRIPTIONS = "_apis/hooks/subscriptions"
CONSUMER, ACTION = "webHooks", "httpRequest"


@dataclass(frozen=True, slots=True)
class Wanted:
    kind: EventType
    url: str


@dataclass(frozen=True, slots=True)
class Found:
    """One subscription as the server lists it (only what the satellite looks at)."""

    id: str
    publisher: str
    event_type: str
    status: str
    url: str
    username: str

    @classmethod
    def of(cls, item: dict[str, Any]) -> Found:
        inputs = item.get("consumerInputs") or {}
        return cls(str(item.get("id", "")), str(item.get("publisherId", "")), str(item.get("eventType", "")),
                   str(item.get("status", "")), str(inputs.get("url", "")), str(inputs.get("basicAuthUsername", "")))


def event_url(integration) -> str:
    """Where the server posts this integration's events."""
    return f"{str(integration.events.public_url).rstrip('/')}{PATH_PREFIX}{integration.id}"


def wanted_subscriptions(integration, version: ApiVersion | None = None) -> tuple[Wanted, ...]:
    """The subscriptions the enabled services need (on ``version``: the event types that server offers)."""
    url = event_url(integration)
    return tuple(Wanted(kind, url) for kind in types_for_services(tuple(integration.services))
                 if version is None or version.at_least(kind.min_api))


def subscription_body(integration, wanted: Wanted) -> dict[str, Any]:
    events = integration.events
    return {
        "publisherId": wanted.kind.publisher, "eventType": wanted.kind.name, "resourceVersion": "1.0",
        "consumerId": CONSUMER, "consumerActionId": ACTION, "publisherInputs": {}, "status": "enabled",
        "consumerInputs": {"url": wanted.url, "basicAuthUsername": events.username,
                           "basicAuthPassword": events.password.reveal(), "resourceDetailsToSend": "all",
                           "messagesToSend": "none", "detailedMessagesToSend": "none"},
    }


def list_subscriptions(client: AdoClient) -> list[Found]:
    return [Found.of(item) for item in client.get_list(SUBSCRIPTIONS)]


def ours(found: list[Found], integration) -> list[Found]:
    """The subscriptions posting to this integration's event URL."""
    url = event_url(integration)
    return [f for f in found if f.url.rstrip("/") == url.rstrip("/")]


def apply_subscription(client: AdoClient, integration, wanted: Wanted, existing: Found | None) -> tuple[str, Found]:
    """Create the subscription, or replace the existing one (enabled, current credentials); returns
    ("created" | "updated", what the server answered)."""
    body = subscription_body(integration, wanted)
    version = {"api-version": client.api_version().for_route(False)}
    if existing is None:
        answer, _ = client.request("POST", SUBSCRIPTIONS, version, json_body=body)
        return "created", Found.of(answer)
    answer, _ = client.request("PUT", f"{SUBSCRIPTIONS}/{existing.id}", version, json_body=body)
    return "updated", Found.of(answer)


def delete_subscription(client: AdoClient, subscription_id: str) -> None:
    """DELETE answers 204 with no body (not JSON: the client's malformed answer, with that status)."""
    try:
        client.request("DELETE", f"{SUBSCRIPTIONS}/{subscription_id}", {"api-version": client.api_version().for_route(False)})
    except AdoResponseError as exc:
        if exc.status != 204:
            raise

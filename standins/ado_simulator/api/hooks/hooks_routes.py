"""Service hooks routes (``_apis/hooks/...``, collection level; hooks/azure-devops-server-<v>/serviceHooks-onprem.json).

Reading needs ``vso.hooks``; creating, replacing and deleting subscriptions ``vso.hooks_write`` (the 7.1
spec's security block names only the read scopes of the events' areas). Subscriptions live in the app's
``HookService`` (``site.hooks``): a new app has none. Delivery: ``events/``; see docs/simulator.md,
'Service hooks and events'.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from standins.ado_simulator.events import catalog
from standins.ado_simulator.events.payloads import iso_ms
from standins.ado_simulator.events.service import HookService
from standins.ado_simulator.events.subscriptions import MASK, Notification, Subscription
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.wire.routing import COLLECTION, Location, Route
from standins.ado_simulator.wire.wire import (
    ApiError,
    Response,
    json_response,
    list_response,
)

__all__ = ["LOCATIONS", "ROUTES"]

_READ = "vso.hooks"
_WRITE = "vso.hooks_write"
_H = "_apis/hooks"
_HOOKS = "Microsoft.VisualStudio.Services.ServiceHooks.WebApi"
_STATUSES = ("enabled", "onProbation", "disabledByUser", "disabledBySystem", "disabledByInactiveIdentity")
_C = (COLLECTION,)

LOCATIONS = (
    Location("1e83a210-5b53-43bc-90f0-d476a4e5d731", "hooks", "publishers", f"{_H}/publishers/{{publisherId}}", 1, _C),
    Location("db4777cd-8e08-4a84-8ba3-c974ea033718", "hooks", "eventTypes",
             f"{_H}/publishers/{{publisherId}}/eventTypes/{{eventTypeId}}", 1, _C),
    Location("4301c514-5f34-4f5d-a145-f0ea7b5b7d19", "hooks", "consumers", f"{_H}/consumers/{{consumerId}}", 1, _C),
    Location("c3428e90-7a69-4194-8ed8-0f153185ee0d", "hooks", "actions",
             f"{_H}/consumers/{{consumerId}}/actions/{{consumerActionId}}", 1, _C),
    Location("fc50d02a-849f-41fb-8af1-0a5216103269", "hooks", "subscriptions", f"{_H}/subscriptions/{{subscriptionId}}", 1, _C),
    Location("0c62d343-21b0-4732-997b-017fde84dc28", "hooks", "notifications",
             f"{_H}/subscriptions/{{subscriptionId}}/notifications/{{notificationId}}", 1, _C),
    Location("1139462c-7e27-4524-a997-31b9b73551fe", "hooks", "testNotifications", f"{_H}/testnotifications", 1, _C),
)


def _error(status: int, message: str, type_key: str) -> ApiError:
    return ApiError(status, message, type_key, f"{_HOOKS}.{type_key}, {_HOOKS}")


def _hooks(site: Site) -> HookService:
    if site.hooks is None:
        raise _error(503, "Service hooks are not available on this server.", "ServiceHooksUnavailableException")
    return site.hooks


def _base(site: Site, req: Request) -> str:
    return f"{site.collection_url(req)}/{_H}"


# -- publishers, event types, consumers --------------------------------------------------------------


def _publisher(site: Site, req: Request) -> catalog.Publisher:
    wanted = req.params["publisherId"].lower()
    found = next((p for p in catalog.publishers_of(site.profile) if p.id == wanted), None)
    if found is None:
        raise _error(404, f"VS1560001: No publisher with id '{req.params['publisherId']}' exists.", "PublisherNotFoundException")
    return found


def list_publishers(site: Site, req: Request) -> Response:
    items = [catalog.publisher_json(_base(site, req), site.profile, p) for p in catalog.publishers_of(site.profile)]
    return list_response(items, req.version)


def get_publisher(site: Site, req: Request) -> Response:
    return json_response(catalog.publisher_json(_base(site, req), site.profile, _publisher(site, req)), req.version)


def list_event_types(site: Site, req: Request) -> Response:
    publisher = _publisher(site, req)
    items = [catalog.event_type_json(_base(site, req), e) for e in catalog.event_types_of(site.profile, publisher.id)]
    return list_response(items, req.version)


def get_event_type(site: Site, req: Request) -> Response:
    publisher = _publisher(site, req)
    found = catalog.event_type(site.profile, publisher.id, req.params["eventTypeId"])
    if found is None:
        raise _error(404, f"VS1560002: No event type with id '{req.params['eventTypeId']}' exists for publisher"
                     f" '{publisher.id}'.", "EventTypeNotFoundException")
    return json_response(catalog.event_type_json(_base(site, req), found), req.version)


def _consumer(req: Request) -> None:
    if req.params["consumerId"].lower() != catalog.CONSUMER_ID.lower():
        raise _error(404, f"VS1560003: No consumer with id '{req.params['consumerId']}' exists.", "ConsumerNotFoundException")


def list_consumers(site: Site, req: Request) -> Response:
    return list_response([catalog.consumer_json(_base(site, req), site.profile)], req.version)


def get_consumer(site: Site, req: Request) -> Response:
    _consumer(req)
    return json_response(catalog.consumer_json(_base(site, req), site.profile), req.version)


def list_actions(site: Site, req: Request) -> Response:
    _consumer(req)
    return list_response([catalog.action_json(_base(site, req), site.profile)], req.version)


def get_action(site: Site, req: Request) -> Response:
    _consumer(req)
    if req.params["consumerActionId"].lower() != catalog.ACTION_ID.lower():
        raise _error(404, f"VS1560004: No action with id '{req.params['consumerActionId']}' exists for consumer"
                     f" '{catalog.CONSUMER_ID}'.", "ConsumerActionNotFoundException")
    return json_response(catalog.action_json(_base(site, req), site.profile), req.version)


# -- subscriptions -----------------------------------------------------------------------------------


def _masked(inputs: dict[str, str]) -> dict[str, str]:
    confidential = {i.id for i in catalog.CONSUMER_INPUTS if i.confidential}
    return {k: (MASK if k in confidential and v else v) for k, v in inputs.items()}


def subscription_json(site: Site, req: Request, subscription: Subscription) -> dict:
    creator = site.identity(req, site.world.people[subscription.created_by])
    inputs = subscription.publisher_inputs
    described = ", ".join(f"{k} {v}" for k, v in inputs.items() if v) or "Any"
    host = urlsplit(subscription.consumer_inputs.get("url", "")).hostname or ""
    tfs_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"tfs-subscription:{subscription.id}"))
    body: dict[str, Any] = {
        "id": subscription.id, "url": f"{_base(site, req)}/subscriptions/{subscription.id}", "status": subscription.status,
        "publisherId": subscription.publisher_id, "eventType": subscription.event_type,
        "resourceVersion": subscription.resource_version, "eventDescription": described,
        "consumerId": catalog.CONSUMER_ID, "consumerActionId": catalog.ACTION_ID, "actionDescription": f"To host {host}",
        "createdBy": creator, "createdDate": iso_ms(subscription.created), "modifiedBy": creator,
        "modifiedDate": iso_ms(subscription.modified),
        "publisherInputs": inputs | {"hostId": site.world.collection.id, "tfsSubscriptionId": tfs_id},
        "consumerInputs": _masked(subscription.consumer_inputs),
    }
    if subscription.probation_retries:
        body["probationRetries"] = str(subscription.probation_retries)
    return body


def _strings(body: dict, name: str) -> dict[str, str]:
    value = body.get(name) or {}
    if not isinstance(value, dict):
        raise ApiError.bad_argument(f"{name} must be an object of input ids and string values.")
    return {str(k): "" if v is None else str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


def _parsed(site: Site, req: Request, previous: Subscription | None) -> dict[str, Any]:
    """The checked fields of a Subscription body (POST or PUT)."""
    try:
        body = json.loads(req.body or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError.bad_argument("The request body must be a Subscription JSON object.")
    publisher_id = str(body.get("publisherId") or "").strip()
    event_id = str(body.get("eventType") or "").strip()
    event = catalog.event_type(site.profile, publisher_id.lower(), event_id) if publisher_id and event_id else None
    if event is None:
        raise ApiError.bad_argument(f"VS1560005: The publisher '{publisher_id}' has no event type '{event_id}' on this server.")
    if str(body.get("consumerId") or "").lower() != catalog.CONSUMER_ID.lower():
        raise ApiError.bad_argument(f"VS1560006: Consumer '{body.get('consumerId')}' is not supported: use '{catalog.CONSUMER_ID}'.")
    if str(body.get("consumerActionId") or "").lower() != catalog.ACTION_ID.lower():
        raise ApiError.bad_argument(f"VS1560007: Consumer action '{body.get('consumerActionId')}' is not supported:"
                                    f" use '{catalog.ACTION_ID}'.")
    publisher_inputs = _strings(body, "publisherInputs")
    known = {i.id for i in event.inputs} | catalog.SERVER_ADDED_INPUTS
    unknown = sorted(set(publisher_inputs) - known)
    if unknown:
        raise ApiError.bad_argument(f"VS1560008: Unknown publisher input(s) {', '.join(unknown)} for event type '{event.id}';"
                                    f" known: {', '.join(i.id for i in event.inputs)}.")
    publisher_inputs = {k: v for k, v in publisher_inputs.items() if k not in catalog.SERVER_ADDED_INPUTS}
    consumer_inputs = _strings(body, "consumerInputs")
    unknown = sorted(set(consumer_inputs) - {i.id for i in catalog.CONSUMER_INPUTS})
    if unknown:
        raise ApiError.bad_argument(f"VS1560009: Unknown consumer input(s) {', '.join(unknown)}.")
    if consumer_inputs.get("basicAuthPassword") == MASK:
        consumer_inputs["basicAuthPassword"] = previous.consumer_inputs.get("basicAuthPassword", "") if previous else ""
    url = consumer_inputs.get("url", "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError.bad_argument(f"VS1560010: The input 'url' must be an absolute http or https URL, not '{url}'.")
    for name in ("resourceDetailsToSend", "messagesToSend", "detailedMessagesToSend"):
        allowed = next(i.values for i in catalog.CONSUMER_INPUTS if i.id == name)
        if consumer_inputs.get(name) and consumer_inputs[name] not in allowed:
            raise ApiError.bad_argument(f"VS1560011: The input '{name}' must be one of {', '.join(allowed)}.")
    status = str(body.get("status") or (previous.status if previous else "enabled"))
    if status not in _STATUSES:
        raise ApiError.bad_argument(f"VS1560012: Unknown subscription status '{status}'.")
    return {"publisher_id": event.publisher, "event_type": event.id,
            "resource_version": str(body.get("resourceVersion") or event.resource_version),
            "publisher_inputs": publisher_inputs, "consumer_inputs": consumer_inputs, "status": status}


def _subscription(site: Site, req: Request) -> Subscription:
    found = _hooks(site).store.get(req.params["subscriptionId"])
    if found is None:
        raise _error(404, f"VS1560013: No subscription with id '{req.params['subscriptionId']}' exists.",
                     "SubscriptionNotFoundException")
    return found


def list_subscriptions(site: Site, req: Request) -> Response:
    wanted = {k: (req.query.get(k) or "").lower() for k in ("publisherId", "eventType", "consumerId", "consumerActionId")}
    items = []
    for s in _hooks(site).store.all():
        values = {"publisherId": s.publisher_id, "eventType": s.event_type, "consumerId": catalog.CONSUMER_ID,
                  "consumerActionId": catalog.ACTION_ID}
        if all(not w or values[k].lower() == w for k, w in wanted.items()):
            items.append(subscription_json(site, req, s))
    return list_response(items, req.version)


def create_subscription(site: Site, req: Request) -> Response:
    hooks = _hooks(site)
    fields = _parsed(site, req, None)
    now = time.time()
    subscription = Subscription(hooks.store.new_id(), created_by=site.world.people.index(req.user), created=now,
                                modified=now, origin=req.origin, **fields)
    hooks.store.put(subscription)
    return json_response(subscription_json(site, req, subscription), req.version)


def get_subscription(site: Site, req: Request) -> Response:
    return json_response(subscription_json(site, req, _subscription(site, req)), req.version)


def replace_subscription(site: Site, req: Request) -> Response:
    previous = _subscription(site, req)
    fields = _parsed(site, req, previous)
    updated = Subscription(previous.id, created_by=previous.created_by, created=previous.created, modified=time.time(),
                           origin=req.origin, probation_retries=0 if fields["status"] == "enabled" else previous.probation_retries,
                           **fields)
    _hooks(site).store.put(updated)
    return json_response(subscription_json(site, req, updated), req.version)


def delete_subscription(site: Site, req: Request) -> Response:
    _subscription(site, req)
    _hooks(site).store.delete(req.params["subscriptionId"])
    return Response(204, b"", "text/plain")


# -- notifications -------------------------------------------------------------------------------------


def notification_json(site: Site, req: Request, subscription: Subscription, n: Notification) -> dict:
    event = {k: v for k, v in n.event.items() if k not in ("subscriptionId", "notificationId")}
    details: dict[str, Any] = {
        "publisherId": subscription.publisher_id, "eventType": n.event_type, "consumerId": catalog.CONSUMER_ID,
        "consumerActionId": catalog.ACTION_ID, "publisherInputs": subscription.publisher_inputs,
        "consumerInputs": _masked(subscription.consumer_inputs), "requestAttempts": n.attempts,
        "queuedDate": iso_ms(n.created),
    }
    if event:
        details["event"] = event
    if n.attempts:
        details |= {"dequeuedDate": iso_ms(n.modified), "processedDate": iso_ms(n.modified), "request": n.request,
                    "response": n.response, "requestDuration": n.duration_ms}
    if n.error:
        details["errorMessage"] = n.error
    if n.completed:
        details["completedDate"] = iso_ms(n.completed)
    return {"id": n.id, "subscriptionId": subscription.id, "subscriberId": site.world.people[subscription.created_by].id,
            "eventId": n.event_id, "status": n.status, "result": n.result, "createdDate": iso_ms(n.created),
            "modifiedDate": iso_ms(n.modified), "details": details}


def list_notifications(site: Site, req: Request) -> Response:
    subscription = _subscription(site, req)
    found = _hooks(site).store.notifications(subscription.id) or []
    status, result = (req.query.get("status") or "").lower(), (req.query.get("result") or "").lower()
    found = [n for n in found if (not status or n.status.lower() == status) and (not result or n.result.lower() == result)]
    top = req.query.get_int("maxResults", default=None)
    if top is not None and top > 0:
        found = found[:top]
    return list_response([notification_json(site, req, subscription, n) for n in found], req.version)


def get_notification(site: Site, req: Request) -> Response:
    subscription = _subscription(site, req)
    raw = req.params["notificationId"]
    found = next((n for n in _hooks(site).store.notifications(subscription.id) or [] if str(n.id) == raw), None)
    if found is None:
        raise _error(404, f"VS1560014: No notification with id '{raw}' exists for subscription '{subscription.id}'.",
                     "NotificationNotFoundException")
    return json_response(notification_json(site, req, subscription, found), req.version)


def test_notification(site: Site, req: Request) -> Response:
    """``POST _apis/hooks/testnotifications`` body ``{"subscriptionId": id}``: an event of the subscription's type
    about the newest such thing in the world, sent now (no filters, no faults); answers the queued Notification."""
    try:
        body = json.loads(req.body or b"null")
    except ValueError:
        body = None
    raw = str(body.get("subscriptionId") or "") if isinstance(body, dict) else ""
    if not raw:
        raise ApiError.bad_argument("VS1560015: A test notification needs the subscriptionId of a saved subscription.")
    subscription = _subscription(site, Request(req.method, req.path, {"subscriptionId": raw}, req.query, req.origin,
                                               req.version, req.user, req.body))
    notification = _hooks(site).test_notification(site.world, subscription)
    if notification is None:
        raise _error(400, f"VS1560016: This server has nothing yet to send a '{subscription.event_type}' event about.",
                     "ServiceHookException")
    return json_response(notification_json(site, req, subscription, notification), req.version)


ROUTES = (
    Route("GET", _C, f"{_H}/publishers", list_publishers, scope=_READ),
    Route("GET", _C, f"{_H}/publishers/{{publisherId}}", get_publisher, scope=_READ),
    Route("GET", _C, f"{_H}/publishers/{{publisherId}}/eventTypes", list_event_types, scope=_READ),
    Route("GET", _C, f"{_H}/publishers/{{publisherId}}/eventTypes/{{eventTypeId}}", get_event_type, scope=_READ),
    Route("GET", _C, f"{_H}/consumers", list_consumers, scope=_READ),
    Route("GET", _C, f"{_H}/consumers/{{consumerId}}", get_consumer, scope=_READ),
    Route("GET", _C, f"{_H}/consumers/{{consumerId}}/actions", list_actions, scope=_READ),
    Route("GET", _C, f"{_H}/consumers/{{consumerId}}/actions/{{consumerActionId}}", get_action, scope=_READ),
    # Literals match case-insensitively; the capitals only order the spec test's samples (tests/simulator_samples/hooks.py).
    Route("GET", _C, f"{_H}/Subscriptions", list_subscriptions, scope=_READ),
    Route("POST", _C, f"{_H}/Subscriptions", create_subscription, scope=_WRITE),
    Route("GET", _C, f"{_H}/Subscriptions/{{subscriptionId}}", get_subscription, scope=_READ),
    Route("PUT", _C, f"{_H}/Subscriptions/{{subscriptionId}}", replace_subscription, scope=_WRITE),
    Route("DELETE", _C, f"{_H}/Subscriptions/{{subscriptionId}}", delete_subscription, scope=_WRITE),
    Route("GET", _C, f"{_H}/subscriptions/{{subscriptionId}}/notifications", list_notifications, scope=_READ),
    Route("GET", _C, f"{_H}/subscriptions/{{subscriptionId}}/notifications/{{notificationId}}", get_notification,
          scope=_READ),
    Route("POST", _C, f"{_H}/TestNotifications", test_notification, scope=_WRITE),
)

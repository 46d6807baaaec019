"""Samples for the service hooks routes (collection level, every profile). A fresh app per profile, patterns
run in sorted order: the two POSTs of ``_apis/hooks/Subscriptions`` create subscriptions 1 and 2 (ids from
``subscription_id``); ``.../Subscriptions/{subscriptionId}`` reads and replaces 1 and deletes 2;
``_apis/hooks/TestNotifications`` makes notification 1 of subscription 1, which the notification patterns
(``subscriptions/...`` in lower case: sorted last) then read. The routes' capitals exist for this order only."""

from __future__ import annotations

from collections.abc import Callable

from standins.ado_simulator.events.subscriptions import subscription_id
from standins.ado_simulator.world.world import World
from tests.simulator_samples import Sample

_H = "_apis/hooks"
_URL = "http://127.0.0.1:9/events/ado/sample"  # the discard port: deliveries fail, which the samples do not read


def _subscription(world: World, event_type: str = "git.push", publisher: str = "tfs") -> dict:
    inputs = {"projectId": world.projects[0].id, "branch": "main"} if event_type == "git.push" else {}
    return {"publisherId": publisher, "eventType": event_type, "resourceVersion": "1.0", "consumerId": "webHooks",
            "consumerActionId": "httpRequest", "publisherInputs": inputs,
            "consumerInputs": {"url": _URL, "basicAuthUsername": "ado", "basicAuthPassword": "secret",
                               "httpHeaders": "X-Sample: 1"}}


def _first(world: World) -> str:
    return subscription_id(world.seed, 1)


SAMPLES: dict[str, Callable[[World], list[Sample]]] = {
    f"{_H}/publishers": lambda w: [("GET", f"{_H}/publishers", {})],
    f"{_H}/publishers/{{publisherId}}": lambda w: [("GET", f"{_H}/publishers/tfs", {})],
    f"{_H}/publishers/{{publisherId}}/eventTypes": lambda w: [("GET", f"{_H}/publishers/tfs/eventTypes", {})],
    f"{_H}/publishers/{{publisherId}}/eventTypes/{{eventTypeId}}": lambda w: [
        ("GET", f"{_H}/publishers/tfs/eventTypes/build.complete", {})],
    f"{_H}/consumers": lambda w: [("GET", f"{_H}/consumers", {})],
    f"{_H}/consumers/{{consumerId}}": lambda w: [("GET", f"{_H}/consumers/webHooks", {})],
    f"{_H}/consumers/{{consumerId}}/actions": lambda w: [("GET", f"{_H}/consumers/webHooks/actions", {})],
    f"{_H}/consumers/{{consumerId}}/actions/{{consumerActionId}}": lambda w: [
        ("GET", f"{_H}/consumers/webHooks/actions/httpRequest", {})],
    f"{_H}/Subscriptions": lambda w: [
        ("POST", f"{_H}/subscriptions", {}, _subscription(w)),
        ("POST", f"{_H}/subscriptions", {}, _subscription(w, "ms.vss-release.deployment-completed-event", "rm")),
        ("GET", f"{_H}/subscriptions", {}),
        ("GET", f"{_H}/subscriptions", {"publisherId": "tfs", "eventType": "git.push"}),
    ],
    f"{_H}/Subscriptions/{{subscriptionId}}": lambda w: [
        ("GET", f"{_H}/subscriptions/{_first(w)}", {}),
        ("PUT", f"{_H}/subscriptions/{_first(w)}", {}, _subscription(w) | {"status": "disabledByUser"}),
        ("DELETE", f"{_H}/subscriptions/{subscription_id(w.seed, 2)}", {}),
    ],
    f"{_H}/TestNotifications": lambda w: [("POST", f"{_H}/testnotifications", {}, {"subscriptionId": _first(w)})],
    f"{_H}/subscriptions/{{subscriptionId}}/notifications": lambda w: [
        ("GET", f"{_H}/subscriptions/{_first(w)}/notifications", {}),
        ("GET", f"{_H}/subscriptions/{_first(w)}/notifications", {"maxResults": "1"})],
    f"{_H}/subscriptions/{{subscriptionId}}/notifications/{{notificationId}}": lambda w: [
        ("GET", f"{_H}/subscriptions/{_first(w)}/notifications/1", {})],
}

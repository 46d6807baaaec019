"""The simulator as an ASGI app: routing, PAT auth, api-version rules, control routes, request log.

    app = create_app(generate_world(7, "small"), profile="2022", pats={"demo-pat": frozenset({"full"})})

Server root is ``/tfs``, the collection ``/tfs/DefaultCollection``. Control routes under
``/_sim`` need no auth, are not logged and never meet faults: ``POST /_sim/advance``
``{"steps": n}`` (and the service hook events it publishes), ``GET /_sim/truth``, ``GET``/``DELETE /_sim/requests``, ``GET``/``PUT``/``DELETE
/_sim/faults`` (a ``FaultPlan`` as JSON, see ``faults.py``), ``GET``/``DELETE /_sim/load`` (the load
model's statistics, see ``load.py``), ``GET``/``DELETE /_sim/events`` and ``GET``/``PUT``/``DELETE
/_sim/event-faults`` (service hook deliveries and their faults, see ``events/``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from standins.ado_simulator.api.build import build_routes, pipeline_routes
from standins.ado_simulator.api.core import core_routes, location_routes, team_routes
from standins.ado_simulator.api.distributedtask import environment_routes
from standins.ado_simulator.api.git import diff_routes, git_routes, item_routes, pr_routes
from standins.ado_simulator.api.hooks import hooks_routes
from standins.ado_simulator.api.release import release_routes
from standins.ado_simulator.api.tfvc import tfvc_routes
from standins.ado_simulator.api.wit import wit_metadata_routes, wit_reporting, wit_routes
from standins.ado_simulator.api.work import work_routes
from standins.ado_simulator.events.delivery import DeliveryConfig
from standins.ado_simulator.events.faults import EventFaultPlan
from standins.ado_simulator.events.service import HookService
from standins.ado_simulator.semantics import ServerSemantics
from standins.ado_simulator.wire import faults
from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.wire.extras import BodyExtras, ExampleFields, RandomFields
from standins.ado_simulator.wire.faults import FaultInjector, FaultPlan
from standins.ado_simulator.wire.load import LoadConfig, LoadModel, serve_loaded
from standins.ado_simulator.wire.windows_auth import AUTH_MODES, windows_unauthorized
from standins.ado_simulator.world.model import Person
from standins.ado_simulator.wire.profiles import PROFILES, Profile
from standins.ado_simulator.wire.routing import COLLECTION, SERVER, Route, Router
from standins.ado_simulator.wire.wire import (
    NOT_FOUND_HTML,
    SIGN_IN_HTML,
    ApiError,
    ApiVersion,
    Query,
    Response,
    html_response,
    parse_api_version,
    requested_version_text,
)
from standins.ado_simulator.world.world import World

__all__ = ["create_app", "SimulatorApp", "DEFAULT_PATS", "AREAS"]

DEFAULT_PATS: dict[str, frozenset[str]] = {"sim-pat": frozenset({"full"})}
AREAS = (  # one module per API area: ROUTES + LOCATIONS
    location_routes, core_routes, git_routes,
    pr_routes, diff_routes, item_routes,
    tfvc_routes, build_routes, pipeline_routes, release_routes, environment_routes,
    team_routes, work_routes, wit_metadata_routes, wit_routes, wit_reporting, hooks_routes,
)
LOG_LIMIT = 10_000
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_NO_FAULT = faults.Decision(0.0, None)
_FRAMEWORK = "Microsoft.TeamFoundation.Framework.Server"
_COMMON = "Microsoft.VisualStudio.Services.Common"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int  # 0: the connection was reset
    fault: str = ""  # the injected fault's kind


def create_app(
    world: World, profile: str = "2022", pats: dict[str, frozenset[str]] | None = None, faults: FaultPlan | None = None,
    semantics: ServerSemantics | None = None, auth: str = "basic", load: LoadConfig | LoadModel | None = None,
    example_fields: bool = False, extra_fields: int | None = None,
    event_faults: EventFaultPlan | None = None, delivery: DeliveryConfig | None = None,
) -> "SimulatorApp":
    """An ASGI app serving ``world`` as the server release ``profile`` ("2019", "2020", "2022", "7.1").

    ``auth``: "basic" (PATs; 203 sign-in page or 401 Basic) or "windows" (an IIS front with Windows
    authentication: 401 Negotiate/NTLM; PATs still work), see ``wire/windows_auth.py``.

    ``load``: the load model (``--capacity N``: queueing latency, per-identity budget, probe), see ``wire/load.py``.

    ``semantics`` (the route side of issue 13's behaviours: caps, TFVC order) defaults to ``world.semantics``.

    ``example_fields``: bodies carry the fields beyond the spec that Microsoft's examples show for each
    route; ``extra_fields`` (a seed): random unknown fields at random depths of every JSON body. Both
    off by default: the spec-fidelity test closes the schemas (see ``wire/extras.py``).

    ``event_faults`` / ``delivery``: service hook events (dropped, duplicated, delayed, reordered; retries and
    backoff), see ``events/`` and docs/simulator.md, 'Service hooks and events'."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    if auth not in AUTH_MODES:
        raise ValueError(f"unknown auth mode {auth!r}; choose from {', '.join(AUTH_MODES)}")
    app = SimulatorApp(world, PROFILES[profile], dict(DEFAULT_PATS if pats is None else pats),
                       world.semantics if semantics is None else semantics)
    app.auth = auth
    if load is not None:
        app.load = load if isinstance(load, LoadModel) else LoadModel(load)
    if example_fields or extra_fields is not None:
        app.body_extras = BodyExtras(ExampleFields.load(app.profile.max_version) if example_fields else None,
                                     RandomFields(extra_fields) if extra_fields is not None else None)
    app.set_faults(faults or FaultPlan())
    if delivery is not None:
        app.hooks.sender.config = delivery
    if event_faults is not None:
        app.hooks.sender.set_faults(event_faults)
    return app


class SimulatorApp:
    """ASGI callable; see the module docstring."""

    def __init__(self, world: World, profile: Profile, pats: dict[str, frozenset[str]],
                 semantics: ServerSemantics | None = None) -> None:
        self.world = world
        self.profile = profile
        self.hooks = HookService(world.seed)  # service hook subscriptions and event delivery (events/)
        self.site = Site(world, profile, semantics=world.semantics if semantics is None else semantics, hooks=self.hooks)
        locations = tuple(loc for area in AREAS for loc in area.LOCATIONS)
        self.routes: tuple[Route, ...] = tuple(r for area in AREAS for r in area.ROUTES) + location_routes.options_routes(locations)
        self.router = Router(self.routes)
        self.hooks.attach(self.router, self.site)
        self._pats = pats
        self._auth_cache: dict[str, frozenset[str] | None] = {}
        self.auth = "basic"  # or "windows": see wire/windows_auth.py
        self.load: LoadModel | None = None  # see wire/load.py
        self.body_extras: BodyExtras | None = None  # fields beyond the spec: see wire/extras.py
        self._collection = world.collection.name.lower()
        self._process_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"simulator:{world.seed}:{world.scale}")).encode()
        self.requests: deque[LoggedRequest] = deque(maxlen=LOG_LIMIT)
        self._faults: FaultInjector | None = None

    def set_faults(self, plan: FaultPlan) -> None:
        """Replace the fault plan (counters and random streams start afresh)."""
        self._faults = None if plan.empty else FaultInjector(plan)

    @property
    def fault_plan(self) -> FaultPlan:
        return self._faults.plan if self._faults is not None else FaultPlan()

    def fault_counts(self) -> list[int]:
        """How often each rule of the fault plan has fired (a test's proof that its faults happened)."""
        return self._faults.counts() if self._faults is not None else []

    # -- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.load is not None and scope["type"] == "http" and not _is_control(scope["path"]):
            await serve_loaded(self.load, scope, send, lambda loaded: self._serve(scope, receive, loaded),
                               lambda response: self._answer_blocked(scope, send, response))
            return
        await self._serve(scope, receive, send)

    async def _answer_blocked(self, scope: Scope, send: Send, response: Response) -> None:
        """The load model's 429 (``wire/load.py``), logged as a ``throttled`` fault."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        self.requests.append(LoggedRequest(scope["method"], scope["path"], query, response.status, "throttled"))
        await self._send(send, response, headers)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrival = time.monotonic()  # the fault plan's latency runs from here to the answer
        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if _is_control(path):
            body = await _read_body(receive) if method in ("POST", "PUT") else b""
            await self._send(send, self._control(method, path, body), headers)
            return
        raw_query: bytes = scope.get("query_string", b"")
        query = raw_query.decode("latin-1")
        body = await _read_body(receive) if method in _WITH_BODY else b""
        decision = self._decide(method, path) if self._faults is not None else _NO_FAULT
        fault = decision.fault
        if fault is not None and fault.kind == "reset":
            await _answer_at(arrival + decision.delay)
            self.requests.append(LoggedRequest(method, path, query, 0, fault.kind))
            await faults.reset_connection(send)
            return
        activity = str(uuid.uuid4())
        if fault is not None and faults.replaces_response(fault):
            response = faults.fault_response(fault, activity)
        else:
            origin = f"{scope.get('scheme', 'http')}://{headers.get('host') or _server_host(scope)}"
            response = self.handle(method, path, raw_query, headers, origin, body)
        start = self._start(response, headers, activity.encode())
        await _answer_at(arrival + decision.delay)  # what the work above took is part of the latency
        self.requests.append(LoggedRequest(method, path, query, response.status, fault.kind if fault is not None else ""))
        if fault is not None and fault.kind == "truncate":
            await faults.send_truncated(send, start, response.body)
        elif fault is not None and fault.kind == "slow":
            await faults.send_slowly(send, start, response.body, fault)
        else:
            await send(start)
            await send({"type": "http.response.body", "body": response.body})

    def _decide(self, method: str, path: str) -> faults.Decision:
        """The plan's latency for this request and the fault it meets, if any."""
        assert self._faults is not None
        route = self._route_of(method, path) if self._faults.needs_route else None
        return self._faults.decide(path, route.pattern if route is not None else None)

    async def _send(self, send: Send, response: Response, headers: dict[str, str]) -> None:
        await send(self._start(response, headers, str(uuid.uuid4()).encode()))
        await send({"type": "http.response.body", "body": response.body})

    def _start(self, response: Response, headers: dict[str, str], activity: bytes) -> dict:
        """The ``http.response.start`` message: the response's headers and a few of IIS's."""
        out = [
            (b"content-type", response.content_type.encode("latin-1")),
            (b"content-length", str(len(response.body)).encode()),
            (b"cache-control", b"no-cache"),
            (b"x-tfs-processid", self._process_id),
            (b"activityid", activity),
            (b"x-tfs-session", headers.get("x-tfs-session", "").encode("latin-1") or activity),
            (b"x-vss-e2eid", activity),
            (b"x-content-type-options", b"nosniff"),
        ]  # a few of IIS's headers: each one costs h11 validation time
        out.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers)
        return {"type": "http.response.start", "status": response.status, "headers": out}

    # -- the server proper ---------------------------------------------------------------

    def handle(
        self, method: str, path: str, raw_query: bytes, headers: dict[str, str], origin: str, body: bytes = b""
    ) -> Response:
        """Answer one request as the simulated server would."""
        located = self._locate(path)
        if located is None:
            return html_response(404, NOT_FOUND_HTML)
        scopes = self._authenticate(headers.get("authorization"))
        if scopes is None:
            return self._unauthorized(headers, origin)
        level, rest = located
        route, params, known = self.router.match(level, method, rest)
        if route is None:
            if known:
                return _method_not_allowed(method)
            return html_response(404, NOT_FOUND_HTML)
        try:
            query = Query(raw_query)
            version = self._version(route, method, query, headers) if route.versioned else None
            if route.scope is not None and not _grants(scopes, route.scope):
                raise ApiError(
                    403,
                    f"TF401444: Access denied. The personal access token used does not have the required scope '{route.scope}'.",
                    "VssServiceException",
                    f"{_COMMON}.VssServiceException, {_COMMON}",
                )
            req = Request(method, path, params, query, origin, version, self._principal(), body)
            if self.world.messy is not None:  # a disabled repository's reads; deletions during a sync
                refused = self.world.messy.intercept(self.world, path)
                if refused is not None:
                    raise refused
            response = route.handler(self.site, req)
        except ApiError as error:
            response = error.response()
        if self.body_extras is not None:
            response = self.body_extras.decorate(method, route.pattern, f"{path}?{raw_query.decode('latin-1')}", response)
        return response

    def _locate(self, path: str) -> tuple[str, list[str]] | None:
        """(level, segments after the server or collection root), or None outside ``/tfs[/{collection}]``."""
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0].lower() != "tfs":
            return None
        if len(parts) == 1 or parts[1].lower() == "_apis":
            return SERVER, parts[1:]
        if parts[1].lower() == self._collection:
            return COLLECTION, parts[2:]
        return None

    def _route_of(self, method: str, path: str) -> Route | None:
        located = self._locate(path)
        return self.router.match(located[0], method, located[1])[0] if located is not None else None

    def _principal(self) -> Person:
        return self.world.people[0]

    def _authenticate(self, authorization: str | None) -> frozenset[str] | None:
        """Scopes of the PAT in a ``Basic`` header (any user name), or None."""
        if not authorization:
            return None
        if authorization in self._auth_cache:
            return self._auth_cache[authorization]
        scopes = None
        kind, _, blob = authorization.partition(" ")
        if kind.lower() == "basic":
            try:
                _, colon, pat = base64.b64decode(blob.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                colon, pat = "", ""
            if colon:
                scopes = self._pats.get(pat)
        if len(self._auth_cache) < 1024:
            self._auth_cache[authorization] = scopes
        return scopes

    def _unauthorized(self, headers: dict[str, str], origin: str) -> Response:
        if self.auth == "windows":
            return windows_unauthorized()
        if headers.get("x-tfs-fedauthredirect", "").lower() == "suppress":
            return ApiError(
                401,
                "TF400813: The user '' is not authorized to access this resource.",
                "UnauthorizedRequestException",
                f"{_FRAMEWORK}.UnauthorizedRequestException, {_FRAMEWORK}",
                headers=(("WWW-Authenticate", f'Basic realm="{origin}/tfs"'),),
            ).response()
        return html_response(203, SIGN_IN_HTML)

    def _version(self, route: Route, method: str, query: Query, headers: dict[str, str]) -> ApiVersion:
        text = requested_version_text(query, headers.get("accept", ""))
        if text is None or text.strip() == "":
            raise ApiError.webapi(
                400,
                f'No api-version was supplied for the "{method}" request. The version must be supplied either as part of'
                ' the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter'
                ' (e.g. "?api-version=1.0").',
                "VssVersionNotSpecifiedException",
            )
        version = parse_api_version(text)
        if version is None:
            raise ApiError.webapi(
                400,
                f'Invalid api version string: "{text}". Api version string must be in the format:'
                " {Major}.{Minor}[-preview[.{ResourceVersion}]].",
                "VssInvalidApiResourceVersionException",
            )
        if version.number > self.profile.max:
            raise ApiError.webapi(
                400,
                f"The requested REST API version of {version.plain} is out of range for this server."
                f" The latest REST API version this server supports is {self.profile.max_version}.",
                "VssVersionOutOfRangeException",
            )
        if route.preview and not version.preview:
            raise ApiError.preview_required(version.plain)
        return version

    # -- control routes ------------------------------------------------------------------

    def _control(self, method: str, path: str, body: bytes) -> Response:
        route = path.rstrip("/").lower()
        if route == "/_sim/advance" and method == "POST":
            try:
                payload = json.loads(body) if body.strip() else {}
                steps = int(payload.get("steps", 1)) if isinstance(payload, dict) else int(payload)
            except (ValueError, TypeError):
                return _control_json({"error": 'body must be {"steps": n}'}, 400)
            return _control_json(self.hooks.advance(self.world, steps))
        if route == "/_sim/truth" and method == "GET":
            truth = self.world.truth(self.profile.max_version)
            return _control_json({"types": {t: {"count": len(keys), "keys": keys} for t, keys in truth.items()}})
        if route == "/_sim/requests" and method == "GET":
            return _control_json({"requests": [
                {"method": r.method, "path": r.path, "query": r.query, "status": r.status, "fault": r.fault}
                for r in list(self.requests)
            ]})
        if route == "/_sim/messy" and method == "GET":
            return _control_json(self.world.messy.summary() if self.world.messy is not None else {"messy": False})
        if route == "/_sim/faults":
            return self._control_faults(method, body)
        if route == "/_sim/load":
            return self._control_load(method)
        if route in ("/_sim/events", "/_sim/event-faults"):
            return self._control_events(route, method, body)
        if route == "/_sim/requests" and method == "DELETE":
            cleared = len(self.requests)
            self.requests.clear()
            return _control_json({"cleared": cleared})
        return _control_json({"error": f"no control route {method} {path}"}, 404)

    def _control_faults(self, method: str, body: bytes) -> Response:
        if method == "PUT":
            try:
                self.set_faults(FaultPlan.from_json(json.loads(body or b"{}")))
            except (ValueError, TypeError) as exc:
                return _control_json({"error": f"bad fault plan: {exc}"}, 400)
        elif method == "DELETE":
            self.set_faults(FaultPlan())
        elif method != "GET":
            return _control_json({"error": f"no control route {method} /_sim/faults"}, 404)
        fired = self._faults.counts() if self._faults is not None else []
        return _control_json({"plan": self.fault_plan.to_json(), "fired": fired})

    def _control_events(self, route: str, method: str, body: bytes) -> Response:
        """``/_sim/events`` (GET: the delivery log; DELETE: clear it) and ``/_sim/event-faults`` (GET/PUT/DELETE)."""
        sender = self.hooks.sender
        if route == "/_sim/events" and method == "GET":
            return _control_json({"pending": sender.pending(), "sent": [a.to_json() for a in list(sender.sent)],
                                  "dropped": [a.to_json() for a in list(sender.dropped)]})
        if route == "/_sim/events" and method == "DELETE":
            return _control_json({"cleared": sender.clear_log()})
        if route == "/_sim/event-faults" and method in ("GET", "PUT", "DELETE"):
            if method == "PUT":
                try:
                    sender.set_faults(EventFaultPlan.from_json(json.loads(body or b"{}")))
                except (ValueError, TypeError) as exc:
                    return _control_json({"error": f"bad event fault plan: {exc}"}, 400)
            elif method == "DELETE":
                sender.set_faults(EventFaultPlan())
            return _control_json({"plan": sender.faults.to_json()})
        return _control_json({"error": f"no control route {method} {route}"}, 404)

    def _control_load(self, method: str) -> Response:
        if self.load is None:
            return _control_json({"error": "no load model: start the simulator with --capacity N"}, 404)
        if method == "DELETE":
            self.load.reset()
        elif method != "GET":
            return _control_json({"error": f"no control route {method} /_sim/load"}, 404)
        return _control_json(self.load.stats().to_json())


def _is_control(path: str) -> bool:
    return path == "/_sim" or path.startswith("/_sim/")


def _grants(scopes: frozenset[str], needed: str) -> bool:
    """``full`` grants everything; ``vso.code_write`` and the like grant ``vso.code``."""
    return "full" in scopes or any(s == needed or s.startswith(needed + "_") for s in scopes)


def _method_not_allowed(method: str) -> Response:
    body = json.dumps({"Message": f"The requested resource does not support http method '{method}'."}).encode()
    return Response(405, body, "application/json; charset=utf-8")


def _control_json(obj: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode(), "application/json; charset=utf-8")


async def _answer_at(deadline: float) -> None:
    """Sleep until ``deadline`` (``time.monotonic()``); not at all when it has passed."""
    left = deadline - time.monotonic()
    if left > 0:
        await asyncio.sleep(left)


def _server_host(scope: Scope) -> str:
    server = scope.get("server") or ("127.0.0.1", 80)
    return f"{server[0]}:{server[1]}"


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)

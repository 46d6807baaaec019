"""Run one stream class against recorded answers, as the collector runs a unit, with no network.

    server = Server().get(f"{PROJECT_ID}/_apis/git/repositories", recorded("git_repositories"))
    first = run_stream(RepositoriesStream(), server, parent=PROJECT)
    again = run_stream(RepositoriesStream(), server, parent=PROJECT, cursor=first.checkpoint)

This module is the only place in these tests that knows how a stream is called (its context,
``list``/``key``/``diff``/``read``) and how an ``AdoClient`` is built. Tests see the records, the
last checkpoint as opaque text (fed back, never parsed) and the requests the stream made.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, NamedTuple

import httpx

from satellite.ado.client import AdoClient, CollectionTarget
from satellite.config.model import PageSizes
from satellite.errors import AdoResponseError
from satellite.retrying import RetryPolicy
from satellite.secret import Secret
from satellite.streams import Checkpoint, Record, SnapshotStream, StreamContext
from satellite.streams.records import Quarantined
from satellite.sync.unit_guard import RouteTracker, guarded

__all__ = [
    "COLLECTION_URL",
    "COLLECTION_ID",
    "MALFORMED",
    "Reply",
    "Request",
    "Rec",
    "Run",
    "Server",
    "gone",
    "html",
    "offset_pages",
    "recorded",
    "run_stream",
    "token_pages",
]

COLLECTION_URL = "https://tfs.example.test/tfs/DefaultCollection"
COLLECTION_ID = "24e5d833-bce6-41f3-9496-f3df2e149113"  # the recorded collection's instanceId
_RECORDED = Path(__file__).parent / "recorded"


@lru_cache(maxsize=None)
def _recorded_text(name: str) -> str:
    return (_RECORDED / f"{name}.json").read_text(encoding="utf-8")


def recorded(name: str) -> Any:
    """A fresh copy of ``recorded/<name>.json`` (tests may change it)."""
    return json.loads(_recorded_text(name))


# -- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer: a JSON body, or ``text`` sent as is with ``content_type``."""

    body: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None
    content_type: str = "application/json; charset=utf-8"

    def response(self) -> httpx.Response:
        content = self.text.encode() if self.text is not None else json.dumps(self.body).encode()
        return httpx.Response(self.status, headers={"content-type": self.content_type, **self.headers}, content=content)


def html(page: str = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>") -> Reply:
    """A 200 HTML page where JSON was expected (a sign-in page or a proxy's error page)."""
    return Reply(text=page, content_type="text/html; charset=utf-8")


def gone(what: str = "project", name: str = "5d4f4267-a31e-423c-a905-4ca5f12821b5") -> Reply:
    """A 404 as Azure DevOps Server sends it when a project or repository no longer exists."""
    messages = {
        "project": ("ProjectDoesNotExistWithNameException", f"TF200016: The following project does not exist: {name}."),
        "repository": ("GitRepositoryNotFoundException",
                       f"TF401019: The Git repository with name or identifier {name} does not exist or you do not have"
                       " permissions for the operation you are attempting."),
        "item": ("VssServiceException", f"{name} was not found."),
    }
    type_key, message = messages[what]
    body = {"$id": "1", "innerException": None, "message": message, "typeName": f"{type_key}, Microsoft.TeamFoundation",
            "typeKey": type_key, "errorCode": 0, "eventId": 3000}
    return Reply(body, status=404)


# Bodies a route answering 200 may carry instead of its list, and the error each must become.
MALFORMED: dict[str, tuple[Reply, type[Exception]]] = {
    "empty object": (Reply({}), AdoResponseError),
    "empty list": (Reply([]), AdoResponseError),
    "string": (Reply("Service Unavailable"), AdoResponseError),
    "html page": (html(), AdoResponseError),  # a proxy's page: retried, then this
    "truncated json": (Reply(text='{"count": 2, "value": [{"id": '), AdoResponseError),
}


# -- the server ----------------------------------------------------------------------------------


class Request(NamedTuple):
    """A request a stream made: path relative to the collection (decoded), query without api-version."""

    method: str
    path: str
    params: dict[str, str]
    api_version: str


Answer = Reply | Callable[[Request], Reply] | Any  # a Reply, a function of the request, or a JSON body (200)


@dataclass(frozen=True, slots=True)
class _Rule:
    method: str
    path: str  # lower case: the server's routes are case-insensitive
    params: Mapping[str, str]
    answer: Answer

    def matches(self, request: Request) -> bool:
        return (self.method == request.method and self.path == request.path.lower()
                and all(request.params.get(k) == v for k, v in self.params.items()))


class Server:
    """Recorded answers by route; the most specific rule (most params) that matches answers.

    ``OPTIONS _apis`` (api-version negotiation) is answered with ``version`` and not logged. A
    request no rule matches fails the test (AssertionError), so a stream asking for something the
    test did not expect is never answered by accident.
    """

    def __init__(self, version: str = "7.0") -> None:
        self.version = version
        self.requests: list[Request] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()

    def get(self, path: str, answer: Answer, params: Mapping[str, Any] | None = None) -> "Server":
        return self.route("GET", path, answer, params)

    def route(self, method: str, path: str, answer: Answer, params: Mapping[str, Any] | None = None) -> "Server":
        """Answer ``method path`` (with at least these query params); a later rule of the same
        specificity wins, so a test can override one route of a prepared server."""
        rule = _Rule(method, path.strip("/").lower(), {k: str(v) for k, v in (params or {}).items()}, answer)
        with self._lock:
            self._rules.append(rule)
        return self

    def handle(self, http_request: httpx.Request) -> httpx.Response:
        base = httpx.URL(COLLECTION_URL).path.rstrip("/")
        path = http_request.url.path
        path = path[len(base):] if path.startswith(base) else path
        params = dict(http_request.url.params)
        version = params.pop("api-version", "")
        request = Request(http_request.method, path.strip("/"), params, version)
        if request.method == "OPTIONS" and request.path == "_apis":
            return Reply({"count": 1, "value": [{"area": "core", "resourceName": "projects", "routeTemplate": "_apis/{resource}",
                                                  "minVersion": "1.0", "maxVersion": self.version}]}).response()
        with self._lock:
            self.requests.append(request)
            candidates = [(len(rule.params), index, rule) for index, rule in enumerate(self._rules) if rule.matches(request)]
        if not candidates:
            raise AssertionError(f"no recorded answer for {request.method} {request.path} {request.params}")
        answer = max(candidates, key=lambda c: (c[0], c[1]))[2].answer
        if callable(answer) and not isinstance(answer, Reply):
            answer = answer(request)
        return (answer if isinstance(answer, Reply) else Reply(answer)).response()


def offset_pages(values: list[dict] | Callable[[], list[dict]], *, top: str = "$top", skip: str = "$skip") -> Callable[[Request], Reply]:
    """Answer a ``$top``/``$skip`` route with its slice of ``values`` (a list or a function giving it)."""

    def answer(request: Request) -> Reply:
        items = values() if callable(values) else values
        start, size = int(request.params.get(skip, 0)), int(request.params.get(top, 100))
        page = items[start:start + size]
        return Reply({"count": len(page), "value": page})

    return answer


def token_pages(values: list[dict], *, top: str = "$top") -> Callable[[Request], Reply]:
    """Answer a continuation-token route: pages of ``$top`` items, the next offset as the token."""

    def answer(request: Request) -> Reply:
        start, size = int(request.params.get("continuationToken", 0)), int(request.params.get(top, 100))
        page = values[start:start + size]
        more = start + size < len(values)
        return Reply({"count": len(page), "value": page}, headers={"x-ms-continuationtoken": str(start + size)} if more else {})

    return answer


# -- running a stream ----------------------------------------------------------------------------


class Rec(NamedTuple):
    """A record as SEI receives it (``observed_at`` left out)."""

    type: str
    key: str
    op: str
    data: dict | None


@dataclass(frozen=True, slots=True)
class Run:
    """What one run of a stream produced, up to its end or its error."""

    records: tuple[Rec, ...]
    checkpoints: tuple[str, ...]  # opaque: feed one back as ``cursor``, never read it
    requests: tuple[Request, ...]
    listed: tuple[dict, ...] | None  # a snapshot stream's list (what the streams below it see)
    error: BaseException | None = None
    quarantined: tuple[Quarantined, ...] = ()  # items skipped as unreadable (the stream went on)

    @property
    def checkpoint(self) -> str | None:
        """The last checkpoint (what the collector would store), or None."""
        return self.checkpoints[-1] if self.checkpoints else None

    def keys(self, type: str | None = None, op: str | None = None) -> list[str]:
        return [r.key for r in self.records if (type is None or r.type == type) and (op is None or r.op == op)]

    def of(self, type: str) -> list[Rec]:
        return [r for r in self.records if r.type == type]

    def record(self, key: str, type: str | None = None) -> Rec:
        """The one record of ``key`` (and ``type``: keys are unique per record type)."""
        (found,) = [r for r in self.records if r.key == key and (type is None or r.type == type)]
        return found

    @property
    def deletes(self) -> list[Rec]:
        return [r for r in self.records if r.op == "delete"]

    def paths(self, method: str = "GET") -> list[str]:
        return [r.path for r in self.requests if r.method == method]

    def asked(self, path: str, **params: Any) -> list[Request]:
        """The requests to ``path`` (case-insensitive) carrying at least these params."""
        return [r for r in self.requests if r.path.lower() == path.lower()
                and all(r.params.get(k) == str(v) for k, v in params.items())]


PAT = "unit-test-pat"


def run_stream(
    stream: Any,
    server: Server,
    *,
    parent: dict | None = None,
    cursor: str | None = None,
    listed: Mapping[Any, Iterable[dict]] | None = None,
    delivered: Iterable[str] = (),
    page_sizes: Mapping[str, int] | None = None,
    backfill_start: str | None = None,
    expect: type[BaseException] | None = None,
) -> Run:
    """Run ``stream`` once as the collector runs a unit: a snapshot stream lists then diffs, an
    incremental stream reads; a shape error (KeyError, TypeError...) becomes an AdoResponseError.

    ``listed``: what the snapshot streams run before it listed, by stream class or name.
    ``delivered``: keys stored before (seen by immutable streams only, as in the collector).
    ``expect``: the run must fail with this error; the Run holds what came before it. Without
    ``expect`` an error fails the test.
    """
    client = AdoClient(
        CollectionTarget(COLLECTION_URL, "DefaultCollection"),
        Secret(PAT),
        retry=RetryPolicy(max_attempts=2, initial_wait=0.0, max_wait=0.0, sleep=lambda seconds: None),
        max_connections=4,
        transport=httpx.MockTransport(server.handle),
    )
    tracker = RouteTracker(client)
    known = set(delivered)  # as in the collector: a key handed to the batch being filled counts too (below)
    ctx = StreamContext(
        tracker,  # type: ignore[arg-type]
        f"DefaultCollection/{(parent or {}).get('id', '')}",
        cursor,
        PageSizes(**(page_sizes or {})),
        collection_id=COLLECTION_ID,
        backfill_start=backfill_start,
        listed={(name if isinstance(name, str) else name.name): list(items) for name, items in (listed or {}).items()},
        already_delivered=(lambda keys: known.intersection(keys)) if stream.immutable else (lambda keys: set()),
    )
    start = len(server.requests)
    records: list[Rec] = []
    checkpoints: list[str] = []
    quarantined: list[Quarantined] = []
    items: list[dict] | None = None
    error: BaseException | None = None
    try:
        if isinstance(stream, SnapshotStream):
            items = list(guarded(lambda: stream.list(ctx, parent), tracker, stream.name))
            produced = guarded(lambda: stream.diff(ctx, parent, items), tracker, stream.name)
        else:
            produced = guarded(lambda: stream.read(ctx, parent), tracker, stream.name)
        for item in produced:
            if isinstance(item, Checkpoint):
                checkpoints.append(item.cursor)
            elif isinstance(item, Record):
                records.append(Rec(item.type, item.key, item.op, item.data))
                known.add(item.key)
            elif isinstance(item, Quarantined):
                quarantined.append(item)
            else:
                raise AssertionError(f"{stream.name} yielded {item!r}")
    except AssertionError:
        raise
    except Exception as exc:  # noqa: BLE001 - handed to the test through Run.error
        error = exc
    finally:
        client.close()
    run = Run(tuple(records), tuple(checkpoints), tuple(server.requests[start:]),
              tuple(items) if items is not None else None, error, tuple(quarantined))
    if expect is None and error is not None:
        raise error
    if expect is not None:
        assert error is not None, f"{stream.name} was expected to fail with {expect.__name__} but ended normally: {run.records}"
        assert isinstance(error, expect), f"{stream.name} failed with {type(error).__name__}: {error}, not {expect.__name__}"
    return run

"""AdoClient: the one way the satellite talks to an Azure DevOps Server collection.

    client = AdoClient(CollectionTarget(url, name), pat)
    version = client.api_version()                  # negotiated once, cached
    repositories = client.get_list(f"{project}/_apis/git/repositories")   # checked: a list, or an error
    for page in client.pages("_apis/projects", TopSkip(100)): ...          # satellite.ado.paging

Every request carries the PAT as Basic auth and ``X-TFS-FedAuthRedirect: Suppress`` (so a bad
PAT is a 401, not a sign-in page), is retried on 408/429/5xx and network errors with full-jitter
backoff honouring Retry-After, and verifies TLS unless the operator opted out. With a ``gate``
(satellite.politeness: the collector passes its server's), every request first passes it: a
Retry-After pause of the whole server, the adaptive concurrency limit, the rate cap.
"""

from __future__ import annotations

import base64
import re
import ssl
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar
from urllib.parse import quote

import httpx
import structlog

from satellite.ado.paging import Answer, Page, Paginator, TokenHeader, TopSkip
from satellite.ado.responses import (
    MalformedAnswer,
    TransientAdoError,
    check_response,
    decode_json,
    decode_response,
    expect_list,
    is_retryable,
)
from satellite.ado.versions import ApiVersion, parse_out_of_range, pick_version
from satellite.http_clients import TlsOptions, build_client_lanes
from satellite.errors import AdoNotFoundError, AdoResponseError, AdoTransportError, AdoVersionError
from satellite.metrics import ADO_REQUESTS, ADO_THROTTLE_WAIT
from satellite.politeness import ServerGate, carrying, current_work
from satellite.politeness.observer import Labelled
from satellite.retrying import RetryPolicy
from satellite.secret import Secret

__all__ = ["AdoClient", "CollectionTarget", "TlsOptions", "segment"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

# get_many's threads per connection. A worker only sends and reads (the caller decodes), so one keeps
# its connection busy; 2 was right while a worker decoded its answer after giving the connection back.
FETCHERS_PER_CONNECTION = 1

_ID_SEGMENT = re.compile(r"/(?:[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|\d+)(?=/|$)")


def _route_label(path: str) -> str:
    """A metrics label for a path: ids become ``{id}`` so the label set stays small."""
    return _ID_SEGMENT.sub("/{id}", "/" + path.split("?", 1)[0].lstrip("/"))


_QUERIES_KEPT = 1024  # encoded queries remembered (paged walks ask new ones: the cache starts over when full)
_NOT_PLAIN = re.compile(r"[?#:]|^//")  # a path httpx must join itself: a query, a fragment, a scheme, a host


def _base_for_paths(url: str) -> str | None:
    """The collection URL as httpx's ``base_url`` makes it (normalised, one trailing slash), to put a
    path after; None if it is relative or has a query or a fragment (httpx joins a path to those its own way)."""
    base = httpx.URL(url.rstrip("/") + "/")
    return None if base.is_relative_url or base.query or base.fragment else str(base)


def segment(value: str) -> str:
    """URL-encode one path segment (project and team names may hold spaces)."""
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class CollectionTarget:
    """A collection: its URL and a display name."""

    url: str
    name: str


def _describe_transport_error(exc: httpx.TransportError, url: str) -> tuple[str, bool]:
    """(message, retryable) for a network-level failure."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc.__cause__, ssl.SSLCertVerificationError):
        reason = "certificate has expired" if "expired" in text else "certificate is not trusted"
        return (
            f"TLS verification failed for {url}: the server {reason}. If the server uses an internal CA,"
            " add its certificate with tls.ca_bundle (PEM file) in the integration config",
            False,
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out talking to {url} ({exc.__class__.__name__})", True
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {url}: {text or exc.__class__.__name__}", True
    return f"network error talking to {url}: {exc.__class__.__name__} {text}".strip(), True


class AdoClient:
    """HTTP access to one collection, with auth, api-version, retries and paging."""

    def __init__(
        self,
        target: CollectionTarget,
        pat: Secret,
        *,
        tls: TlsOptions = TlsOptions(),
        proxy: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        max_connections: int = 8,
        transport: httpx.BaseTransport | None = None,
        transport_factory: Callable[[], httpx.BaseTransport] | None = None,
        gate: ServerGate | None = None,
    ) -> None:
        """``gate``: the server's politeness gate every request passes (None: none, as for one-off checks).
        ``transport``: shared by every connection (a mock); ``transport_factory``: one per connection."""
        self.target = target
        self._gate = gate
        self._retry = retry
        token = base64.b64encode(f":{pat.reveal()}".encode()).decode()
        Secret(token)  # registers the encoded form with the log redactor too
        # Threads share the connections only through lanes: one httpx.Client between them loses requests (http_lanes).
        self._http = build_client_lanes(
            tls,
            proxy=proxy,
            timeout=timeout,
            base_url=target.url,
            headers={"Authorization": f"Basic {token}", "X-TFS-FedAuthRedirect": "Suppress", "Accept": "application/json"},
            lanes=max_connections,
            transport=transport,
            transport_factory=transport_factory,
        )
        self._base = _base_for_paths(target.url)
        self._request_counts = Labelled(ADO_REQUESTS)
        self._queries: dict[tuple, str] = {}
        self._version: ApiVersion | None = None
        self._collection_id: str | None = None
        self._version_lock = threading.Lock()
        self._requests = 0
        self._count_lock = threading.Lock()
        self._max_connections = max_connections
        self._pool = ThreadPoolExecutor(max_workers=FETCHERS_PER_CONNECTION * max_connections,
                                        thread_name_prefix=f"ado-{target.name}")

    @property
    def request_count(self) -> int:
        return self._requests

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()

    def __enter__(self) -> "AdoClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # transport ---------------------------------------------------------------------------------

    def _send_once(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any, headers: Mapping[str, str] | None) -> httpx.Response:
        with self._count_lock:
            self._requests += 1
        route = _route_label(path)
        gate = self._gate
        ticket = gate.enter(current_work(), f"{method} {route}") if gate is not None else None
        try:
            url, query = self._url(path, params)
            response = self._http.request(method, url, params=query, json=json_body, headers=headers)
        except BaseException as exc:
            if gate is not None and ticket is not None:
                gate.leave(ticket, None, None)
            if not isinstance(exc, httpx.TransportError):
                raise
            self._request_counts(self.target.name, route, "error").inc()
            message, retryable = _describe_transport_error(exc, self.target.url)
            error_type = TransientAdoError if retryable else AdoTransportError
            raise error_type(message, collection=self.target.url) from None
        if gate is not None and ticket is not None:
            gate.leave(ticket, response.status_code, response.headers)
        self._request_counts(self.target.name, route, str(response.status_code)).inc()
        return response

    def _url(self, path: str, params: Mapping[str, Any] | None) -> tuple[str | httpx.URL, Mapping[str, Any] | None]:
        """The URL to send and the params left for httpx to add: a plain relative path becomes the
        whole URL, query included, parsed once (httpx parses a relative path, then the base URL joined
        to it, then the URL with the params merged in: 45 us a request); anything else (a query or
        a colon in the path) goes as it is, for httpx to join."""
        if self._base is None or _NOT_PLAIN.search(path):
            return path, params
        query = self._query(params) if params else ""
        return httpx.URL(f"{self._base}{path.lstrip('/')}?{query}" if query else f"{self._base}{path.lstrip('/')}"), None

    def _query(self, params: Mapping[str, Any]) -> str:
        """``params`` encoded as httpx encodes them, remembered for the next request asking the same
        (a fan-out asks each item with the same params: 3-10 us each); any value's type is part of the
        key (``1``, ``1.0`` and ``True`` are equal keys but encode as ``1``, ``1.0``, ``true``)."""
        try:
            key = tuple([(name, value.__class__, value) for name, value in params.items()])
            known = self._queries.get(key)
        except TypeError:  # an unhashable value (a list of values for one name)
            return str(httpx.QueryParams(params))
        if known is None:
            if len(self._queries) >= _QUERIES_KEPT:
                self._queries.clear()
            known = self._queries[key] = str(httpx.QueryParams(params))
        return known

    def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        check: Callable[[Any], object] | None = None,
    ) -> tuple[Any, httpx.Headers]:
        """Send with retries; returns (decoded JSON, response headers).

        A 2xx answer that is not JSON, or whose body ``check`` refuses (raises AdoResponseError:
        not the route's shape), is a malformed answer: retried like a 5xx, and an AdoResponseError
        once the retries run out.
        """

        def read(response: httpx.Response) -> tuple[Any, httpx.Headers]:
            body = decode_response(response, self.target.url)
            if check is not None:
                check(body)
            return body, response.headers

        return self._exchange(method, path, params, json_body, headers, read)

    def _exchange(self, method: str, path: str, params: Mapping[str, Any] | None, json_body: Any,
                  headers: Mapping[str, str] | None, read: Callable[[httpx.Response], T]) -> T:
        """Send with retries until ``read`` takes the answer (see ``request``: its errors, what is retried)."""
        try:
            for attempt in self._retry.retrying(is_retryable, what=f"{method} {self.target.name}/{path}"):
                with attempt:
                    response = self._send_once(method, path, params, json_body, headers)
                    try:
                        return read(response)
                    except TransientAdoError as exc:
                        if exc.retry_after:
                            ADO_THROTTLE_WAIT.labels(self.target.name).inc(exc.retry_after)
                        raise
                    except AdoResponseError as exc:
                        if not 200 <= response.status_code < 300:
                            raise
                        raise MalformedAnswer(str(exc), collection=exc.collection, status=response.status_code) from None
        except MalformedAnswer as exc:
            raise AdoResponseError(str(exc), collection=exc.collection, status=exc.status) from None
        except TransientAdoError as exc:
            # Retries ran out: surface as a plain transport/server error of the same message.
            raise AdoTransportError(str(exc), collection=exc.collection, status=exc.status, retry_after=exc.retry_after) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _checked(self, response: httpx.Response) -> httpx.Response:
        """A 2xx answer that may be JSON, its body not parsed; the error of any other (``check_response``)."""
        check_response(response, self.target.url)
        return response

    def _answer(self, path: str, params: Mapping[str, Any] | None, preview: bool, missing_ok: bool) -> httpx.Response | None:
        """GET ``path`` with retries, the 2xx answer unparsed (None: a 404 and ``missing_ok``)."""
        query = {**(params or {}), "api-version": self.api_version().for_route(preview)}
        try:
            return self._exchange("GET", path, query, None, None, self._checked)
        except AdoNotFoundError:
            if missing_ok:
                return None
            raise

    def _list_check(self, key: str, path: str) -> Callable[[Any], object]:
        return lambda body: expect_list(body, key, self.target.url, path)

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, preview: bool = False,
            check: Callable[[Any], object] | None = None) -> Any:
        """GET a JSON resource at the negotiated api-version (``check``: see ``request``)."""
        query = {**(params or {}), "api-version": self.api_version().for_route(preview)}
        return self.request("GET", path, query, check=check)[0]

    def get_list(self, path: str, params: Mapping[str, Any] | None = None, *, key: str = "value", preview: bool = False) -> list[dict]:
        """GET a list: ``body[key]`` of a ``{count, value}`` (or the route's own list key) answer.

        Raises AdoResponseError for any other 200 body (``{}``, ``[]``, a string...): never an
        empty list in its place.
        """
        return expect_list(self.get(path, params, preview=preview, check=self._list_check(key, path)), key, self.target.url, path)

    def get_many(
        self,
        paths: Iterable[str],
        params: Mapping[str, Any] | None = None,
        *,
        preview: bool = False,
        missing_ok: bool = False,
        list_key: str | None = None,
        ahead: int = 2,
    ) -> Iterator[Any]:
        """GET several resources concurrently (bounded by the connection limit); yields bodies in order.

        ``missing_ok``: a 404 yields None instead of raising. ``list_key``: each resource is a
        list (as ``get_list`` reads it) and its items are yielded instead of its body. Another
        error raises where its resource would have been yielded. ``ahead``: requests queued ahead
        of the one yielded next, in connections: the client's threads serve the queued requests of
        every caller in turn, so a caller with more ahead gets a larger share of them (a long
        fan-out that would otherwise run on alone at the end of a backfill). ``paths`` may be lazy
        (read page by page): the requests run ahead across its pages; if it raises, the bodies of the
        paths before are yielded, then its error.

        The client's threads send and read; the caller's thread decodes (a thread's decode holds no
        connection). An answer that does not decode, or is not the list asked, is asked again here,
        with every retry (``get``).
        """

        def fetch(path: str) -> Any:
            try:
                body = self.get(path, params, preview=preview,
                                check=None if list_key is None else self._list_check(list_key, path))
            except AdoNotFoundError:
                if missing_ok:
                    return None
                raise
            return body if list_key is None else expect_list(body, list_key, self.target.url, path)

        def decoded(asked: tuple[str, Future[httpx.Response | None]]) -> Any:
            path, future = asked
            response = future.result()
            if response is None:
                return None
            try:
                body = decode_json(response, self.target.url)
                return body if list_key is None else expect_list(body, list_key, self.target.url, path)
            except AdoResponseError:  # malformed: asked again, with retries, before it is an error
                return fetch(path)

        pending: deque[tuple[str, Future[httpx.Response | None]]] = deque()
        listed = iter(paths)
        while True:
            try:
                path = next(listed)
            except StopIteration:
                break
            except BaseException:  # ``paths`` failed (a lazy listing): what was asked before it is yielded first
                while pending:
                    yield decoded(pending.popleft())
                raise
            asked = self._pool.submit(carrying(self._answer), path, params, preview, missing_ok)  # as the caller's work
            pending.append((path, asked))
            if len(pending) >= max(1, ahead) * self._max_connections:
                yield decoded(pending.popleft())
        while pending:
            yield decoded(pending.popleft())

    # api-version -------------------------------------------------------------------------------

    def api_version(self) -> ApiVersion:
        """Negotiate once per collection: OPTIONS _apis, else the 'out of range' probe."""
        with self._version_lock:
            if self._version is None:
                self._version = self._detect_version()
                log.info("api_version", collection=self.target.url, server_max=self._version.server_max, using=self._version.base)
            return self._version

    def collection_id(self) -> str:
        """The collection's instance id (from connectionData), cached: keys of per-collection ids use it."""
        with self._version_lock:
            known = self._collection_id
        if known is None:
            body = self.get("_apis/connectionData", preview=True)
            known = str(body.get("instanceId", "")) if isinstance(body, dict) else ""
            if not known:
                raise AdoResponseError(f"{self.target.url}: connectionData has no instanceId", collection=self.target.url)
            with self._version_lock:
                self._collection_id = known
        return known

    def post(self, path: str, body: Any, params: Mapping[str, Any] | None = None, *, preview: bool = False) -> Any:
        """POST JSON at the negotiated api-version (WIQL, batch reads)."""
        query = {**(params or {}), "api-version": self.api_version().for_route(preview)}
        return self.request("POST", path, query, json_body=body)[0]

    def _detect_version(self) -> ApiVersion:
        server_max = self._max_from_options() or self._max_from_probe()
        base = pick_version(server_max)
        if base is None:
            raise AdoVersionError(
                f"{self.target.url} supports REST api-version {server_max} at most; the satellite needs"
                " Azure DevOps Server 2019 (5.0) or later",
                collection=self.target.url,
            )
        return ApiVersion(server_max=server_max, base=base)

    def _max_from_options(self) -> str | None:
        try:
            body, _ = self.request("OPTIONS", "_apis")
        except (AdoNotFoundError, AdoResponseError):
            return None
        versions = []
        for location in (body or {}).get("value", []) if isinstance(body, dict) else []:
            try:
                versions.append(float(location.get("maxVersion")))
            except (TypeError, ValueError):
                continue
        if not versions:
            return None
        return f"{max(versions):.1f}"

    def _max_from_probe(self) -> str:
        try:
            self.request("GET", "_apis/projects", {"api-version": "99.0", "$top": 1})
        except AdoVersionError as exc:
            found = parse_out_of_range(str(exc))
            if found:
                return found
        raise AdoVersionError(
            f"could not learn the REST api-version of {self.target.url}: neither OPTIONS _apis nor the"
            " version probe answered; is this an Azure DevOps Server collection URL?",
            collection=self.target.url,
        )

    # paging ------------------------------------------------------------------------------------

    def pages(
        self,
        path: str,
        paginator: Paginator,
        params: Mapping[str, Any] | None = None,
        *,
        preview: bool = False,
        first: Any = None,
    ) -> Iterator[Page]:
        """The pages of a list route as ``paginator`` walks it; every answer's list is checked.

        ``first``: the body of the walk's first request, already read (e.g. by ``get_many``).
        """
        base = {**(params or {})}
        version = self.api_version().for_route(preview)
        opening = [first] if first is not None else []

        check = self._list_check(paginator.list_key, path)

        def fetch(paging: Mapping[str, Any]) -> Answer:
            if opening:
                body, headers = opening.pop(), httpx.Headers()
                try:
                    return Answer(expect_list(body, paginator.list_key, self.target.url, path), body, headers)
                except AdoResponseError:
                    pass  # the answer read ahead was malformed: ask again, with retries
            body, headers = self.request("GET", path, {**base, **paging, "api-version": version}, check=check)
            return Answer(expect_list(body, paginator.list_key, self.target.url, path), body, headers)

        return paginator.pages(fetch, f"{self.target.url}/{path}")

    def pages_by_token(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int,
        top_param: str = "$top",
        preview: bool = False,
    ) -> Iterator[list[dict]]:
        """Pages of ``value`` following the ``x-ms-continuationtoken`` response header."""
        return (page.items for page in self.pages(path, TokenHeader(page_size, top_param), params, preview=preview))

    def pages_by_offset(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int,
        top_param: str = "$top",
        skip_param: str = "$skip",
        preview: bool = False,
    ) -> Iterator[list[dict]]:
        """Pages of ``value`` using ``$top``/``$skip``, until a short page."""
        return (page.items for page in self.pages(path, TopSkip(page_size, top_param, skip_param), params, preview=preview))

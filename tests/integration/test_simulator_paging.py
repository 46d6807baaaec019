"""Paging of every paged list route, on every profile: walking all pages with a small page size
yields each item exactly once, in the order of one big page, and the same items as the unpaged
listing.

Paged routes are found from the samples (``tests/simulator_samples``) and the spec: a route is
paged when its spec operation declares a page-size parameter (``$top``, ``searchCriteria.$top``,
``top``, ``$maxPageSize``); one that declares a size but neither a skip parameter nor a continuation
token (Get Changes Between Builds) is only checked to cut its first items. The walk uses the first of them the route honours, then follows what
the answer offers: the ``x-ms-continuationtoken`` header, a token in the body (``StreamedBatch``
until ``isLastBatch``, ``CommentList``), the next revision (5.0 ``WorkItemComments``:
``fromRevision``), or the declared skip parameter while pages come full.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from standins.loopback import serve_in_thread
from standins.ado_simulator.app import create_app
from standins.ado_simulator.semantics import as_asked
from standins.ado_simulator.wire.profiles import PROFILES
from standins.ado_simulator.world.world import World, generate_world
from tests.simulator_samples import api_version, load_samples, request_url, sample_route, spec_index, split_sample

pytestmark = pytest.mark.integration

PAT = "sim-pat"
HEADERS = {"X-TFS-FedAuthRedirect": "Suppress"}
TOKEN_HEADER = "x-ms-continuationtoken"
SIZE_TO_SKIP = {"$top": "$skip", "searchCriteria.$top": "searchCriteria.$skip", "top": "skip", "$maxPageSize": None}
PAGING = set(SIZE_TO_SKIP) | {v for v in SIZE_TO_SKIP.values() if v} | {"continuationToken"}
BIG = 1000
MAX_PAGES = 2000


@dataclass
class Page:
    items: list[Any]
    next: dict[str, str] | None  # the query that continues the listing, None: nothing offered


def _token(token: str | None) -> dict[str, str] | None:
    return {"continuationToken": token} if token else None


def read_page(response: httpx.Response) -> Page | None:
    """The items and continuation of one answer, or None when it is not a list shape."""
    if response.status_code != 200 or not response.headers.get("content-type", "").startswith("application/json"):
        return None
    body = response.json()
    if not isinstance(body, dict):
        return None
    if "values" in body and "isLastBatch" in body:  # StreamedBatch
        return Page(body["values"], None if body["isLastBatch"] else _token(body.get("continuationToken")))
    if "comments" in body and "fromRevisionCount" in body:  # 5.0 WorkItemComments
        more = body["comments"] and body["fromRevisionCount"] > body["count"]
        return Page(body["comments"], {"fromRevision": str(body["comments"][-1]["revision"] + 1)} if more else None)
    if "comments" in body and "totalCount" in body:  # CommentList
        return Page(body["comments"], _token(body.get("continuationToken")))
    if set(body) == {"count", "value"} and isinstance(body["value"], list):
        assert body["count"] == len(body["value"])
        return Page(body["value"], _token(response.headers.get(TOKEN_HEADER)))
    return None


class Walker:
    def __init__(self, client: httpx.Client, url: str, query: dict, version: str, body: Any, declared: list[str]) -> None:
        self.client, self.url, self.version, self.body = client, url, version, body
        self.query = {k: v for k, v in query.items() if k not in PAGING}
        self.declared = set(declared)  # the operation's query parameters

    def get(self, extra: dict) -> httpx.Response:
        method = "POST" if self.body is not None else "GET"
        return self.client.request(method, self.url, params={**self.query, **extra, "api-version": self.version},
                                   json=self.body)

    def walk(self, size_param: str, size: int) -> list[Any]:
        """Every page in order; fails on an oversized page, a repeated continuation, an ignored skip
        or a runaway walk."""
        skip_param = SIZE_TO_SKIP[size_param] if SIZE_TO_SKIP[size_param] in self.declared else None
        items: list[Any] = []
        follow: dict[str, str] | None = None
        seen: set[str] = set()
        skip = 0
        for _ in range(MAX_PAGES):
            extra: dict[str, Any] = {size_param: size, **(follow or {})}
            if follow is None and skip:
                extra[skip_param] = skip
            page = read_page(self.get(extra))
            assert page is not None, f"page {extra} of {self.url} is not a list"
            assert len(page.items) <= size, f"{size_param}={size} gave {len(page.items)} items"
            if skip and follow is None:
                assert not {canonical(i) for i in page.items} & {canonical(i) for i in items}, f"{skip_param} is ignored"
            items += page.items
            if page.next:
                key = canonical(page.next)
                assert key not in seen, f"continuation {page.next} repeated"
                seen.add(key)
                follow = page.next
            elif follow is None and skip_param and len(page.items) == size:
                skip += size
            else:
                return items
        raise AssertionError(f"more than {MAX_PAGES} pages")


def canonical(item: Any) -> str:
    return json.dumps(item, sort_keys=True)


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(7, "tiny")


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_paged_list_route_pages_exactly_once(world, profile):
    max_version = PROFILES[profile].max_version
    spec = spec_index(max_version)
    app = create_app(world, profile, {PAT: frozenset({"full"})}, semantics=as_asked(world.semantics))
    walked, problems = [], []
    with serve_in_thread(app) as server, httpx.Client(auth=("", PAT), headers=HEADERS, timeout=30) as client:
        for pattern, factories in sorted(load_samples().items()):
            for sample in (s for factory in factories for s in factory(world)):
                method, path, server_level, query, body = split_sample(sample)
                found = spec.operation(method, pattern)
                route = sample_route(app, method, path, server_level)
                if found is None or route is None:
                    continue
                sizes = [p for p in SIZE_TO_SKIP if p in found[1]["query"]]
                if not sizes:
                    continue
                version = api_version(max_version, found[1]["preview"])
                url = request_url(server.url, world.collection.name, path, server_level)
                walker = Walker(client, url, query, version, body, found[1]["query"])
                unpaged = read_page(walker.get({}))
                if unpaged is None:
                    continue  # a single object (e.g. a pull request by id): not a list
                declared = set(found[1]["query"])
                if (not {SIZE_TO_SKIP[p] for p in sizes} & declared and "continuationToken" not in declared
                        and not (read_page(walker.get({sizes[0]: 1})) or unpaged).next):
                    problems += check_cut(walker, sizes[0], unpaged, f"{method} {path} {query}")
                    continue  # nothing to page with (Get Changes Between Builds): $top only cuts
                try:
                    walked.append(check_paging(walker, sizes, unpaged))
                except AssertionError as error:
                    problems.append(f"{method} {path} {query}: {error}")
    assert not problems, "\n".join(problems)
    assert walked and sum(walked) > 0


def check_cut(walker: Walker, size_param: str, unpaged: Page, name: str) -> list[str]:
    """A list whose spec declares a size but no skip or token: ``size`` cuts the first items, nothing more."""
    small = read_page(walker.get({size_param: 2}))
    if small is None or [canonical(i) for i in small.items] != [canonical(i) for i in unpaged.items[:2]] or small.next:
        return [f"{name}: {size_param}=2 is not the first two items of the listing"]
    return []


def check_paging(walker: Walker, sizes: list[str], unpaged: Page) -> int:
    """Walk with the first page-size parameter the route honours; returns how many items it has."""
    for size_param in sizes:
        everything = walker.walk(size_param, BIG)
        small = max(1, -(-len(everything) // 4))  # about four pages
        first = read_page(walker.get({size_param: small}))
        if len(everything) > small and first is not None and len(first.items) > small:
            continue  # this parameter is not the route's (e.g. top vs searchCriteria.$top)
        paged = walker.walk(size_param, small)
        keys = [canonical(item) for item in paged]
        assert len(set(keys)) == len(keys), f"{size_param}={small}: an item came twice"
        assert keys == [canonical(item) for item in everything], f"{size_param}={small}: pages differ from one big page"
        if unpaged.next is None:  # the unpaged answer is the whole listing, or its first (default-size) page
            default_page = [canonical(i) for i in unpaged.items]
            assert default_page == keys[: len(default_page)], "the unpaged listing differs from the pages"
            assert len(default_page) == len(keys) or len(default_page) >= 50, "the unpaged listing lacks items"
        return len(everything)
    raise AssertionError(f"honours none of its page-size parameters {sizes}")

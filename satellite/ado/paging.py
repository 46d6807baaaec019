"""Paginators: every way Azure DevOps Server pages a list, one small object each.

A paginator walks one list route through a ``fetch`` the client hands it (the paging query
parameters of one request -> that answer, its list already checked) and yields ``Page``s:

    TokenHeader(page_size)                   the ``x-ms-continuationtoken`` response header
    TokenBody("values", last_key=...)        a token in the body (reporting APIs, comments)
    TopSkip(page_size)                       ``$top``/``$skip`` (names configurable), until a short page
    IdKeyset("changesetId", page_size)       ascending ids, each page from the last id read + 1
    NewestFirst(TopSkip(n), "pushId", known) newest first, until an id delivered before

A server that pages in circles (a token again, a page identical to the previous one, a keyset
that does not move) ends the walk with "pagination loop at ..." (``LoopGuard``) instead of
looping forever.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, NamedTuple, Protocol

from satellite.errors import AdoResponseError

__all__ = [
    "CONTINUATION_HEADER",
    "Answer",
    "Fetch",
    "LoopGuard",
    "Page",
    "Paginator",
    "TokenHeader",
    "TokenBody",
    "TopSkip",
    "IdKeyset",
    "NewestFirst",
    "items",
]

CONTINUATION_HEADER = "x-ms-continuationtoken"


class Answer(NamedTuple):
    """One answer of a list route: its items (checked to be a list), the whole body, the headers."""

    items: list[dict]
    body: Any
    headers: Mapping[str, str]


Fetch = Callable[[Mapping[str, Any]], Answer]  # paging params of one request -> its answer


@dataclass(frozen=True, slots=True)
class Page:
    """Items of one page; ``resume``: for token walks, the token a later walk resumes from after it."""

    items: list[dict]
    resume: str | None = None


class Paginator(Protocol):
    list_key: str  # where the items are in an answer: "value", "values", "comments", ...

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]: ...


def items(pages: Iterable[Page]) -> Iterator[dict]:
    """The items of every page, in order."""
    for page in pages:
        yield from page.items


class LoopGuard:
    """Remembers where a walk has been; coming back is a pagination loop.

    ``last_only``: compare with the previous position only (a page's content, where equal
    content elsewhere in the walk is not proof of a loop).
    """

    def __init__(self, where: str, *, last_only: bool = False) -> None:
        self._where = where
        self._last_only = last_only
        self._seen: set[Hashable] = set()

    def visit(self, position: Hashable, what: str) -> None:
        """Note ``position``; raises AdoResponseError ("pagination loop at ...: what") if seen before."""
        if position in self._seen:
            raise AdoResponseError(f"pagination loop at {self._where}: {what}")
        if self._last_only:
            self._seen.clear()
        self._seen.add(position)


@dataclass(frozen=True, slots=True)
class TokenHeader:
    """Pages of ``$top`` items, the next one named by the ``x-ms-continuationtoken`` header."""

    page_size: int
    top_param: str = "$top"
    list_key: str = "value"

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]:
        guard = LoopGuard(where)
        token: str | None = None
        while True:
            guard.visit(token, "continuation token repeated")
            answer = fetch({self.top_param: self.page_size, **({"continuationToken": token} if token else {})})
            token = answer.headers.get(CONTINUATION_HEADER) or None
            yield Page(answer.items, token)
            if token is None:
                return


@dataclass(frozen=True, slots=True)
class TokenBody:
    """Pages whose body carries the token of the next one (``continuationToken``).

    ``start``: a token to resume from (a stored cursor); without it the first request carries
    ``opening`` (e.g. ``startDateTime``). ``last_key``: a body flag saying the page is the last
    (``isLastBatch``, reporting APIs); there a page without a token resumes where it started, and
    each page's ``resume`` is the token to store. ``read_ahead``: ask for the next page while the
    caller handles this one (the walk is a chain of dependent requests).
    """

    list_key: str
    start: str | None = None
    opening: Mapping[str, Any] = field(default_factory=dict)
    last_key: str | None = None
    read_ahead: bool = False

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]:
        guard = LoopGuard(where)

        def ask(token: str | None) -> Answer:
            guard.visit(token, "continuation token repeated")
            return fetch({"continuationToken": token} if token else self.opening)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as ahead:
            token, answer = self.start, ask(self.start)
            while True:
                resume, following = self._after(answer.body, token)
                pending = ahead.submit(ask, following) if following and self.read_ahead else None
                yield Page(answer.items, resume)
                if not following:
                    return
                token, answer = following, pending.result() if pending else ask(following)

    def _after(self, body: Any, token: str | None) -> tuple[str | None, str | None]:
        """(the token to resume from after this page, the token of the next page or None)."""
        given = body.get("continuationToken") or None
        if self.last_key is None:
            return given, given
        resume = given or token
        return resume, None if body.get(self.last_key, True) else resume


def _fingerprint(page: list[dict]) -> str:
    return json.dumps(page[:1] + page[-1:], sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class TopSkip:
    """Pages of ``page_size`` at growing ``$skip`` until a short page (empty pages are not yielded)."""

    page_size: int
    top_param: str = "$top"
    skip_param: str = "$skip"
    list_key: str = "value"

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]:
        guard = LoopGuard(where, last_only=True)
        skip = 0
        while True:
            page = fetch({self.top_param: self.page_size, self.skip_param: skip}).items
            if page:
                guard.visit(_fingerprint(page), f"{self.skip_param}={skip} returned the previous page again")
                yield Page(page)
            if len(page) < self.page_size:
                return
            skip += len(page)


@dataclass(frozen=True, slots=True)
class IdKeyset:
    """Ascending ids: each page asks ``from_param`` = the last id read + 1 (a change during the
    walk cannot shift a page). Pages hold only ids after ``after``, sorted; the walk ends on a
    short page."""

    id_field: str
    page_size: int
    after: int = 0
    from_param: str = "searchCriteria.fromId"
    top_param: str = "$top"
    list_key: str = "value"

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]:
        guard = LoopGuard(where)
        last = self.after
        while True:
            guard.visit(last, f"{self.from_param}={last + 1} returned only items already read")
            answer = fetch({self.from_param: last + 1, self.top_param: self.page_size})
            page = sorted((i for i in answer.items if i[self.id_field] > last), key=lambda i: i[self.id_field])
            if page:
                yield Page(page)
                last = page[-1][self.id_field]
            if len(answer.items) < self.page_size:
                return


@dataclass(frozen=True, slots=True)
class NewestFirst:
    """A newest-first list read until an id not above ``known`` (the highest delivered before):
    pages hold only newer ids, each once (new items shift the pages while they are read)."""

    inner: TopSkip
    id_field: str
    known: int = 0

    @property
    def list_key(self) -> str:
        return self.inner.list_key

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]:
        seen: set[Any] = set()
        for page in self.inner.pages(fetch, where):
            fresh = [i for i in page.items if i[self.id_field] > self.known and i[self.id_field] not in seen]
            seen.update(i[self.id_field] for i in fresh)
            if fresh:
                yield Page(fresh)
            if any(i[self.id_field] <= self.known for i in page.items):  # reached what was delivered
                return

"""Paginators: every way Azure DevOps Server pages a list, one small object each.

A paginator walks one list route through a ``fetch`` the client hands it (the paging query
parameters of one request -> that answer, its list already checked) and yields ``Page``s:

    TokenHeader(page_size)                   the ``x-ms-continuationtoken`` response header
    TokenBody("values", last_key=...)        a token in the body (reporting APIs, comments)
    TopSkip(page_size, cap=...)              ``$top``/``$skip`` (names configurable), until the end is certain
    IdWindows("changesetId", n, upto=...)    ascending ids in ``fromId``..``toId`` windows the server cannot cut
    NewestFirst(TopSkip(n), "pushId", known) newest first, until an id delivered before (TokenHeader pages too)

A server may answer fewer items than the ``$top`` asked while more follow (a page cap): a short
page is the end only where that cannot be (``SERVER_CAPS`` below says what each list's cap is
known to be; most are undocumented). A walk learns a lower bound of the cap from the pages it is
answered (a server answering n items has a cap of at least n), so an unknown cap costs at most one
extra request per list.

A server that pages in circles (a token again, a page identical to the previous one, a keyset
that does not move) ends the walk with "pagination loop at ..." (``LoopGuard``) instead of
looping forever.

Every request of a walk after its first is ``chained`` work (``politeness.work``): the server's gate
lets it go before fan-out reads, since the rest of the walk waits on it.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Iterator, Mapping, NamedTuple, Protocol

from satellite import json_codec
from satellite.errors import AdoResponseError
from satellite.politeness.work import carrying, chaining

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
    "IdWindows",
    "NewestFirst",
    "PageCap",
    "SERVER_CAPS",
    "ServerCap",
    "items",
]

CONTINUATION_HEADER = "x-ms-continuationtoken"


class ServerCap(NamedTuple):
    """The most items one page of a list holds whatever is asked (None: undocumented), and whence."""

    cap: int | None
    source: str


# Every list the satellite pages, with the ceiling the server puts on one page. Facts from the on-prem
# specs (../shared/ado-rest-specs) and ../shared/reference/ado_api.md ("Default and maximum $top for
# builds, pushes, PRs, updates and revisions. None is documented"). A $top/$skip list with an unknown
# cap is never ended by a short non-empty page alone.
SERVER_CAPS: dict[str, ServerCap] = {
    # $top/$skip (TopSkip): a short page is the only end marker
    "core.projects": ServerCap(None, "core Projects - List: $top, no maximum given"),
    "core.teams": ServerCap(None, "core Teams - Get Teams: $top, no maximum given"),
    "core.team_members": ServerCap(None, "core Teams - Get Team Members: $top, no maximum given"),
    "git.commits": ServerCap(None, "git Get Commits searchCriteria.$top: 'Maximum number of entries to retrieve'"),
    "git.pushes": ServerCap(None, "git Pushes - List: $top, no maximum given"),
    "git.pull_requests": ServerCap(None, "git Get Pull Requests: $top, no maximum given (101 when absent)"),
    "tfvc.changesets": ServerCap(None, "tfvc Get Changesets $top: 'The maximum number of results to return. Default: null'"),
    "tfvc.changes": ServerCap(None, "tfvc Get Changeset Changes: $top, no maximum given"),
    "tfvc.labels": ServerCap(None, "tfvc Get Labels: $top, no maximum given"),
    # continuation tokens: the token, not the page length, says more follows (caps shape cost only)
    "git.refs": ServerCap(1000, "ado_api.md: refs $top <= 1000"),
    "release.releases": ServerCap(100, "PageSizes.releases: the server caps releases and deployments at 100 (default 50)"),
    "release.deployments": ServerCap(100, "PageSizes.releases: the server caps releases and deployments at 100 (default 50)"),
    "wit.reporting": ServerCap(None, "wit reporting $maxPageSize; isLastBatch ends the walk"),
    # no paging at all: the cap cuts
    "pipelines.runs": ServerCap(10_000, "pipelines Runs - List: 'Gets top 10000 runs for a particular pipeline.'"),
    "wit.wiql": ServerCap(20_000, "ado_api.md: WIQL $top <= 20,000 (VS402337)"),
}


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
            self.fail(what)
        if self._last_only:
            self._seen.clear()
        self._seen.add(position)

    def fail(self, what: str) -> None:
        """Raise AdoResponseError ("pagination loop at ...: what"): the walk cannot go on."""
        raise AdoResponseError(f"pagination loop at {self._where}: {what}")


@dataclass(frozen=True, slots=True)
class TokenHeader:
    """Pages of ``$top`` items, the next one named by the ``x-ms-continuationtoken`` header."""

    page_size: int
    top_param: str = "$top"
    list_key: str = "value"

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]:
        fetch = chaining(fetch)  # each page after the first waits on the one before
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
        fetch = chaining(fetch)  # each page after the first waits on the one before
        guard = LoopGuard(where)

        def ask(token: str | None) -> Answer:
            guard.visit(token, "continuation token repeated")
            return fetch({"continuationToken": token} if token else self.opening)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as ahead:
            token, answer = self.start, ask(self.start)
            while True:
                resume, following = self._after(answer.body, token)
                pending = ahead.submit(carrying(ask), following) if following and self.read_ahead else None
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


def _fingerprint(page: list[dict]) -> bytes | str:
    """A page's first and last items, to tell the same page answered again (orjson: 5 us for a page of
    pull requests, against 65 us with the standard module); the standard module for what is not JSON."""
    ends = page[:1] + page[-1:]
    try:
        return json_codec.canonical(ends)
    except TypeError:
        return json.dumps(ends, sort_keys=True, default=str)


class PageCap:
    """What is known of a route's page cap: at least the longest page it answered (a server that
    answers n items caps at n or more), exactly ``documented`` if given. One can be shared by the
    walks of many lists of one route (the changes of each changeset), so a short page there costs an
    extra request only while no longer page was seen."""

    def __init__(self, documented: int | None = None) -> None:
        self.documented = documented
        self._least = documented or 0
        self._lock = threading.Lock()

    def ends(self, answered: int) -> bool:
        """True when a page of ``answered`` items (fewer than asked) is certainly the last one."""
        with self._lock:
            if answered < self._least:
                return True
            self._least = answered
            return False


@dataclass(frozen=True, slots=True)
class TopSkip:
    """Pages of ``page_size`` at growing ``$skip`` until the end is certain (empty pages are not
    yielded): an empty page, or a page shorter than the server's cap. ``cap``: the list's documented
    cap (``SERVER_CAPS``; None if unknown) or a ``PageCap`` shared with other lists of the route.
    With an unknown cap a short page costs one more request (the next page, empty if it was the end)."""

    page_size: int
    top_param: str = "$top"
    skip_param: str = "$skip"
    list_key: str = "value"
    cap: int | PageCap | None = None

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]:
        fetch = chaining(fetch)  # each page after the first waits on the one before
        guard = LoopGuard(where, last_only=True)
        cap = self.cap if isinstance(self.cap, PageCap) else PageCap(self.cap)
        skip = 0
        while True:
            page = fetch({self.top_param: self.page_size, self.skip_param: skip}).items
            if not page:
                return
            guard.visit(_fingerprint(page), f"{self.skip_param}={skip} returned the previous page again")
            yield Page(page)
            if len(page) < self.page_size and cap.ends(len(page)):
                return
            skip += len(page)


@dataclass(frozen=True, slots=True)
class IdWindows:
    """Ascending ids after ``after`` up to ``upto`` (the newest id, read first), in windows of ids
    ``from_param``..``to_param`` asked with a ``$top`` as wide as the window, so whatever order the
    server applies ``$top`` and the sort in (TFVC does not document it), it has no reason to cut.

    A window starts at the last id read itself, so it holds the next id whether ``from_param`` is
    inclusive or exclusive (tfvc: "only include changesets after this changesetID"); pages hold
    only the ids after it, sorted. A window is complete when every id after the last read is
    there, when it is empty, or when it holds fewer items than the cap learned so far (a server
    answering n items has a cap of at least n). Otherwise (gaps, or a cap below the window) the
    answer is dropped and the window asked again no wider than the cap learned, as every later one.
    An answer holding ids outside the window asked is a server ignoring the range: an error, never
    taken for an empty window (that would skip every changeset after it).
    """

    id_field: str
    page_size: int
    after: int = 0
    upto: int = 0
    from_param: str = "searchCriteria.fromId"
    to_param: str = "searchCriteria.toId"
    top_param: str = "$top"
    list_key: str = "value"

    def pages(self, fetch: Fetch, where: str) -> Iterator[Page]:
        fetch = chaining(fetch)  # each page after the first waits on the one before
        guard = LoopGuard(where)
        last, width, cap = self.after, max(1, self.page_size), None  # width: new ids a window may hold
        while last < self.upto:
            high = min(last + width, self.upto)
            guard.visit((last, high), f"{self.from_param}={last}&{self.to_param}={high} answered a cut window again")
            answer = fetch({self.from_param: last, self.to_param: high, self.top_param: high - last + 1})
            window = [i for i in answer.items if last <= i[self.id_field] <= high]
            if len(window) < len(answer.items):  # ids outside what was asked: the filter was ignored
                guard.fail(f"{self.from_param}={last}&{self.to_param}={high} answered ids outside that window"
                           " (the server ignored the range)")
            page = sorted((i for i in window if i[self.id_field] > last), key=lambda i: i[self.id_field])
            if window and len(page) < high - last and (cap is None or len(window) >= cap):
                cap = max(cap or 0, len(window))  # maybe cut: ask again no wider than the cap
                width = max(1, min(width, cap - 1))
                continue
            if page:
                yield Page(page)
            last = high


@dataclass(frozen=True, slots=True)
class NewestFirst:
    """A newest-first list read until an id not above ``known`` (the highest delivered before):
    pages hold only newer ids, each once (new items shift the pages while they are read)."""

    inner: TopSkip | TokenHeader
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

"""Paging loops, separated from HTTP so they can be tested alone.

Both detect a server that pages in circles (a repeated continuation token, or a page identical
to the previous one when ``$skip`` is ignored) and stop with an error instead of looping forever.
"""

from __future__ import annotations

import json
from typing import Callable, Iterator

from satellite.errors import AdoResponseError

__all__ = ["iter_token_pages", "iter_top_skip_pages"]


def iter_token_pages(
    fetch: Callable[[str | None], tuple[list[dict], str | None]], *, where: str
) -> Iterator[list[dict]]:
    """Yield pages until the server stops sending a continuation token."""
    seen: set[str] = set()
    token: str | None = None
    while True:
        page, next_token = fetch(token)
        yield page
        if not next_token:
            return
        if next_token in seen:
            raise AdoResponseError(f"pagination loop at {where}: continuation token repeated")
        seen.add(next_token)
        token = next_token


def _fingerprint(page: list[dict]) -> str:
    return json.dumps(page[:1] + page[-1:], sort_keys=True, default=str)


def iter_top_skip_pages(fetch: Callable[[int], list[dict]], page_size: int, *, where: str) -> Iterator[list[dict]]:
    """Yield pages of ``page_size`` until a short page."""
    skip = 0
    previous: str | None = None
    while True:
        page = fetch(skip)
        if page:
            fingerprint = _fingerprint(page)
            if fingerprint == previous:
                raise AdoResponseError(f"pagination loop at {where}: $skip={skip} returned the previous page again")
            previous = fingerprint
            yield page
        if len(page) < page_size:
            return
        skip += len(page)

"""Test-only helpers of the torture suite: an ASGI wrapper that makes the simulator answer badly,
and the config the torture tests share (the rest is in ``tests/support.py``).

``JsonRewriter`` sits in front of the simulator app. Given a ``Rewrite`` (kind + path regex), it
rewrites the JSON of the matching routes:

| kind | what the satellite sees on the matching route |
|---|---|
| ``string_for_list`` | the list (``value``/``values``/``comments``) is a string |
| ``number_for_object`` | every item of the list is a number (one item at least) |
| ``null_items`` | every item of the list is ``null`` (one item at least) |
| ``null_fields`` | every nested object of every item is ``null`` |
| ``empty_page_token`` | the first page of a walk is empty but carries a continuation token; asking with that token gives the real first page |
| ``loop_token`` | every page carries the same continuation token, which leads back to the first page |
| ``loop_skip`` | ``$skip`` (and TFVC's ``searchCriteria.fromId``) is ignored: every page is the first page |

Tokens the wrapper invented (``torture-...``) are always taken out of requests, even with no
rewrite set, so a cursor holding one still leads to the real data afterwards. Control routes
(``/_sim``) pass untouched. ``hits`` counts the rewritten answers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

from tests import support

FAKE_TOKEN = "torture-"
TOKEN_HEADER = b"x-ms-continuationtoken"
SKIP_PARAMS = frozenset({"$skip", "searchCriteria.$skip", "searchCriteria.fromId"})
BODY_KINDS = frozenset({"string_for_list", "number_for_object", "null_items", "null_fields", "loop_token"})
KINDS = (*sorted(BODY_KINDS), "empty_page_token", "loop_skip")


@dataclass(frozen=True)
class Rewrite:
    kind: str
    path: str  # regex searched in the request path
    list_key: str = "value"  # where the items are: value (envelope), values (reporting), comments
    token: str = "header"  # where the route's continuation token travels: header or body

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind
        assert self.token in ("header", "body"), self.token


@dataclass
class JsonRewriter:
    app: Any
    rewrite: Rewrite | None = None
    hits: int = 0
    _pattern: re.Pattern | None = field(default=None, repr=False)

    def set(self, rewrite: Rewrite | None) -> None:
        self.rewrite, self.hits = rewrite, 0
        self._pattern = re.compile(rewrite.path) if rewrite else None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        invented = any(k == "continuationToken" and v.startswith(FAKE_TOKEN) for k, v in query)
        if invented:  # back to the real start of the walk
            query = [(k, v) for k, v in query if k != "continuationToken"]
        rule = self.rewrite if self._pattern is not None and self._pattern.search(scope["path"]) else None
        if rule is not None and rule.kind == "loop_skip":
            query = [(k, v) for k, v in query if k not in SKIP_PARAMS]
            self.hits += 1
        scope = {**scope, "query_string": urlencode(query).encode("latin-1")}
        if rule is not None and rule.kind == "empty_page_token" and not invented:
            self.hits += 1
            await _send_json(send, _empty_page(rule), [(TOKEN_HEADER, b"torture-empty")] if rule.token == "header" else [])
            return
        if rule is None or rule.kind not in BODY_KINDS:
            await self.app(scope, receive, send)
            return
        start, body = await _capture(self.app, scope, receive)
        content_type = dict(start["headers"]).get(b"content-type", b"")
        if start["status"] != 200 or b"json" not in content_type:
            await _send_raw(send, start, body)
            return
        self.hits += 1
        data, extra = _rewritten(rule, json.loads(body))
        headers = [(k, v) for k, v in start["headers"] if k not in (b"content-length", TOKEN_HEADER)] + extra
        await _send_json(send, data, headers, status=start["status"], keep_headers=True)


def _empty_page(rule: Rewrite) -> dict:
    if rule.list_key == "values":  # reporting API batch
        return {"values": [], "continuationToken": "torture-empty", "isLastBatch": False}
    if rule.list_key == "comments":
        return {"totalCount": 0, "count": 0, "comments": [], "continuationToken": "torture-empty"}
    return {"count": 0, "value": []}


def _rewritten(rule: Rewrite, data: Any) -> tuple[Any, list[tuple[bytes, bytes]]]:
    """The rewritten body and extra headers."""
    if not isinstance(data, dict) or not isinstance(data.get(rule.list_key), list):
        return data, []
    items = data[rule.list_key]
    if rule.kind == "string_for_list":
        data[rule.list_key] = "torture: a string where a list was"
    elif rule.kind == "number_for_object":
        data[rule.list_key] = [7] * max(1, len(items))
    elif rule.kind == "null_items":
        data[rule.list_key] = [None] * max(1, len(items))
    elif rule.kind == "null_fields":
        data[rule.list_key] = [
            {k: (None if isinstance(v, dict) else v) for k, v in item.items()} if isinstance(item, dict) else item for item in items
        ]
    elif rule.kind == "loop_token":
        if rule.token == "header":
            return data, [(TOKEN_HEADER, b"torture-loop")]
        data["continuationToken"] = "torture-loop"
        if rule.list_key == "values":
            data["isLastBatch"] = False
    return data, []


async def _capture(app, scope, receive) -> tuple[dict, bytes]:
    start: dict = {}
    chunks: list[bytes] = []

    async def capture(message: dict) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    return start, b"".join(chunks)


async def _send_raw(send, start: dict, body: bytes) -> None:
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def _send_json(send, data: Any, headers: list, *, status: int = 200, keep_headers: bool = False) -> None:
    raw = json.dumps(data).encode()
    base = headers if keep_headers else [(b"content-type", b"application/json; charset=utf-8"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": [*base, (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})


class BodyEditor:
    """ASGI wrapper: ``edit(path, data)`` may change the JSON of any successful API answer in place."""

    def __init__(self, app, edit: Callable[[str, Any], None]) -> None:
        self.app = app
        self.edit = edit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sim"):
            await self.app(scope, receive, send)
            return
        start, body = await _capture(self.app, scope, receive)
        content_type = dict(start["headers"]).get(b"content-type", b"")
        if start["status"] != 200 or b"json" not in content_type:
            await _send_raw(send, start, body)
            return
        data = json.loads(body)
        self.edit(scope["path"], data)
        headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
        await _send_json(send, data, headers, status=200, keep_headers=True)


# --- a config ----------------------------------------------------------------------------------


def write_config(directory: Path, *, page_sizes: dict[str, int] | None = None, batch_records: int = 200, **options) -> Path:
    """``tests.support.write_config`` as the torture tests run: the default page sizes but 2 projects a
    page (``page_sizes`` overrides), 200 records a batch, retries that back off at most 1s."""
    return support.write_config(directory, satellite_id="torture-satellite", page_sizes={"projects": 2, **(page_sizes or {})},
                                batch_records=batch_records, delivery={"initial_backoff": "1s", "max_backoff": "1s"}, **options)

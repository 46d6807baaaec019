"""Wire conventions of Azure DevOps Server: api-version, query strings, JSON envelopes, error bodies.

Handlers return a ``Response`` or raise ``ApiError``; ``app`` turns either into bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from satellite import json_codec
from standins.ado_simulator.wire import binding

__all__ = [
    "ApiVersion",
    "ApiError",
    "FragmentCache",
    "ORIGIN",
    "fragment",
    "fragments_response",
    "Query",
    "Response",
    "json_response",
    "list_response",
    "html_response",
    "parse_api_version",
    "requested_version_text",
    "parse_date",
    "NOT_FOUND_HTML",
    "SIGN_IN_HTML",
]

_WEBAPI = "Microsoft.VisualStudio.Services.WebApi"
_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:-preview(?:\.(\d+))?)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ApiVersion:
    """A parsed ``api-version``: ``7.0``, ``7.0-preview`` or ``7.0-preview.1``."""

    major: int
    minor: int
    preview: bool
    resource: int | None

    @property
    def number(self) -> tuple[int, int]:
        return self.major, self.minor

    @property
    def plain(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        if not self.preview:
            return self.plain
        return f"{self.plain}-preview" + (f".{self.resource}" if self.resource is not None else "")


def parse_api_version(text: str) -> ApiVersion | None:
    match = _VERSION.match(text)
    if match is None:
        return None
    major, minor, resource = match.groups()
    return ApiVersion(int(major), int(minor), "-preview" in text.lower(), int(resource) if resource else None)


def requested_version_text(query: "Query", accept: str) -> str | None:
    """The api-version from the query string, else from the ``Accept`` header's media-type parameters."""
    value = query.get("api-version")
    if value is not None:
        return value
    for media in accept.split(","):
        for param in media.split(";")[1:]:
            name, _, val = param.partition("=")
            if name.strip().lower() == "api-version":
                return val.strip()
    return None


class ApiError(Exception):
    """An error the server reports as a WrappedException JSON body."""

    def __init__(
        self, status: int, message: str, type_key: str, type_name: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type_key = type_key
        self.type_name = type_name
        self.headers = headers

    @classmethod
    def webapi(cls, status: int, message: str, type_key: str) -> "ApiError":
        """An exception from the Web API layer (``Microsoft.VisualStudio.Services.WebApi``)."""
        return cls(status, message, type_key, f"{_WEBAPI}.{type_key}, {_WEBAPI}")

    @classmethod
    def preview_required(cls, version: str) -> "ApiError":
        """A plain api-version for a resource this server has in preview only."""
        return cls.webapi(
            400,
            f'The requested version "{version}" of the resource is under preview. The -preview flag must be'
            f' supplied in the api-version for such requests. For example: "{version}-preview"',
            "VssInvalidPreviewVersionException",
        )

    @classmethod
    def bad_argument(cls, message: str) -> "ApiError":
        return cls(400, message, "ArgumentException", "System.ArgumentException, mscorlib")

    def response(self) -> "Response":
        body = {
            "$id": "1",
            "innerException": None,
            "message": self.message,
            "typeName": self.type_name,
            "typeKey": self.type_key,
            "errorCode": 0,
            "eventId": 3000,
        }
        return Response(self.status, _dumps(body), "application/json; charset=utf-8", self.headers)


class Query:
    """Query-string parameters; names are case-insensitive and ``%24top`` arrives as ``$top``."""

    __slots__ = ("_values",)

    def __init__(self, raw: bytes | str) -> None:
        text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
        values: dict[str, list[str]] = {}
        for name, value in parse_qsl(text, keep_blank_values=True):
            values.setdefault(name.lower(), []).append(value)
        self._values = values

    def get(self, *names: str) -> str | None:
        """The last value of the first name present."""
        for name in names:
            found = self._values.get(name.lower())
            if found:
                return found[-1]
        return None

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name.lower(), ()))

    def get_int(self, *names: str, default: int | None = None, minimum: int = 0) -> int | None:
        raw = self.get(*names)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError.bad_argument(f"The value '{raw}' is not valid for {names[0]}.") from None
        if value < minimum:
            raise ApiError.bad_argument(f"{names[0]} must be greater than or equal to {minimum}. Actual value: {value}.")
        return value

    def get_bool(self, *names: str, default: bool = False) -> bool:
        """A boolean as ``Boolean.Parse`` reads it (``true``/``False``...); 400 for anything else."""
        raw = self.get(*names)
        if raw is None or raw.strip() == "":
            return default
        return _bound(binding.bind_bool, raw, names[0])

    def get_date(self, *names: str) -> int | None:
        """Unix seconds of a date in any form ``DateTime.Parse`` accepts (binding.py); 400 otherwise."""
        moment = self.get_datetime(*names)
        return None if moment is None else int(moment.timestamp())

    def get_datetime(self, *names: str) -> datetime | None:
        raw = self.get(*names)
        if raw is None or raw.strip() == "":
            return None
        return _bound(binding.bind_date, raw, names[0])

    def get_enum(self, enum: "binding.DotNetEnum", *names: str, default: str | None = None) -> str | None:
        """An enum member by case-insensitive name or number, as the spec spells it; 400 for an unknown one."""
        raw = self.get(*names)
        if raw is None or raw.strip() == "":
            return default
        return _bound(lambda r, p: binding.bind_enum(r, enum, p), raw, names[0])

    def get_flags(self, enum: "binding.DotNetEnum", *names: str) -> frozenset[str]:
        """A [Flags] enum: comma-separated names and/or numbers; empty when absent."""
        raw = self.get(*names)
        if raw is None or raw.strip() == "":
            return frozenset()
        return _bound(lambda r, p: binding.bind_flags(r, enum, p), raw, names[0])


def _bound(bind: Any, raw: str, parameter: str) -> Any:
    try:
        return bind(raw, parameter)
    except binding.BindingError as error:
        raise ApiError.bad_argument(str(error)) from None


def parse_date(text: str) -> int | None:
    """Unix seconds of a date in a form ``DateTime.Parse`` accepts (binding.py); None otherwise."""
    try:
        return int(binding.bind_date(text, "date").timestamp())
    except binding.BindingError:
        return None


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = field(default=())


def _dumps(obj: Any) -> bytes:
    return json_codec.dumps(obj)


def json_response(obj: Any, version: ApiVersion | None, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    content_type = "application/json; charset=utf-8" + (f"; api-version={version}" if version else "")
    return Response(status, _dumps(obj), content_type, headers)


def list_response(items: list[Any], version: ApiVersion | None, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """The ``{"count": n, "value": [...]}`` envelope."""
    return json_response({"count": len(items), "value": items}, version, headers=headers)


ORIGIN = "@ORIGIN@"  # stands for scheme://host:port inside cached fragments


class FragmentCache:
    """Encoded JSON of immutable items (commits, pushes) with ``ORIGIN`` in place of the host; bounded."""

    __slots__ = ("_items", "_capacity")

    def __init__(self, capacity: int = 200_000) -> None:
        self._items: dict[tuple, str] = {}
        self._capacity = capacity

    def get(self, key: tuple) -> str | None:
        return self._items.get(key)

    def put(self, key: tuple, fragment: str) -> None:
        if len(self._items) >= self._capacity:
            self._items.clear()
        self._items[key] = fragment


def fragment(obj: Any) -> str:
    return json_codec.dumps(obj).decode()


def fragments_response(parts: list[str], version: ApiVersion | None, origin: str) -> Response:
    """``{"count","value"}`` from cached fragments, with the request's origin filled in."""
    text = '{"count":%d,"value":[%s]}' % (len(parts), ",".join(parts))
    content_type = "application/json; charset=utf-8" + (f"; api-version={version}" if version else "")
    return Response(200, text.replace(ORIGIN, origin).encode("utf-8"), content_type)


def html_response(status: int, html: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8", headers)


NOT_FOUND_HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8" /><title>Page not found. - Azure DevOps Server</title></head>
<body>
<div class="error-page">
<h1>Page not found.</h1>
<p>The page you are looking for might have been removed, had its name changed, or is temporarily unavailable.</p>
</div>
</body>
</html>
"""

SIGN_IN_HTML = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8" /><title>Sign In - Azure DevOps Server</title></head>
<body>
<form method="post" action="_signin">
<h1>Sign in</h1>
<p>You need to sign in to access this resource.</p>
<input type="submit" value="Sign in" />
</form>
</body>
</html>
"""

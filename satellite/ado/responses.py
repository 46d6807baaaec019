"""Turn an Azure DevOps Server HTTP response into JSON or the right ``AdoError``. Pure, no I/O."""

from __future__ import annotations

from typing import Any

import httpx

from satellite import json_codec
from satellite.ado.windows_auth import (
    WindowsAuthRequired,
    asks_windows_auth_only,
    auth_schemes,
    windows_auth_message,
)
from satellite.errors import (
    AdoAuthError,
    AdoError,
    AdoNotFoundError,
    AdoPermissionError,
    AdoResponseError,
    AdoVersionError,
)
from satellite.retrying import parse_retry_after

__all__ = ["check_response", "decode_json", "decode_response", "MalformedAnswer", "expect_list", "RETRYABLE_STATUSES",
           "TransientAdoError", "is_retryable"]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class TransientAdoError(AdoError):
    """A failure worth retrying: 408/429/5xx, a reset connection, a timeout."""


class MalformedAnswer(TransientAdoError):
    """A 2xx answer that is not the JSON its route returns (not JSON, or not the route's list
    shape): retried, since a proxy or a server under stress may answer right the next time;
    an ``AdoResponseError`` when the retries run out."""


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransientAdoError)


def _server_message(response: httpx.Response) -> tuple[str, str]:
    """(message, typeKey) from a WrappedException body, or ('', '')."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("message") or "")[:500], str(body.get("typeKey") or "")


def _is_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    if "html" in content_type:
        return True
    head = response.content[:200].lstrip().lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")


def _path(response: httpx.Response) -> str:
    """The path asked, for a message (decoded from the URL: only when there is something to say)."""
    return response.request.url.path if response.request else ""


def decode_response(response: httpx.Response, collection: str) -> Any:
    """The JSON body of a successful response: ``check_response``, then ``decode_json``."""
    check_response(response, collection)
    return decode_json(response, collection)


def decode_json(response: httpx.Response, collection: str) -> Any:
    """The JSON of a 2xx answer ``check_response`` let through; AdoResponseError if it is not JSON."""
    try:
        return json_codec.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise AdoResponseError(
            f"{collection} returned a body that is not valid JSON for {_path(response)} (HTTP {response.status_code}, "
            f"{len(response.content)} bytes)",
            collection=collection,
            status=response.status_code,
        ) from None


def check_response(response: httpx.Response, collection: str) -> None:
    """Nothing for a 2xx answer that may be JSON (its body not parsed); the error of any other.

    Raises:
        AdoAuthError: 401, or the HTML sign-in page of a 203.
        AdoPermissionError: 403.
        AdoNotFoundError: 404.
        AdoVersionError: 400 about the api-version.
        TransientAdoError: 408/429/5xx, with ``retry_after`` from the Retry-After header.
        AdoResponseError: anything else, including a 2xx HTML page (a proxy's, a sign-in page):
            ``AdoClient.request`` retries it as a malformed answer (as a 2xx body ``decode_json`` refuses).
    """
    status = response.status_code
    if 200 <= status < 300:
        if status == 203:
            raise AdoAuthError(
                f"{collection} answered with an HTML sign-in page instead of JSON (HTTP 203):"
                " the PAT was refused or has expired; create a new PAT on this server and update the config",
                collection=collection,
                status=status,
            )
        if _is_html(response):  # a proxy's or an SSO front's page: malformed, so retried (``AdoClient.request``)
            raise AdoResponseError(
                f"{collection} answered an HTML page instead of JSON for {_path(response)} (HTTP {status}): an error page of a"
                " proxy or of IIS in front of the server, or a sign-in page (PAT refused or expired)",
                collection=collection,
                status=status,
            )
        return
    path = _path(response)
    message, type_key = _server_message(response)
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status in RETRYABLE_STATUSES:
        raise TransientAdoError(
            f"{collection} answered HTTP {status} for {path}" + (f": {message}" if message else ""),
            collection=collection,
            status=status,
            retry_after=retry_after,
        )
    if status == 401:
        challenges = response.headers.get_list("www-authenticate")
        if asks_windows_auth_only(challenges):
            raise WindowsAuthRequired(windows_auth_message(collection, auth_schemes(challenges)),
                                      collection=collection, status=status)
        raise AdoAuthError(
            f"{collection} refused the PAT (HTTP 401{', TF400813' if 'TF400813' in message else ''}):"
            " check that the PAT is valid, not expired, and was created on this server for this collection",
            collection=collection,
            status=status,
        )
    if status == 403:
        raise AdoPermissionError(
            f"{collection} denied access to {path} (HTTP 403): the PAT lacks a scope or permission"
            + (f" ({message})" if message else ""),
            collection=collection,
            status=status,
        )
    if status == 404:
        detail = message or ("this route does not exist on this server version" if _is_html(response) else "not found")
        raise AdoNotFoundError(f"{collection}: {path} not found (HTTP 404): {detail}", collection=collection, status=status)
    if status == 400 and ("api-version" in message.lower() or "version" in type_key.lower() or "-preview" in message):
        raise AdoVersionError(f"{collection}: {message}", collection=collection, status=status)
    raise AdoResponseError(
        f"{collection} answered HTTP {status} for {path}" + (f": {message}" if message else ""),
        collection=collection,
        status=status,
    )


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def expect_list(body: Any, key: str, collection: str, path: str) -> list:
    """``body[key]`` when the body is the route's list shape (``{count, value: [...]}``, or the
    route's own list key); anything else is an AdoResponseError, never an empty list (a snapshot
    stream would take an empty list for "everything was deleted")."""
    if isinstance(body, dict) and isinstance(body.get(key), list):
        return body[key]
    shape = "a {count, value} list" if key == "value" else f"an object with a list in {key!r}"
    if isinstance(body, dict):
        got = f"{key!r} holding {_kind(body[key])}" if key in body else f"an object without {key!r}"
    else:
        got = _kind(body)
    raise AdoResponseError(f"{collection}: expected {shape} from {path}, got {got}", collection=collection)

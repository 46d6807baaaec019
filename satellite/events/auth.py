"""The shared secret of an integration's subscriptions: HTTP Basic credentials, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

__all__ = ["basic_credentials_match"]


def basic_credentials_match(header: str | None, username: str, password: str) -> bool:
    """Whether an ``Authorization`` header carries exactly ``username:password`` (Basic).

    Both parts are compared with ``hmac.compare_digest`` over their UTF-8 bytes, always both, so the
    time taken says nothing about which part or how much of it was right.
    """
    if not header or header[:6].lower() != "basic ":
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    given_user, sep, given_password = decoded.partition(b":")
    user_ok = hmac.compare_digest(given_user, username.encode())
    password_ok = hmac.compare_digest(given_password, password.encode())
    return bool(sep) and user_ok and password_ok

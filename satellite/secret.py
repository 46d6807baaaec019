"""A string that never shows itself: repr/str/format are masked.

Every secret the satellite holds (PATs, API keys, private key PEM text) is wrapped in
``Secret`` the moment it is read from configuration. Wrapping also registers the value
with the log redactor (``satellite.log``), so it is scrubbed even from free text.
"""

from __future__ import annotations

import threading

__all__ = ["Secret", "MASK", "known_secret_values"]

MASK = "***"

_known: set[str] = set()
_known_lock = threading.Lock()


def known_secret_values() -> frozenset[str]:
    """Every secret value wrapped so far in this process (for redaction only)."""
    with _known_lock:
        return frozenset(_known)


class Secret:
    """A secret value. Use ``reveal()`` at the single place the value is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("Secret holds a string")
        object.__setattr__(self, "_value", value)
        if len(value) >= 4:  # shorter values would redact ordinary words
            with _known_lock:
                _known.add(value)
                for line in value.splitlines():  # PEM bodies leak line by line
                    if len(line.strip()) >= 16:
                        _known.add(line.strip())

    def reveal(self) -> str:
        """The plain value. Never log or format the result."""
        return self._value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling would write the value out
        raise TypeError("Secret cannot be pickled")

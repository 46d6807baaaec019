"""Secrets out of the support bundle: pure functions, no I/O.

Two layers. The config is shown with every secret replaced by *where it comes from* (the
``${env:NAME}`` / ``${file:PATH}`` reference written in the file; a value written inline is
``***``). Then every member of the archive is scrubbed of every secret value the process knows,
in each form a member could hold it (as it is, JSON-escaped, line by line for PEM text), and of
credential-shaped fragments (URL passwords, ``Bearer`` values): the net under the first layer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from satellite.log import redact_text
from satellite.secret import MASK

__all__ = ["INLINE", "config_with_sources", "reference_text", "scrub", "scrub_data", "secret_forms"]

INLINE = f"{MASK} (written in the config file)"
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")  # as the loader reads them; $${ is a literal ${
_MIN_SECRET = 4  # shorter values would scrub ordinary words (as the log redactor)
_MIN_LINE = 16


def reference_text(raw: object) -> str:
    """Where a secret written as ``raw`` in the file comes from: its ``${...}`` references as written
    (the default of ``${env:NAME:-default}`` masked), every literal part ``***``."""
    if not isinstance(raw, str):
        return INLINE
    parts: list[str] = []
    position, found = 0, False
    for match in _REFERENCE.finditer(raw):
        if match.group(1) is None:  # $${ or a malformed ${: literal text of the value
            continue
        if raw[position:match.start()]:
            parts.append(MASK)
        kind, _, rest = match.group(1).partition(":")
        name, has_default, default = rest.partition(":-")
        reference = f"{kind}:{name}:-{MASK if default else ''}" if kind == "env" and has_default else match.group(1)
        parts.append("${" + reference + "}")
        position, found = match.end(), True
    if raw[position:]:
        parts.append(MASK)
    return "".join(parts) if found else INLINE


def config_with_sources(effective: Any, raw: Any) -> Any:
    """``effective`` (a config's ``model_dump(mode="json")``: every secret is ``***``) with each secret
    replaced by ``reference_text`` of the value at the same place in ``raw`` (the file's YAML, not
    interpolated); a secret the file does not hold there stays ``***``."""
    if isinstance(effective, dict):
        return {key: config_with_sources(value, raw.get(key) if isinstance(raw, dict) else None)
                for key, value in effective.items()}
    if isinstance(effective, list):
        return [config_with_sources(value, raw[i] if isinstance(raw, list) and i < len(raw) else None)
                for i, value in enumerate(effective)]
    if effective == MASK:
        return reference_text(raw) if raw is not None else MASK
    return effective


def secret_forms(values: Iterable[str]) -> tuple[str, ...]:
    """Every form of ``values`` a member could hold (as is, JSON-escaped, each long line of a
    multi-line value), longest first."""
    forms: set[str] = set()
    for value in values:
        if len(value) < _MIN_SECRET:
            continue
        forms.update((value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]))
        forms.update(line.strip() for line in value.splitlines() if len(line.strip()) >= _MIN_LINE)
    return tuple(sorted(forms, key=len, reverse=True))


def scrub(text: str, forms: tuple[str, ...]) -> str:
    """``text`` without any of ``forms`` nor credential-shaped fragments."""
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return redact_text(text)


def scrub_data(data: Any, forms: tuple[str, ...]) -> Any:
    """``scrub`` on every string (keys too) of JSON-like data."""
    if isinstance(data, str):
        return scrub(data, forms)
    if isinstance(data, dict):
        return {scrub_data(k, forms): scrub_data(v, forms) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [scrub_data(v, forms) for v in data]
    return data

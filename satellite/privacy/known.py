"""The fields the API's spec declares, per record type: what ``privacy.unknown_fields`` calls known.

``known_fields.json`` beside this module is written by ``scripts/extract_known_fields.py`` from the
committed spec extract (every server version; a test fails when it is stale): each record type's
definition and the shape of every definition it reaches. A path of a record's data is known when some
version declares it; a work item's ``fields``, a thread's ``properties`` and the like are open (any
member below them is known).

``KnownFields.root(record_type)`` is the shape of a record's data, ``step(shape, key)`` the shape of a
member (a string key) or list item (an int): ``ANYTHING`` below an open or primitive declaration,
None for a path no version declares. Pure; the file is read once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["ANYTHING", "DATA", "KnownFields", "Shape"]

DATA = Path(__file__).with_name("known_fields.json")
Shape = tuple[int, ...]  # indices of shape terms (alternatives)
ANYTHING: Shape = (-1,)


class KnownFields:
    """The declared shapes of the record types' data. Thread-safe (a lost cache entry is recomputed)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._definitions: dict[str, list] = dict(document["definitions"])
        self._records: dict[str, str] = dict(document["records"])
        self._terms: list[dict] = []  # the object and list terms met, by index
        self._ids: dict[int, int] = {}  # id(term) -> index (the terms live in ``_definitions``)
        self._steps: dict[tuple[Shape, str | None], Shape | None] = {}
        self._roots: dict[str, Shape] = {}
        self._lock = threading.Lock()
        self.digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()

    @classmethod
    def load(cls, path: Path = DATA) -> KnownFields:
        return _load(str(path))

    @property
    def record_types(self) -> frozenset[str]:
        return frozenset(self._records)

    def root(self, record_type: str) -> Shape:
        """The shape of a record's data; ``ANYTHING`` for a type the file does not know (nothing unknown)."""
        shape = self._roots.get(record_type)
        if shape is None:
            name = self._records.get(record_type)
            shape = self._roots[record_type] = ANYTHING if name is None else self._resolve([name])
        return shape

    def _resolve(self, terms: list) -> Shape:
        """Raw terms as a shape: definition names expanded (recursively), ``true`` absorbing all."""
        out: set[int] = set()
        pending, seen = list(terms), set()
        with self._lock:
            while pending:
                term = pending.pop()
                if term is True:
                    return ANYTHING
                if isinstance(term, str):
                    if term not in seen:
                        seen.add(term)
                        pending += self._definitions.get(term, [True])
                    continue
                index = self._ids.get(id(term))
                if index is None:
                    index = self._ids[id(term)] = len(self._terms)
                    self._terms.append(term)
                out.add(index)
        return tuple(sorted(out))

    def step(self, shape: Shape | None, key: str | int) -> Shape | None:
        """The shape one member (a string) or list item (an int) down; None: not declared."""
        if shape is None or shape == ANYTHING:
            return shape
        cache_key = (shape, None if isinstance(key, int) else key)
        if cache_key in self._steps:
            return self._steps[cache_key]
        found: list = []
        for i in shape:
            term = self._terms[i]
            if isinstance(key, int):
                found += term.get("items", ())
            elif "members" in term:
                found += term["members"].get(key, term.get("any", ()))
        result = self._resolve(found) if found else None
        if len(self._steps) > 100_000:
            self._steps.clear()
        self._steps[cache_key] = result
        return result


@lru_cache(maxsize=4)
def _load(path: str) -> KnownFields:
    return KnownFields(json.loads(Path(path).read_text(encoding="utf-8")))

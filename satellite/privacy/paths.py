"""Field paths of the privacy policy: parse, match against a record's data, compare two patterns.

The syntax of the field catalog (``satellite/privacy/catalog.py``), with two additions:

- segments joined by ``.``; each names an object member; ``*`` is any one member of an object or
  any one element of a list (``reviewers.*.uniqueName``); a literal segment never matches a list
  element; a segment may be an fnmatch pattern (``System.Area*``);
- a member whose name holds dots is written as its parts (``fields.System.Title`` is
  ``data["fields"]["System.Title"]``) or, an addition, quoted (``fields."System.Title"``); ``*``
  consumes one member whole, whatever dots it holds;
- an addition: ``**`` alone is any number of members or elements (zero or more), so
  ``**.uniqueName`` is every ``uniqueName`` of a record.

Pure, no I/O.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Iterable

__all__ = ["Automaton", "Pattern", "PathKey", "DEEP", "parse_path", "format_pattern", "step", "start", "complete", "matches", "overlaps"]

Pattern = tuple[str, ...]
PathKey = str | int  # a dict key, or a list index
DEEP = "**"
_WILD = frozenset("*?[")


def parse_path(text: str) -> Pattern:
    """``fields."System.Title".displayName`` -> ``("fields", "System.Title", "displayName")``.

    Raises:
        ValueError: a message that never contains ``text`` (it may come from a secret-free but
            customer-private config; the loader shows the location instead).
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a field path must not be empty")
    segments: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise ValueError("a quoted path segment is not closed")
            segment, i = text[i + 1 : end], end + 1
            if not segment:
                raise ValueError("a quoted path segment is empty")
            if segment == DEEP:
                raise ValueError("** must not be quoted")
        else:
            end = text.find(".", i)
            end = n if end < 0 else end
            segment, i = text[i:end], end
            if not segment.strip():
                raise ValueError("a field path has an empty segment (two dots, or a dot at an end)")
            if '"' in segment:
                raise ValueError("a quote must open a segment (write fields.\"System.Title\")")
        segments.append(segment)
        if i == n:
            return tuple(segments)
        if text[i] != ".":
            raise ValueError("a quoted path segment must be followed by a dot or the end")
        i += 1
        if i == n:
            raise ValueError("a field path has an empty segment (two dots, or a dot at an end)")


def format_pattern(pattern: Pattern) -> str:
    return ".".join(f'"{s}"' if "." in s else s for s in pattern)


def _segment_matches(segment: str, key: PathKey) -> bool:
    name = str(key)
    if _WILD.isdisjoint(segment):
        return segment == name
    return fnmatchcase(name, segment)


def _closure(pattern: Pattern, positions: Iterable[int]) -> frozenset[int]:
    """Positions reachable without consuming a key (a ``**`` may match nothing)."""
    out: set[int] = set()
    for pos in positions:
        while True:
            out.add(pos)
            if pos < len(pattern) and pattern[pos] == DEEP:
                pos += 1
                continue
            break
    return frozenset(out)


def start(pattern: Pattern) -> frozenset[int]:
    """The positions of ``pattern`` before any key."""
    return _closure(pattern, (0,))


@lru_cache(maxsize=65536)
def _step_one(pattern: Pattern, pos: int, key: PathKey) -> frozenset[int]:
    if pos >= len(pattern):
        return frozenset()
    nxt: set[int] = set()
    segment = pattern[pos]
    if segment == DEEP:
        nxt.add(pos)
    elif isinstance(key, int):
        if segment == "*":
            nxt.add(pos + 1)
    else:
        if _segment_matches(segment, key):  # the whole member: *, a quoted name, a plain one
            nxt.add(pos + 1)
        parts = key.split(".")
        if len(parts) > 1 and pos + len(parts) <= len(pattern) and all(
                pattern[pos + i] != DEEP and "." not in pattern[pos + i] and _segment_matches(pattern[pos + i], part)
                for i, part in enumerate(parts)):
            nxt.add(pos + len(parts))  # written as its parts
    return _closure(pattern, nxt)


def step(pattern: Pattern, positions: frozenset[int], key: PathKey) -> frozenset[int]:
    """The positions after descending into ``key``."""
    if len(positions) == 1:
        return _step_one(pattern, next(iter(positions)), key)
    out: set[int] = set()
    for pos in positions:
        out |= _step_one(pattern, pos, key)
    return frozenset(out)


def complete(pattern: Pattern, positions: frozenset[int]) -> bool:
    return len(pattern) in positions


def matches(pattern: Pattern, path: Iterable[PathKey]) -> bool:
    """Whether a concrete path (keys and list indices) is matched by ``pattern``."""
    positions = start(pattern)
    for key in path:
        positions = step(pattern, positions, key)
        if not positions:
            return False
    return complete(pattern, positions)


def _segments_compatible(a: str, b: str) -> bool:
    if a == b or a in ("*", DEEP) or b in ("*", DEEP):
        return True
    wild_a, wild_b = not _WILD.isdisjoint(a), not _WILD.isdisjoint(b)
    if wild_a and wild_b:
        return True  # two globs: assume they may meet
    return fnmatchcase(b, a) if wild_a else fnmatchcase(a, b) if wild_b else False


def _flat(pattern: Pattern) -> Pattern:
    """Quoted members split into their parts (for comparing two patterns)."""
    return tuple(part for segment in pattern for part in (segment.split(".") if segment != DEEP else (segment,)))


def overlaps(a: Pattern, b: Pattern) -> bool:
    """Whether some path is reached by both patterns, or one reaches into what the other names
    (a prefix either way): a rule ``createdBy`` overlaps a catalog path ``createdBy.uniqueName``.
    A ``*`` may stand for a member of several parts, so after one the rest is compared loosely."""
    a, b = _flat(a), _flat(b)

    @lru_cache(maxsize=None)
    def go(i: int, j: int) -> bool:
        if i == len(a) or j == len(b):
            return True
        if a[i] == DEEP:
            return go(i + 1, j) or go(i, j + 1)
        if b[j] == DEEP:
            return go(i, j + 1) or go(i + 1, j)
        if a[i] == "*" and b[j] != "*":  # one member whole: maybe several parts of the other
            return any(go(i + 1, k) for k in range(j + 1, len(b) + 1))
        if b[j] == "*" and a[i] != "*":
            return any(go(k, j + 1) for k in range(i + 1, len(a) + 1))
        return _segments_compatible(a[i], b[j]) and go(i + 1, j + 1)

    return go(0, 0)


class Automaton:
    """Several patterns, each with a label, walked together: a state is the set of (pattern,
    position) pairs still alive; transitions are cached (list indices all alike), so a record type's
    walk costs a dict lookup per member after the first records. Thread-safe (a lost cache entry is
    only recomputed)."""

    _MAX_CACHE = 100_000
    _INDEX = object()

    def __init__(self, labelled: list[tuple[Pattern, str]]) -> None:
        self._patterns = [p for p, _ in labelled]
        self._labels = [label for _, label in labelled]
        self.start: frozenset[tuple[int, int]] = frozenset(
            (i, pos) for i, p in enumerate(self._patterns) for pos in start(p))
        self.start_labels = self._complete(self.start)
        self._cache: dict[tuple[frozenset, object], tuple[frozenset, frozenset[str]]] = {}

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def _complete(self, state: frozenset[tuple[int, int]]) -> frozenset[str]:
        return frozenset(self._labels[i] for i, pos in state if pos == len(self._patterns[i]))

    def step(self, state: frozenset[tuple[int, int]], key: PathKey) -> tuple[frozenset[tuple[int, int]], frozenset[str]]:
        """(the state after ``key``, the labels of the patterns that end there)."""
        cache_key = (state, Automaton._INDEX if isinstance(key, int) else key)
        hit = self._cache.get(cache_key)
        if hit is None:
            nxt = frozenset((i, q) for i, pos in state for q in _step_one(self._patterns[i], pos, key))
            hit = (nxt, self._complete(nxt))
            if len(self._cache) >= self._MAX_CACHE:
                self._cache.clear()
            self._cache[cache_key] = hit
        return hit

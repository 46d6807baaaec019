"""Sample requests for every simulator route, used by the spec, paging and coverage tests.

Each module of this package exports

    SAMPLES: dict[str, Callable[[World], list[Sample]]]

keyed by a route's ``pattern`` exactly as declared in its ``Route`` (e.g.
``"{project?}/_apis/git/repositories/{repositoryId}/refs"``). The callable gets the generated
world and returns concrete requests, each a tuple ``(method, path, query)`` or
``(method, path, query, json_body)``:

- ``path`` is relative to the collection URL (``/tfs/DefaultCollection/``), without a leading
  slash: ``"_apis/projects"``, ``f"{project.id}/_apis/git/repositories"``;
- a path starting with ``~/`` is relative to the server URL (``/tfs/``) instead and reaches the
  server-level variant of a route: ``"~/_apis/connectionData"``;
- ``query`` holds the route's own parameters; the tests add ``api-version`` themselves (the
  profile's maximum, plus ``-preview`` for preview routes) and, for paging, ``$top``/``$skip``
  or ``continuationToken``.

Samples should be valid requests that answer 2xx with data (a non-empty list where the world has
items); one per distinct response shape is enough. When several modules name the same pattern,
their samples are concatenated.

The helpers below map a sample to the route that serves it and a route to the operation of the
committed spec schemas (``tests/spec_schemas/<version>.json``) it implements.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote

from standins.ado_simulator.wire.routing import COLLECTION, SERVER

__all__ = ["Sample", "SERVER_PREFIX", "load_samples", "split_sample", "SpecIndex", "spec_index", "route_segments",
           "api_version", "request_url", "sample_route"]

Sample = tuple  # (method, path, query) or (method, path, query, json_body)
SERVER_PREFIX = "~/"


def load_samples() -> dict[str, list[Callable[[Any], list[Sample]]]]:
    """Route pattern -> the sample factories of every module of this package."""
    found: dict[str, list[Callable[[Any], list[Sample]]]] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for pattern, factory in getattr(module, "SAMPLES", {}).items():
            found.setdefault(pattern, []).append(factory)
    return found


def split_sample(sample: Sample) -> tuple[str, str, bool, dict, Any]:
    """(method, path, server_level, query, body): ``path`` without the ``~/`` marker."""
    method, path, query, *rest = sample
    server_level = path.startswith(SERVER_PREFIX)
    return method, path[len(SERVER_PREFIX):] if server_level else path, server_level, dict(query), rest[0] if rest else None


# -- samples -> routes -> spec operations --------------------------------------------------------

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "spec_schemas"


def route_segments(pattern: str) -> list[tuple[str, bool]]:
    """(normalized segment, optional) per segment: parameters become ``{}``, literals lower-case."""
    out = []
    for part in pattern.strip("/").split("/"):
        if part.startswith("{"):
            out.append(("{}", part.endswith("?}")))
        else:
            out.append((part.lower(), False))
    return out


def _variants(segments: list[tuple[str, bool]]) -> list[str]:
    """Every path with and without each optional segment; the full path first."""
    paths: list[list[str]] = [[]]
    for segment, optional in segments:
        paths = [p + [segment] for p in paths] + ([list(p) for p in paths] if optional else [])
    return ["/" + "/".join(p) for p in paths]


class SpecIndex:
    """The committed spec schemas of one api-version (``tests/spec_schemas``)."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.document = json.loads((SCHEMA_DIR / f"{version}.json").read_text(encoding="utf-8"))
        self.defs: dict[str, dict] = self.document["$defs"]
        self._by_variant: dict[str, str] = {}
        for key, op in sorted(self.document["operations"].items()):
            method, path = key.split(" ", 1)
            parts = path.strip("/").split("/") if path != "/" else []
            segments = [(p, i in op["optional"]) for i, p in enumerate(parts)]
            for variant in _variants(segments):
                self._by_variant.setdefault(f"{method} {variant}", key)

    def operation(self, method: str, pattern: str) -> tuple[str, dict] | None:
        """(spec key, operation) that a route pattern implements, or None when this version lacks it."""
        for variant in _variants(route_segments(pattern)):
            key = self._by_variant.get(f"{method} {variant}")
            if key is not None:
                return key, self.document["operations"][key]
        return None


@lru_cache(maxsize=None)
def spec_index(version: str) -> SpecIndex:
    return SpecIndex(version)


def api_version(max_version: str, preview: bool) -> str:
    return f"{max_version}-preview" if preview else max_version


def request_url(server_url: str, collection: str, path: str, server_level: bool) -> str:
    return f"{server_url}/tfs/{path}" if server_level else f"{server_url}/tfs/{collection}/{path}"


def sample_route(app: Any, method: str, path: str, server_level: bool) -> Any:
    """The ``Route`` the simulator's router picks for a sample (None when no route matches)."""
    segments = [unquote(s) for s in path.split("?", 1)[0].split("/") if s]
    route, _, _ = app.router.match(SERVER if server_level else COLLECTION, method, segments)
    return route

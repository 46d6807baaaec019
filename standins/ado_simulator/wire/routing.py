"""Route tables: each API area module declares ``ROUTES`` and ``LOCATIONS``; ``Router`` matches paths.

Patterns are relative to the server (``/tfs``) or to the collection (``/tfs/{collection}``);
``{name?}`` marks an optional segment. Literal segments match case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from standins.ado_simulator.wire.context import Request, Site
from standins.ado_simulator.wire.wire import Response

__all__ = ["SERVER", "COLLECTION", "Handler", "Route", "Location", "Router"]

SERVER = "server"
COLLECTION = "collection"

Handler = Callable[[Site, Request], Response]


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint. ``scope`` is the PAT scope it needs (None: any valid PAT)."""

    method: str
    levels: tuple[str, ...]
    pattern: str
    handler: Handler
    scope: str | None = None
    preview: bool = False  # the api-version must carry -preview
    versioned: bool = True  # False: no api-version needed (OPTIONS)


@dataclass(frozen=True, slots=True)
class Location:
    """An ApiResourceLocation advertised by ``OPTIONS _apis[/{area}]`` (ids are the ones Microsoft's clients carry).

    Versions are strings (``"7.0"``), as the server serialises ``System.Version``: the Node.js client
    reads them as text, so a JSON number ``7.0`` (JavaScript ``7``) would make it ask for ``7-preview``."""

    id: str
    area: str
    resource_name: str
    route_template: str
    resource_version: int
    levels: tuple[str, ...]
    preview: bool = False  # never released: releasedVersion "0.0"

    def to_json(self, max_version: str) -> dict:
        return {
            "id": self.id,
            "area": self.area,
            "resourceName": self.resource_name,
            "routeTemplate": self.route_template,
            "resourceVersion": self.resource_version,
            "minVersion": "1.0",
            "maxVersion": max_version,
            "releasedVersion": "0.0" if self.preview else max_version,
        }


@dataclass(frozen=True, slots=True)
class _Compiled:
    route: Route
    segments: tuple[str, ...]  # lowercased literals, or "{name}"


class Router:
    """Matches (level, method, path segments) to a route and its captured parameters."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        table: dict[tuple[str, int], list[_Compiled]] = {}
        for route in routes:
            for segments in _variants(route.pattern):
                for level in route.levels:
                    table.setdefault((level, len(segments)), []).append(_Compiled(route, segments))
        self._table = table

    def match(self, level: str, method: str, segments: list[str]) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known): ``path_known`` is True when some route has this path (for 405).
        OPTIONS routes (location negotiation, ``_apis/{area}``) do not make a path known to other methods."""
        known = False
        lowered = [s.lower() for s in segments]
        for entry in self._table.get((level, len(segments)), ()):
            params: dict[str, str] = {}
            for pattern, value, low in zip(entry.segments, segments, lowered):
                if pattern[0] == "{":
                    params[pattern[1:-1]] = value
                elif pattern != low:
                    break
            else:
                if entry.route.method == method:
                    return entry.route, params, True
                known = known or entry.route.method != "OPTIONS"
        return None, {}, known


def _variants(pattern: str) -> list[tuple[str, ...]]:
    """Every segment list of a pattern, with and without each optional segment."""
    variants: list[tuple[str, ...]] = [()]
    for part in pattern.strip("/").split("/"):
        if part.startswith("{") and part.endswith("?}"):
            name = "{" + part[1:-2] + "}"
            variants = [v + (name,) for v in variants] + variants
        elif part.startswith("{"):
            variants = [v + (part,) for v in variants]
        else:
            variants = [v + (part.lower(),) for v in variants]
    return variants

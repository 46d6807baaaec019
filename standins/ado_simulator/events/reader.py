"""Resources for event payloads read through the simulator's own GET routes, so a payload's ``resource``
is exactly what the REST API answers (at the profile's highest api-version, as the server's principal)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from standins.ado_simulator.wire.context import SERVER_PATH, Request, Site
from standins.ado_simulator.wire.routing import COLLECTION, Router
from standins.ado_simulator.wire.wire import ApiError, Query, parse_api_version

__all__ = ["Reader", "request_for"]


@dataclass(frozen=True, slots=True)
class Reader:
    router: Router
    site: Site

    def get(self, origin: str, path: str, query: str = "") -> dict | None:
        """The JSON body of ``GET {collection}/{path}?{query}``, None unless it answers 200."""
        segments = [s for s in path.split("/") if s]
        route, params, _ = self.router.match(COLLECTION, "GET", segments)
        if route is None:
            return None
        version = parse_api_version(self.site.profile.max_version + ("-preview" if route.preview else ""))
        full = f"{SERVER_PATH}/{self.site.world.collection.name}/{path}"
        req = Request("GET", full, params, Query(query), origin, version, self.site.world.people[0])
        try:
            response = route.handler(self.site, req)
        except ApiError:
            return None
        if response.status != 200:
            return None
        return json.loads(response.body)


def request_for(reader: Reader, origin: str) -> Request:
    """A GET request as the server's principal at ``origin`` (for body builders called directly)."""
    return Request("GET", SERVER_PATH, {}, Query(""), origin, parse_api_version(reader.site.profile.max_version),
                   reader.site.world.people[0])

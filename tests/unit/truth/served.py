"""What the simulator serves for a world, read in-process (one ASGI call per GET, no socket)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any
from urllib.parse import urlencode

from standins.ado_simulator.app import create_app
from standins.ado_simulator.world.world import World

__all__ = ["Served"]

_PAT = "truth-tests"


class Served:
    """GETs against ``world`` served as server release ``profile``; JSON answers."""

    def __init__(self, world: World, profile: str = "7.1") -> None:
        from standins.ado_simulator.wire.profiles import PROFILES

        self.world = world
        self.version = PROFILES[profile].max_version
        self._app = create_app(world, profile, {_PAT: frozenset({"full"})})

    def get(self, path: str, **params: str) -> Any:
        """``path`` under the collection (``{project}/_apis/...``); api-version added unless given."""
        params.setdefault("api-version", self.version)
        status, body = asyncio.run(self._call(f"/tfs/DefaultCollection/{path}", urlencode(params)))
        assert status == 200, (status, path, body[:300])
        return json.loads(body)

    def items(self, path: str, **params: str) -> list[dict]:
        return self.get(path, **params)["value"]

    async def _call(self, path: str, query: str) -> tuple[int, bytes]:
        auth = base64.b64encode(f":{_PAT}".encode()).decode()
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Basic {auth}".encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        sent: dict[str, Any] = {"status": 0, "body": b""}

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            elif message["type"] == "http.response.body":
                sent["body"] += message.get("body", b"")

        await self._app(scope, receive, send)
        return sent["status"], sent["body"]

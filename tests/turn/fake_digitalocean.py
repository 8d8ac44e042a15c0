"""A local server with the DigitalOcean API endpoints the autoscaler uses (no cloud is reachable from here)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "test-token"


@dataclass
class FakeDroplet:
    droplet_id: int = 4242
    status: str = "off"
    # Requests to answer badly before behaving: ("error", n) answers 500 n times, ("hang", n) never answers n times.
    faults: list[str] = field(default_factory=list)
    actions: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faulty])
        app.router.add_get("/v2/droplets/{id}", self._get)
        app.router.add_post("/v2/droplets/{id}/actions", self._act)
        app.router.add_get("/v2/droplets/{id}/actions/{action}", self._action)
        return app

    @web.middleware
    async def _faulty(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"id": "unauthorized", "message": "Unable to authenticate you"}, status=401)
        if self.faults:
            fault = self.faults.pop(0)
            if fault == "hang":
                await asyncio.sleep(3600)
            return web.json_response({"id": "server_error", "message": "Server Error"}, status=500)
        if request.match_info.get("id") != str(self.droplet_id):
            return web.json_response({"id": "not_found", "message": "The resource was not found."}, status=404)
        response: web.StreamResponse = await handler(request)
        return response

    async def _get(self, request: web.Request) -> web.Response:
        return web.json_response({"droplet": {"id": self.droplet_id, "status": self.status}})

    async def _act(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind = body.get("type")
        if kind not in ("power_on", "power_off"):
            return web.json_response({"id": "unprocessable_entity", "message": "bad type"}, status=422)
        action_id = next(self._ids)
        self.actions[action_id] = {"id": action_id, "type": kind, "status": "in-progress"}
        # The droplet changes state as the action completes (on the next status read).
        self.status = "active" if kind == "power_on" else "off"
        return web.json_response({"action": self.actions[action_id]}, status=201)

    async def _action(self, request: web.Request) -> web.Response:
        action = self.actions.get(int(request.match_info["action"]))
        if action is None:
            return web.json_response({"id": "not_found", "message": "no such action"}, status=404)
        action["status"] = "completed"
        return web.json_response({"action": action})

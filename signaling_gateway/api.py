"""JSON endpoints: meeting creation for the host, and the health check."""

from __future__ import annotations

import structlog
from aiohttp import web

from mediaserver.control_protocol import ControlError

from .auth import Authenticator
from .config import Settings
from .hub import Hub
from .media_client import MediaApi, MediaUnavailable
from .meetings import Meetings
from .metrics import Metrics
from .origin import same_origin
from .store.records import iso

log = structlog.get_logger(__name__)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


class Api:
    def __init__(
        self,
        *,
        settings: Settings,
        auth: Authenticator,
        meetings: Meetings,
        media: MediaApi,
        hub: Hub,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._auth = auth
        self._meetings = meetings
        self._media = media
        self._hub = hub
        self._metrics = metrics

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/api/meetings", self.create_meeting),
            web.get("/healthz", self.healthz),
        ]

    async def create_meeting(self, request: web.Request) -> web.Response:
        host = self._auth.host(request)
        if host is None:
            return _error(401, "unauthorized", "sign in as the host to create meetings")
        if not same_origin(request, self._settings.public_url):
            return _error(403, "forbidden", "cross-origin request refused")
        try:
            meeting = await self._meetings.create(host.name)
        except MediaUnavailable as exc:
            self._metrics.error("media_unavailable")
            return _error(503, "media_unavailable", f"the media server is not reachable: {exc}")
        except ControlError as exc:
            self._metrics.error(exc.code)
            return _error(502, exc.code, f"the media server refused the room: {exc.message}")
        self._metrics.meetings_created.inc()
        body = {
            "id": meeting.id,
            "url": self._settings.absolute(f"/room/{meeting.id}"),
            "join_url": self._settings.absolute(f"/join/{meeting.id}"),
            "expires_at": iso(meeting.expires_at),
        }
        return web.json_response(body, status=201)

    async def healthz(self, request: web.Request) -> web.Response:
        connected = self._media.connected
        body = {
            "status": "ok" if connected else "degraded",
            "media_connected": connected,
            "websockets": len(self._hub.all_sessions()),
            "meetings_active": self._hub.meeting_count,
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

"""JSON endpoints: the host's meetings (create, list, QR code of the link), and the health check."""

from __future__ import annotations

import structlog
from aiohttp import web

from mediaserver.control_protocol import ControlError

from .auth import Authenticator
from .config import Settings
from .hub import Hub
from .media_api import MediaApi, MediaUnavailable
from .meetings import Meetings
from .metrics import Metrics
from .origin import same_origin
from .qr import qr_svg
from .store import Meeting
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
            web.get("/api/meetings", self.list_meetings),
            web.get("/api/meetings/{meeting_id}/qr.svg", self.qr_code),
            web.post("/api/session/renew", self.renew_session),
            web.get("/api/turn-credentials", self.turn_credentials),
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
        return web.json_response(self._view(request, meeting, participants=0), status=201)

    async def renew_session(self, request: web.Request) -> web.Response:
        """`?meeting=ID`: a fresh lifetime for the caller's host session and its guest token for that meeting."""
        if not same_origin(request, self._settings.public_url):
            return _error(403, "forbidden", "cross-origin request refused")
        response = web.json_response({"renewed": True})
        if not self._auth.renew(request, response, request.query.get("meeting") or None):
            return _error(401, "unauthorized", "no valid session or guest token to renew")
        return response

    async def turn_credentials(self, request: web.Request) -> web.Response:
        """`?meeting=ID`: ICE servers with fresh TURN credentials, for the host or a guest of that meeting."""
        meeting_id = request.query.get("meeting") or ""
        identity = self._auth.for_meeting(request, meeting_id) if meeting_id else self._auth.host(request)
        if identity is None:
            return _error(401, "unauthorized", "sign in as the host or join the meeting as a guest first")
        turn = self._settings.turn
        # The guest token's id (or the host's) names who holds the credential in coturn's logs.
        who = identity.guest_id or "host"
        return web.json_response({"ice_servers": turn.ice_servers(who), "ttl": turn.ttl},
                                 headers={"Cache-Control": "no-store"})

    async def list_meetings(self, request: web.Request) -> web.Response:
        """The live meetings, newest first, each with its links and how many people are in it."""
        host = self._auth.host(request)
        if host is None:
            return _error(401, "unauthorized", "sign in as the host to see your meetings")
        views = []
        for meeting in await self._meetings.live(host.name):
            count = await self._meetings.participant_count(meeting.id)
            views.append(self._view(request, meeting, participants=count))
        return web.json_response({"meetings": views})

    async def qr_code(self, request: web.Request) -> web.StreamResponse:
        """The share link as a QR code. Host-only: only the share panel shows it, and it confirms which ids exist."""
        if self._auth.host(request) is None:
            return _error(401, "unauthorized", "sign in as the host to get a meeting's QR code")
        meeting = await self._meetings.get(request.match_info["meeting_id"])
        if meeting is None:
            return _error(404, "meeting_not_found", "this meeting does not exist or has ended")
        body = qr_svg(self.share_link(request, meeting.id))
        headers = {"Content-Disposition": f'inline; filename="meeting-{meeting.id}.svg"'}
        return web.Response(body=body, content_type="image/svg+xml", headers=headers)

    def share_link(self, request: web.Request, meeting_id: str) -> str:
        """The guest link: under PUBLIC_URL when set, else on the origin the host is using right now."""
        path = f"/join/{meeting_id}"
        if self._settings.public_url:
            return self._settings.absolute(path)
        return f"{request.scheme}://{request.host}{path}"

    def _view(self, request: web.Request, meeting: Meeting, *, participants: int) -> dict[str, object]:
        return {
            "id": meeting.id,
            "url": self._settings.absolute(f"/room/{meeting.id}"),
            "join_url": self._settings.absolute(f"/join/{meeting.id}"),
            "share_url": self.share_link(request, meeting.id),
            "qr_url": f"/api/meetings/{meeting.id}/qr.svg",
            "created_at": iso(meeting.created_at),
            "expires_at": iso(meeting.expires_at),
            "participants": participants,
        }

    async def healthz(self, request: web.Request) -> web.Response:
        connected = self._media.connected
        body = {
            "status": "ok" if connected else "degraded",
            "media_connected": connected,
            "websockets": len(self._hub.all_sessions()),
            "meetings_active": self._hub.meeting_count,
        }
        return web.json_response(body, headers={"Cache-Control": "no-store"})

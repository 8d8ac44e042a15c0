"""The /ws endpoint: admits a participant, relays SDP to and from the media server, announces joins/leaves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from . import messages as m
from .auth import Authenticator, Identity
from .hub import Hub, Session
from .media_client import MediaApi, MediaUnavailable
from .meetings import Meetings, new_participant_id
from .metrics import Metrics
from .origin import same_origin
from .store import Participant, Store
from .store.records import utcnow

log = structlog.get_logger(__name__)

IceServersProvider = Callable[[Identity], list[dict[str, Any]]]
# aiohttp closes the socket (1009) above this; between MAX_MESSAGE_BYTES and this we answer too_large instead.
HARD_MESSAGE_LIMIT = 1024 * 1024


def no_ice_servers(identity: Identity) -> list[dict[str, Any]]:
    # The media server is ICE-lite on a public address; TURN credentials per identity come later.
    return []


class Signaling:
    def __init__(
        self,
        *,
        auth: Authenticator,
        store: Store,
        media: MediaApi,
        meetings: Meetings,
        hub: Hub,
        metrics: Metrics,
        public_url: str | None = None,
        ping_interval: float = 30.0,
        ice_servers: IceServersProvider = no_ice_servers,
    ) -> None:
        self._auth = auth
        self._store = store
        self._media = media
        self._meetings = meetings
        self._hub = hub
        self._metrics = metrics
        self._public_url = public_url
        self._ping_interval = ping_interval
        self._ice_servers = ice_servers
        media.add_event_listener(self._on_media_event)
        media.add_connection_listener(self._on_media_connection)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=self._ping_interval, max_msg_size=HARD_MESSAGE_LIMIT)
        await ws.prepare(request)
        meeting_id = request.query.get("meeting", "")
        identity = await self._admit(request, ws, meeting_id)
        if identity is None:
            return ws
        session = Session(
            ws,
            participant_id=new_participant_id(),
            meeting_id=meeting_id,
            name=identity.name,
            is_host=identity.is_host,
            metrics=self._metrics,
        )
        self._metrics.websockets.inc()
        writer = asyncio.create_task(session.run_writer(), name=f"ws-writer:{session.participant_id}")
        joined = False
        try:
            joined = await self._join(session)
            if joined:
                session.spawn(self._ping_loop(session), "ws-ping")
                await self._read_loop(session)
        finally:
            await self._leave(session, joined)
            await self._finish(session, writer)
            self._metrics.websockets.dec()
        return ws

    async def _admit(self, request: web.Request, ws: web.WebSocketResponse, meeting_id: str) -> Identity | None:
        """The caller's identity for this meeting, or None after telling the client why and closing."""
        if not same_origin(request, self._public_url):
            await self._refuse(ws, m.ERR_FORBIDDEN, "cross-origin WebSocket refused", m.CLOSE_FORBIDDEN)
            return None
        identity = self._auth.for_meeting(request, meeting_id) if meeting_id else None
        if identity is None:
            message = "sign in as the host or join this meeting as a guest first"
            await self._refuse(ws, m.ERR_UNAUTHORIZED, message, m.CLOSE_UNAUTHORIZED)
            return None
        if await self._meetings.get(meeting_id) is None:
            await self._refuse(ws, m.ERR_MEETING_NOT_FOUND, "this meeting does not exist", m.CLOSE_NOT_FOUND)
            return None
        return identity

    async def _refuse(self, ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
        self._metrics.error(code)
        log.info("ws_refused", code=code)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(m.error(code, message))
            self._metrics.message(m.ERROR, "out")
        await ws.close(code=close_code, message=code.encode())

    async def _join(self, session: Session) -> bool:
        self._hub.add(session)
        await self._store.put_participant(
            Participant(
                id=session.participant_id,
                meeting_id=session.meeting_id,
                name=session.name,
                is_host=session.is_host,
                joined_at=utcnow(),
            )
        )
        try:
            await self._meetings.join_room(session.meeting_id, session.participant_id, session.name)
        except MediaUnavailable as exc:
            self._fail(
                session,
                m.ERR_MEDIA_UNAVAILABLE,
                f"media server unavailable: {exc}",
                m.CLOSE_MEDIA_UNAVAILABLE,
            )
            return False
        except ControlError as exc:
            self._fail(session, exc.code, f"could not join the room: {exc.message}", m.CLOSE_MEDIA_UNAVAILABLE)
            return False

        def make_welcome(others: list[dict[str, str]]) -> dict[str, Any]:
            ice = self._ice_servers(Identity(name=session.name, is_host=session.is_host, meeting_id=session.meeting_id))
            return m.welcome(session.participant_id, session.name, session.is_host, others, ice)

        self._hub.announce(session, make_welcome, m.participant_joined(session.participant_id, session.name))
        self._metrics.participants.inc()
        self._metrics.meetings.set(self._hub.meeting_count)
        log.info("participant_joined", meeting_id=session.meeting_id, participant_id=session.participant_id)
        return True

    def _fail(self, session: Session, code: str, message: str, close_code: int) -> None:
        self._report(session, code, message)
        session.close(close_code, code)

    def _report(self, session: Session, code: str, message: str) -> None:
        self._metrics.error(code)
        log.info("ws_error_sent", participant_id=session.participant_id, code=code, detail=message[:200])
        session.send(m.error(code, message))

    async def _read_loop(self, session: Session) -> None:
        async for msg in session.ws:
            if msg.type == WSMsgType.TEXT:
                await self._on_text(session, msg.data)
            elif msg.type == WSMsgType.BINARY:
                self._metrics.message(None, "in")
                self._report(session, m.ERR_BAD_MESSAGE, "binary frames are not supported; send JSON text")
            elif msg.type == WSMsgType.ERROR:
                log.info(
                    "ws_protocol_error",
                    participant_id=session.participant_id,
                    error=str(session.ws.exception()),
                )
                return

    async def _on_text(self, session: Session, text: str) -> None:
        try:
            message = m.parse_client_message(text)
        except m.BadMessage as exc:
            self._metrics.message(None, "in")
            self._report(session, exc.code, exc.message)
            return
        self._metrics.message(message.type, "in")
        try:
            await self._dispatch(session, message)
        except ControlError as exc:
            # Media-server verdicts (bad_sdp, ...) reach the client with their own code and message.
            self._report(session, exc.code, exc.message)
        except MediaUnavailable as exc:
            self._report(session, m.ERR_MEDIA_UNAVAILABLE, str(exc))

    async def _dispatch(self, session: Session, message: m.ClientMessage) -> None:
        if message.type == m.PUBLISH_OFFER:
            assert message.sdp is not None  # parse_client_message guarantees it
            answer = await self._media.publisher_offer(session.meeting_id, session.participant_id, message.sdp)
            session.send(m.sdp_message(m.PUBLISH_ANSWER, answer))
        elif message.type == m.SUBSCRIBE_ANSWER:
            assert message.sdp is not None
            await self._media.subscriber_answer(session.meeting_id, session.participant_id, message.sdp)
        elif message.type == m.PING:
            session.send({"type": m.PONG})
        elif message.type == m.PONG:
            await self._store.touch_participant(session.participant_id)

    async def _ping_loop(self, session: Session) -> None:
        while not session.closing:
            await asyncio.sleep(self._ping_interval)
            session.send({"type": m.PING})

    async def _leave(self, session: Session, joined: bool) -> None:
        self._hub.remove(session)
        if session.announced.is_set():
            self._hub.broadcast(session, m.participant_left(session.participant_id))
            self._metrics.participants.dec()
        self._metrics.meetings.set(self._hub.meeting_count)
        await self._store.delete_participant(session.participant_id)
        if joined:
            try:
                await self._media.leave(session.meeting_id, session.participant_id)
            except (ControlError, MediaUnavailable) as exc:
                # not_found is normal when the media server dropped the participant first.
                log.info("media_leave_failed", participant_id=session.participant_id, error=str(exc))
        log.info("participant_left", meeting_id=session.meeting_id, participant_id=session.participant_id)

    async def _finish(self, session: Session, writer: asyncio.Task[None]) -> None:
        await session.cancel_tasks()
        session.close(1000, "bye")
        try:
            await asyncio.wait_for(writer, 5.0)
        except (TimeoutError, ConnectionError, RuntimeError):
            writer.cancel()

    def _on_media_event(self, name: str, params: dict[str, Any]) -> None:
        room_id, participant_id = params.get("room_id"), params.get("participant_id")
        if not isinstance(room_id, str) or not isinstance(participant_id, str):
            return
        session = self._hub.get(room_id, participant_id)
        if session is None:
            return
        if name == cp.RENEGOTIATION_NEEDED:
            session.spawn(self._renegotiate(session), "renegotiate")
        elif name == cp.PARTICIPANT_LEFT:
            reason = params.get("reason")
            message = f"the media connection ended ({reason})" if isinstance(reason, str) else "media connection ended"
            self._fail(session, m.ERR_TRANSPORT_CLOSED, message, m.CLOSE_TRANSPORT_CLOSED)

    async def _renegotiate(self, session: Session) -> None:
        await session.announced.wait()
        # One subscriber offer at a time per participant; a second event while one is pending gets `busy`.
        async with session.negotiation_lock:
            if session.closing:
                return
            try:
                offer = await self._media.subscriber_offer(session.meeting_id, session.participant_id)
            except ControlError as exc:
                if exc.code != cp.ERR_BUSY:  # busy: the media server re-emits once the pending answer arrives
                    self._report(session, exc.code, exc.message)
                return
            except MediaUnavailable as exc:
                log.info("subscriber_offer_failed", participant_id=session.participant_id, error=str(exc))
                return
            session.send(m.sdp_message(m.SUBSCRIBE_OFFER, offer))

    def _on_media_connection(self, up: bool) -> None:
        self._metrics.media_connected.set(1 if up else 0)
        if up:
            return
        # Whatever the media server knew about these participants is gone or unreachable: let clients rejoin.
        for session in self._hub.all_sessions():
            self._fail(
                session,
                m.ERR_MEDIA_UNAVAILABLE,
                "lost the connection to the media server",
                m.CLOSE_MEDIA_UNAVAILABLE,
            )

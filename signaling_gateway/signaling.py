"""The /ws endpoint: admits a participant, relays SDP to and from the media server, announces joins/leaves."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from . import messages as m
from .auth import Authenticator, Identity
from .host_controls import HostControls, Refusal
from .hub import Hub, Session
from .media_client import MediaApi, MediaUnavailable
from .meetings import Meetings, new_participant_id
from .metrics import Metrics
from .origin import same_origin
from .store import IceCandidates, Participant, ReconnectGrant, Store, StoreUnavailable
from .store.records import utcnow

log = structlog.get_logger(__name__)

IceServersProvider = Callable[[Identity], list[dict[str, Any]]]
# aiohttp closes the socket (1009) above this; between MAX_MESSAGE_BYTES and this we answer too_large instead.
HARD_MESSAGE_LIMIT = 1024 * 1024
# `?reconnect=TOKEN`: our tokens are 32 characters; anything much longer is not one of ours.
MAX_RECONNECT_TOKEN_CHARS = 64
# How long a reconnecting socket waits for its own stale socket (same participant) to be cleaned up.
REPLACE_TIMEOUT = 10.0
ERR_REPLACED = "replaced"
ERR_STORE_UNAVAILABLE = "store_unavailable"
CLOSE_REPLACED = 4409
CLOSE_STORE_UNAVAILABLE = 1011
STORE_UNAVAILABLE_MESSAGE = "meeting state is unavailable; try again shortly"


def reconnect_identity(identity: Identity) -> str:
    """Who may use a reconnect token: the host account, or the one guest token it was issued to."""
    return "host" if identity.is_host else f"guest:{identity.guest_id}"


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
        controls: HostControls,
        public_url: str | None = None,
        ping_interval: float = 30.0,
        ice_servers: IceServersProvider = no_ice_servers,
        store_refresh_interval: float | None = None,
    ) -> None:
        self._auth = auth
        self._store = store
        self._media = media
        self._meetings = meetings
        self._hub = hub
        self._metrics = metrics
        self._controls = controls
        self._public_url = public_url
        self._ping_interval = ping_interval
        self._ice_servers = ice_servers
        # With the ping by default (30 s): well inside the 60 s reconnect TTL it keeps alive.
        self._refresh_interval = store_refresh_interval or ping_interval
        # (meeting, participant) -> set once that socket's leave is done; a reconnect waits on it.
        self._live: dict[tuple[str, str], asyncio.Event] = {}
        media.add_event_listener(self._on_media_event)
        media.add_connection_listener(self._on_media_connection)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=self._ping_interval, max_msg_size=HARD_MESSAGE_LIMIT)
        await ws.prepare(request)
        meeting_id = request.query.get("meeting", "")
        identity = await self._admit(request, ws, meeting_id)
        if identity is None:
            return ws
        resumed_id = await self._resume(request.query.get("reconnect"), identity, meeting_id)
        if await self._locked_out(ws, identity, meeting_id, resumed=resumed_id is not None):
            return ws
        session = Session(
            ws,
            participant_id=resumed_id or new_participant_id(),
            meeting_id=meeting_id,
            name=identity.name,
            is_host=identity.is_host,
            metrics=self._metrics,
            # The pre-join choices, so welcome / participant_joined show them before any media_state.
            audio=request.query.get("audio") == "1",
            video=request.query.get("video") == "1",
            guest_id=identity.guest_id,
        )
        self._metrics.websockets.inc()
        writer = asyncio.create_task(session.run_writer(), name=f"ws-writer:{session.participant_id}")
        live_key, left = (meeting_id, session.participant_id), asyncio.Event()
        self._live[live_key] = left
        grant = ReconnectGrant(
            token=secrets.token_urlsafe(24),
            participant_id=session.participant_id,
            meeting_id=meeting_id,
            identity=reconnect_identity(identity),
        )
        session.reconnect_token = grant.token
        joined = False
        try:
            joined = await self._join(session, grant, resumed=resumed_id is not None)
            if joined:
                session.spawn(self._ping_loop(session), "ws-ping")
                session.spawn(self._refresh_loop(session, grant), "store-refresh")
                await self._read_loop(session)
        finally:
            # Shielded: when aiohttp cancels the handler (a vanished client, with handler_cancellation) the
            # leave must still reach the store and the media server, and a reconnect waiting on `left` be told.
            await asyncio.shield(self._end(session, writer, joined, live_key, left))
        return ws

    async def _end(
        self,
        session: Session,
        writer: asyncio.Task[None],
        joined: bool,
        live_key: tuple[str, str],
        left: asyncio.Event,
    ) -> None:
        try:
            await self._leave(session, joined)
        finally:
            left.set()
            if self._live.get(live_key) is left:
                del self._live[live_key]
        await self._finish(session, writer)
        self._metrics.websockets.dec()

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
        try:
            # Unknown or ended meeting, or a guest the host removed (host_controls.py).
            refusal = await self._controls.refusal(identity, meeting_id)
        except StoreUnavailable as exc:
            log.warning("store_unavailable", error=str(exc))
            await self._refuse(ws, ERR_STORE_UNAVAILABLE, STORE_UNAVAILABLE_MESSAGE, CLOSE_STORE_UNAVAILABLE)
            return None
        if refusal is not None:
            await self._refuse(ws, refusal.code, refusal.message, refusal.close_code)
            return None
        return identity

    async def _locked_out(
        self, ws: web.WebSocketResponse, identity: Identity, meeting_id: str, *, resumed: bool
    ) -> bool:
        """Refuses (and says so) a newcomer to a locked meeting; True when it did."""
        try:
            refusal = await self._controls.lock_refusal(identity, meeting_id, resumed=resumed)
        except StoreUnavailable as exc:
            log.warning("store_unavailable", error=str(exc))
            refusal = Refusal(ERR_STORE_UNAVAILABLE, STORE_UNAVAILABLE_MESSAGE, CLOSE_STORE_UNAVAILABLE)
        if refusal is None:
            return False
        await self._refuse(ws, refusal.code, refusal.message, refusal.close_code)
        return True

    async def _resume(self, token: str | None, identity: Identity, meeting_id: str) -> str | None:
        """The participant id a valid `?reconnect=` token gives back, or None: the caller joins as someone new.

        The token must be unused, unexpired, for this meeting and issued to this identity. A socket of the
        same participant still open here (the server has not noticed the drop yet) is closed first.
        """
        if not token or len(token) > MAX_RECONNECT_TOKEN_CHARS:
            return None
        try:
            grant = await self._store.get_reconnect(token)
            # Checked before taking it, so someone else's token cannot be used up by a caller it does not fit.
            if grant is None or grant.meeting_id != meeting_id or grant.identity != reconnect_identity(identity):
                log.info("reconnect_refused", meeting_id=meeting_id, known=grant is not None)
                return None
            if await self._store.take_reconnect(token) is None:
                return None  # another socket used it a moment ago
        except StoreUnavailable as exc:
            log.warning("reconnect_store_unavailable", error=str(exc))
            return None
        previous = self._live.get((meeting_id, grant.participant_id))
        if previous is not None:
            stale = self._hub.get(meeting_id, grant.participant_id)
            if stale is not None:
                self._fail(stale, ERR_REPLACED, "this participant reconnected on another socket", CLOSE_REPLACED)
            try:
                await asyncio.wait_for(previous.wait(), REPLACE_TIMEOUT)
            except TimeoutError:
                log.warning("reconnect_replace_timeout", participant_id=grant.participant_id)
                return None
        log.info("participant_resumed", meeting_id=meeting_id, participant_id=grant.participant_id)
        return grant.participant_id

    async def _refuse(self, ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
        self._metrics.error(code)
        log.info("ws_refused", code=code)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(m.error(code, message))
            self._metrics.message(m.ERROR, "out")
        await ws.close(code=close_code, message=code.encode())

    async def _join(self, session: Session, grant: ReconnectGrant, *, resumed: bool) -> bool:
        self._hub.add(session)
        participant = Participant(
            id=session.participant_id,
            meeting_id=session.meeting_id,
            name=session.name,
            is_host=session.is_host,
            joined_at=utcnow(),
            video=session.video,
            audio=session.audio,
        )
        try:
            await self._store.put_participant(participant)
            # Stored before welcome hands out the token, so it works from the moment the client has it.
            await self._store.put_reconnect(grant)
        except StoreUnavailable as exc:
            # The detail (Redis host, port) goes to the log, not to the browser.
            log.warning("store_unavailable", participant_id=session.participant_id, error=str(exc))
            self._fail(session, ERR_STORE_UNAVAILABLE, STORE_UNAVAILABLE_MESSAGE, CLOSE_STORE_UNAVAILABLE)
            return False
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
        try:
            # The host's blocks on this guest hold before anyone hears of it (a reload must not undo a mute).
            await self._controls.prepare(session)
        except (ControlError, MediaUnavailable, StoreUnavailable) as exc:
            log.warning("host_controls_not_applied", participant_id=session.participant_id, error=str(exc))
            self._fail(session, m.ERR_MEDIA_UNAVAILABLE, "could not join the room", m.CLOSE_MEDIA_UNAVAILABLE)
            return False

        def make_welcome(others: list[dict[str, Any]]) -> dict[str, Any]:
            ice = self._ice_servers(Identity(name=session.name, is_host=session.is_host, meeting_id=session.meeting_id))
            welcome = m.welcome(session.participant_id, session.name, session.is_host, others, ice)
            return {**welcome, "reconnect_token": grant.token, "resumed": resumed}

        joined = m.participant_joined(session.participant_id, session.name, session.audio, session.video)
        self._hub.announce(session, make_welcome, joined)
        self._controls.joined(session)
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
        except StoreUnavailable as exc:
            log.warning("store_unavailable", participant_id=session.participant_id, error=str(exc))
            self._report(session, ERR_STORE_UNAVAILABLE, STORE_UNAVAILABLE_MESSAGE)

    async def _dispatch(self, session: Session, message: m.ClientMessage) -> None:
        if message.type == m.PUBLISH_OFFER:
            assert message.sdp is not None  # parse_client_message guarantees it
            answer = await self._media.publisher_offer(session.meeting_id, session.participant_id, message.sdp)
            await self._controls.after_publish(session)  # new publications of a blocked kind start blocked
            session.send(m.sdp_message(m.PUBLISH_ANSWER, answer))
            ice = IceCandidates.from_exchange(session.meeting_id, session.participant_id, message.sdp, answer)
            await self._store.put_ice(ice)
        elif message.type == m.SUBSCRIBE_ANSWER:
            assert message.sdp is not None
            await self._media.subscriber_answer(session.meeting_id, session.participant_id, message.sdp)
        elif message.type == m.VIDEO_PREFS:
            assert message.prefs is not None
            prefs = [pref.as_params() for pref in message.prefs]
            await self._media.set_video_prefs(session.meeting_id, session.participant_id, prefs)
        elif message.type == m.MEDIA_STATE:
            await self._set_media_state(session, message)
        elif message.type in (m.HOST_ACTION, m.REQUEST_UNMUTE):
            refusal = await self._controls.handle(session, message)
            if refusal is not None:
                self._report(session, refusal.code, refusal.message)
        elif message.type == m.PING:
            session.send({"type": m.PONG})
        elif message.type == m.PONG:
            pass  # the store TTLs are refreshed by the ping loop while the socket is open

    async def _set_media_state(self, session: Session, message: m.ClientMessage) -> None:
        assert message.audio is not None and message.video is not None  # parse_client_message guarantees it
        # A kind the host blocked stays off, whatever this client claims.
        audio, video = self._controls.clamp_media(session, message.audio, message.video)
        if (session.audio, session.video) == (audio, video):
            return  # a repeat changes nothing for the others
        # The session holds it for the welcomes the hub builds without awaiting; the store for everyone else.
        session.audio, session.video = audio, video
        self._hub.broadcast(session, m.participant_media(session.participant_id, session.audio, session.video))
        await self._store.set_media_state(session.participant_id, session.audio, session.video)

    async def _ping_loop(self, session: Session) -> None:
        while not session.closing:
            await asyncio.sleep(self._ping_interval)
            session.send({"type": m.PING})

    async def _refresh_loop(self, session: Session, grant: ReconnectGrant) -> None:
        """Restart the participant's, its meeting's and its reconnect token's TTLs while the socket is open.

        Not tied to the client's pong: an open socket is what "connected" means (aiohttp's protocol heartbeat
        closes dead ones), and the 60 s reconnect TTL must never lapse while it is open.
        """
        while not session.closing:
            await asyncio.sleep(self._refresh_interval)
            try:
                await self._store.touch_participant(session.participant_id)
                await self._store.refresh_reconnect(grant)
            except StoreUnavailable as exc:
                log.warning("store_refresh_failed", participant_id=session.participant_id, error=str(exc))

    async def _leave(self, session: Session, joined: bool) -> None:
        self._hub.remove(session)
        self._controls.left(session)
        if session.announced.is_set():
            self._hub.broadcast(session, m.participant_left(session.participant_id))
            self._metrics.participants.dec()
        self._metrics.meetings.set(self._hub.meeting_count)
        try:
            # The reconnect grant stays: it expires on its own 60 s after the socket closed.
            await self._store.delete_participant(session.participant_id)
        except StoreUnavailable as exc:
            # The media server must still hear about the leave; the keys expire by their TTLs.
            log.warning("store_leave_failed", participant_id=session.participant_id, error=str(exc))
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
        self._controls.on_media_event(name, params)  # recording, active speaker, screen shares: meeting-wide
        room_id, participant_id = params.get("room_id"), params.get("participant_id")
        if not isinstance(room_id, str) or not isinstance(participant_id, str):
            return
        session = self._hub.get(room_id, participant_id)
        if session is None:
            return
        if name == cp.RENEGOTIATION_NEEDED:
            session.spawn(self._renegotiate(session), "renegotiate")
        elif name == cp.LAYERS_NEEDED:
            # Dynacast goes to the publisher only: it pauses the simulcast layers no subscriber needs.
            track_id, rids = params.get("track_id"), params.get("rids")
            if isinstance(track_id, str) and isinstance(rids, list) and all(isinstance(r, str) for r in rids):
                session.send(m.layers_needed(track_id, rids))
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

"""The /ws endpoint: admits a participant, relays SDP to and from the media server, announces joins.

A socket is not the participant: what happens when a socket ends (parked for the reconnect window, or gone for
good) is presence.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from . import messages as m
from .auth import Authenticator, Identity
from .host_controls import HostControls, Refusal
from .hub import Hub, Session
from .media_api import MediaApi, MediaUnavailable
from .media_sync import MediaSync
from .meetings import Meetings, new_participant_id
from .metrics import Metrics
from .origin import same_origin
from .presence import Presence
from .relay import MeetingRelay
from .resume import Resumed, Resumer, reconnect_identity
from .store import IceCandidates, Participant, ReconnectGrant, Store, StoreUnavailable
from .store.records import utcnow
from .ws_limits import WsLimits, drop_heartbeat

log = structlog.get_logger(__name__)

# The ICE servers (STUN, TURN with fresh credentials) for one participant id: turn.TurnServers.ice_servers.
IceServersProvider = Callable[[str], list[dict[str, Any]]]
# aiohttp closes the socket (1009) above this; between MAX_MESSAGE_BYTES and this we answer too_large instead.
HARD_MESSAGE_LIMIT = 1024 * 1024
ERR_STORE_UNAVAILABLE = "store_unavailable"
CLOSE_STORE_UNAVAILABLE = 1011
STORE_UNAVAILABLE_MESSAGE = "meeting state is unavailable; try again shortly"
# The spec's reconnect-token TTL: a dropped participant is kept this long for its socket to come back.
RECONNECT_WINDOW_S = 60.0
# Close codes a client sends when it means to go (Leave, closing the tab); anything else is a drop.
GOODBYE_CODES = frozenset({1000, 1001})
# Closes of ours after which the participant is gone for good (removed by the host, meeting ended).
FINAL_CLOSES = frozenset({m.CLOSE_KICKED, m.CLOSE_MEETING_ENDED, m.CLOSE_MEDIA_LIMIT})
# Bus command: a socket on another gateway took this participant back with its reconnect token.
OP_RESUMED = "resumed"


def no_ice_servers(participant_id: str) -> list[dict[str, Any]]:
    # Without TURN_URLS/STUN_URLS: the media server is ICE-lite on a public address, reached directly.
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
        relay: MeetingRelay,
        metrics: Metrics,
        controls: HostControls,
        public_url: str | None = None,
        ping_interval: float = 30.0,
        ice_servers: IceServersProvider = no_ice_servers,
        store_refresh_interval: float | None = None,
        reconnect_window: float = RECONNECT_WINDOW_S,
        limits: WsLimits,
    ) -> None:
        self._limits = limits
        self._auth = auth
        self._store = store
        self._media = media
        self._meetings = meetings
        self._hub = hub
        self._relay = relay
        self._metrics = metrics
        self._controls = controls
        self._public_url = public_url
        self._ping_interval = ping_interval
        self._ice_servers = ice_servers
        # With the ping by default (30 s): well inside the 60 s reconnect TTL it keeps alive.
        self._refresh_interval = store_refresh_interval or ping_interval
        self._resumer = Resumer(store, hub)
        self._presence = Presence(store=store, media=media, hub=hub, relay=relay, metrics=metrics,
                                  controls=controls, resumer=self._resumer, reconnect_window=reconnect_window)
        relay.on_command(OP_RESUMED, self._presence.resumed_elsewhere)
        self._sync = MediaSync(media=media, meetings=meetings, hub=hub, controls=controls, metrics=metrics,
                               depart=self._presence.depart_unseen)
        self.shutting_down = False

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=self._ping_interval, max_msg_size=HARD_MESSAGE_LIMIT)
        await ws.prepare(request)
        meeting_id = request.query.get("meeting", "")
        identity = await self._admit(request, ws, meeting_id)
        if identity is None:
            return ws
        penalty = self._limits.penalty(identity)  # before its reconnect token is used up
        if penalty is not None:
            await self._refuse(ws, penalty.code, penalty.message, penalty.close_code)
            return ws
        resumed = await self._resumer.take(request.query.get("reconnect"), identity, meeting_id)
        if resumed is not None:
            # Whichever gateway held it (parked, or a socket it has not seen drop) lets go without a leave.
            self._relay.command(meeting_id, OP_RESUMED, participant=resumed.participant_id)
        if await self._locked_out(ws, identity, meeting_id, resumed=resumed is not None):
            return ws
        ticket = await self._limits.admit(request, identity, meeting_id, resumed=resumed is not None)
        if isinstance(ticket, Refusal):
            await self._refuse(ws, ticket.code, ticket.message, ticket.close_code)
            return ws
        session = Session(
            ws,
            participant_id=resumed.participant_id if resumed else new_participant_id(),
            meeting_id=meeting_id,
            name=identity.name,
            is_host=identity.is_host,
            metrics=self._metrics,
            # The client's microphone and camera as they are now, so the others' view of it is right at once.
            audio=request.query.get("audio") == "1",
            video=request.query.get("video") == "1",
            guest_id=identity.guest_id,
        )
        self._limits.opened(ticket, session)
        self._metrics.websockets.inc()
        writer = asyncio.create_task(session.run_writer(), name=f"ws-writer:{session.participant_id}")
        grant = ReconnectGrant(
            token=secrets.token_urlsafe(24),
            participant_id=session.participant_id,
            meeting_id=meeting_id,
            identity=reconnect_identity(identity),
        )
        session.reconnect_token = grant.token
        joined = False
        try:
            joined = await self._join(session, grant, resumed)
            if joined:
                session.spawn(self._ping_loop(session), "ws-ping")
                session.spawn(self._refresh_loop(session, grant), "store-refresh")
                await self._read_loop(session)
        finally:
            # Shielded: when aiohttp cancels the handler (a vanished client, with handler_cancellation) the
            # leave or the parking must still happen.
            try:
                await asyncio.shield(self._end(session, writer, joined))
            finally:
                self._limits.release(ticket, session)  # also when the shield's wait is cancelled
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

    async def _refuse(self, ws: web.WebSocketResponse, code: str, message: str, close_code: int) -> None:
        self._metrics.error(code)
        log.info("ws_refused", code=code)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_json(m.error(code, message))
            self._metrics.message(m.ERROR, "out")
        await ws.close(code=close_code, message=code.encode())
        drop_heartbeat(ws)

    # --- joining and resuming -------------------------------------------------------------------------------

    async def _join(self, session: Session, grant: ReconnectGrant, resumed: Resumed | None) -> bool:
        self._metrics.experience.attempt(session.participant_id, resumed=resumed is not None)
        self._hub.add(session)
        participant = Participant(
            id=session.participant_id,
            meeting_id=session.meeting_id,
            name=session.name,
            is_host=session.is_host,
            joined_at=resumed.joined_at or utcnow() if resumed else utcnow(),
            video=session.video,
            audio=session.audio,
            gateway=self._relay.gateway_id,
        )
        try:
            await self._store.put_participant(participant)
            # Stored before welcome hands out the token, so it works from the moment the client has it.
            await self._store.put_reconnect(grant)
            # The hub knows this gateway's sockets; the store also those on other gateways, and after a
            # gateway restart those still on their way back.
            others_in_store = await self._store.list_participants(session.meeting_id)
        except StoreUnavailable as exc:
            # The detail (Redis host, port) goes to the log, not to the browser.
            log.warning("store_unavailable", participant_id=session.participant_id, error=str(exc))
            self._fail(session, ERR_STORE_UNAVAILABLE, STORE_UNAVAILABLE_MESSAGE, CLOSE_STORE_UNAVAILABLE)
            return False
        media_reset = await self._join_media(session, resumed)
        if media_reset is None:
            return False
        try:
            # The host's blocks on this guest hold before anyone hears of it (a reload must not undo a mute).
            await self._controls.prepare(session)
        except (ControlError, MediaUnavailable, StoreUnavailable) as exc:
            log.warning("host_controls_not_applied", participant_id=session.participant_id, error=str(exc))
            if resumed is None:
                self._fail(session, m.ERR_MEDIA_UNAVAILABLE, "could not join the room", m.CLOSE_MEDIA_UNAVAILABLE)
                return False
        self._announce(session, grant, resumed, media_reset, others_in_store)
        return True

    async def _join_media(self, session: Session, resumed: Resumed | None) -> bool | None:
        """Put the participant in its media room: True when its media starts anew, None when that failed."""
        if resumed is not None:
            try:
                await self._media.resume(session.meeting_id, session.participant_id)
                return False  # its transports and tracks are still there
            except MediaUnavailable:
                # The media server is down: the resume still stands, and media follows once it is back.
                return True
            except ControlError as exc:
                if exc.code != cp.ERR_NOT_FOUND:
                    log.warning("media_resume_failed", participant_id=session.participant_id, error=str(exc))
                # Gone from the media server (it restarted, or the window ran out there): a new media session.
        try:
            await self._meetings.join_room(session.meeting_id, session.participant_id, session.name)
        except MediaUnavailable as exc:
            if resumed is not None:
                return True
            self._fail(session, m.ERR_MEDIA_UNAVAILABLE, f"media server unavailable: {exc}",
                       m.CLOSE_MEDIA_UNAVAILABLE)
            return None
        except ControlError as exc:
            self._fail(session, exc.code, f"could not join the room: {exc.message}", m.CLOSE_MEDIA_UNAVAILABLE)
            return None
        return resumed is not None

    def _announce(self, session: Session, grant: ReconnectGrant, resumed: Resumed | None, media_reset: bool,
                  others_in_store: list[Participant]) -> None:
        def make_welcome(others: list[dict[str, Any]]) -> dict[str, Any]:
            # The hub knows only this gateway's sockets; the store knows the rest of the meeting.
            listed = {view["id"] for view in others} | {session.participant_id}
            others += [m.participant_view(p.id, p.name, p.audio, p.video, is_host=p.is_host) for p in others_in_store
                       if p.id not in listed]
            ice = self._ice_servers(session.participant_id)  # fresh credentials on every welcome, resumes too
            return m.welcome(session.participant_id, session.name, session.is_host, others, ice,
                             reconnect_token=grant.token, resumed=resumed is not None, media_reset=media_reset,
                             reconnect_window_s=self._presence.reconnect_window)

        if resumed is None:
            joined = m.participant_joined(session.participant_id, session.name, session.audio, session.video,
                                          is_host=session.is_host)
            self._hub.announce(session, make_welcome, joined)
            self._relay.to_other_gateways(session.meeting_id, joined, exclude=session.participant_id)
        else:
            # The others never saw it leave: no join for them, only that it is connected again and its devices.
            self._hub.announce(session, make_welcome, None)
            self._relay.to_meeting(session.meeting_id, m.participant_connection(session.participant_id, True),
                                   exclude=session.participant_id)
            self._relay.to_meeting(session.meeting_id,
                                   m.participant_media(session.participant_id, session.audio, session.video),
                                   exclude=session.participant_id)
            self._metrics.reconnections.labels(kind="media_reset" if media_reset else "resume").inc()
            if not media_reset:
                # Whatever offer was outstanding went to the dead socket; new ICE credentials for a new path.
                session.spawn(self._sync.renegotiate(session, ice_restart=True), "renegotiate")
        self._controls.joined(session)
        self._metrics.experience.joined(session.participant_id, resumed.joined_at if resumed else None)
        self._presence.count()
        log.info("participant_joined", meeting_id=session.meeting_id, participant_id=session.participant_id,
                 resumed=resumed is not None, media_reset=media_reset)

    def _fail(self, session: Session, code: str, message: str, close_code: int) -> None:
        self._report(session, code, message)
        session.close(close_code, code)

    def _report(self, session: Session, code: str, message: str) -> None:
        self._metrics.error(code)
        log.info("ws_error_sent", participant_id=session.participant_id, code=code, detail=message[:200])
        session.send(m.error(code, message))

    # --- messages -------------------------------------------------------------------------------------------

    async def _read_loop(self, session: Session) -> None:
        async for msg in session.ws:
            if msg.type == WSMsgType.TEXT:
                await self._on_text(session, msg.data)
            elif msg.type == WSMsgType.BINARY:
                self._metrics.message(None, "in")
                if self._limits.allow(session, None):
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
            if self._limits.allow(session, None):
                self._report(session, exc.code, exc.message)
            return
        self._metrics.message(message.type, "in")
        if not self._limits.allow(session, message.type):
            return
        try:
            await self._dispatch(session, message)
        except ControlError as exc:
            if exc.code == cp.ERR_STALE:
                return  # an answer to an offer that was replaced: the current one is on its way
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
            await self._media.subscriber_answer(session.meeting_id, session.participant_id, message.sdp,
                                                message.offer_id)
        elif message.type == m.CONNECTION_STATS:
            assert message.relayed is not None
            session.relayed = message.relayed
            self._presence.count()
        elif message.type == m.CLIENT_REPORT:
            assert message.report is not None
            self._metrics.experience.report(session.participant_id, message.report)
        elif message.type == m.RESTART_ICE:
            await self._limits.coalesce(session, message.type, partial(self._restart_ice, session))
        elif message.type == m.VIDEO_PREFS:
            assert message.prefs is not None
            prefs = [pref.as_params() for pref in message.prefs]
            await self._limits.coalesce(session, message.type, partial(
                self._media.set_video_prefs, session.meeting_id, session.participant_id, prefs))
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

    async def _restart_ice(self, session: Session) -> None:
        session.spawn(self._sync.renegotiate(session, ice_restart=True), "renegotiate")

    async def _set_media_state(self, session: Session, message: m.ClientMessage) -> None:
        assert message.audio is not None and message.video is not None  # parse_client_message guarantees it
        # A kind the host blocked stays off, whatever this client claims.
        audio, video = self._controls.clamp_media(session, message.audio, message.video)
        if (session.audio, session.video) == (audio, video):
            return  # a repeat changes nothing for the others
        # The session holds it for the welcomes the hub builds without awaiting; the store for everyone else.
        session.audio, session.video = audio, video
        self._relay.to_meeting(session.meeting_id, m.participant_media(session.participant_id, audio, video),
                               exclude=session.participant_id)
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
                if session.is_host:  # the host's list keeps a meeting that runs past its first 8 hours
                    await self._store.add_host_meeting(session.name, session.meeting_id)
            except StoreUnavailable as exc:
                log.warning("store_refresh_failed", participant_id=session.participant_id, error=str(exc))

    # --- the end of a socket --------------------------------------------------------------------------------

    async def _end(self, session: Session, writer: asyncio.Task[None], joined: bool) -> None:
        try:
            if self.shutting_down or session.replaced:
                pass  # a restart brings the clients back with their tokens; a resumed socket has taken over
            elif joined and session.close_code not in FINAL_CLOSES and session.ws.close_code not in GOODBYE_CODES:
                self._presence.park(session)
            else:
                self._hub.remove(session)
                await self._presence.depart(session.meeting_id, session.participant_id, in_media=joined)
                self._controls.left(session)
        finally:
            self._hub.remove(session)
            await session.cancel_tasks()
            session.close(1000, "bye")
            try:
                await asyncio.wait_for(writer, 5.0)
            except (TimeoutError, ConnectionError, RuntimeError):
                writer.cancel()
            self._metrics.websockets.dec()
            self._presence.count()

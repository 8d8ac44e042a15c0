"""WebSocket abuse limits: who may open a socket (room size, sockets per guest and per address), how fast each
socket may send each message type, and renegotiation requests coalesced per socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from prometheus_client import Counter

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from . import messages as m
from .auth import Identity
from .host_controls import Refusal
from .http_limits import client_address
from .hub import Session
from .limit_settings import INVALID, LimitSettings
from .media_api import MediaUnavailable
from .store import Store
from .token_bucket import Rate, TokenBucket

log = structlog.get_logger(__name__)

# A socket past its rate hears why at most this often per message type; the reply must not become the flood.
ERROR_EVERY_S = 1.0
# The flood allowance refills over this many seconds: a client that trips a limit now and then is never closed.
FLOOD_WINDOW_S = 10.0
# A socket closed for flooding may not come back (resume) for this long: each resume costs the media server an
# ICE restart and a subscriber offer, so an instant comeback would turn the flood into a media-server one.
# Shorter than the reconnect window (60 s): a client that comes back after it is still the same participant.
FLOOD_PENALTY_S = 10.0


@dataclass(eq=False)
class Ticket:
    """One admitted socket, counted against its meeting, guest token and address until released."""

    meeting_id: str
    address: str
    guest_id: str | None
    participant_id: str | None = None


@dataclass(eq=False)
class _SocketState:
    buckets: dict[str, TokenBucket]
    flood: TokenBucket
    errors: dict[str, TokenBucket] = field(default_factory=dict)
    # restart_ice / video_prefs: when the last one ran, and the latest one waiting for the window's end.
    last_run: dict[str, float] = field(default_factory=dict)
    pending: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)


class WsLimits:
    def __init__(self, settings: LimitSettings, store: Store, refusals: Counter, coalesced: Counter) -> None:
        self.settings = settings
        self._store = store
        self._refusals = refusals
        self._coalesced = coalesced
        self._tickets: set[Ticket] = set()
        self._sockets: dict[Session, _SocketState] = {}
        self._penalties: dict[str, float] = {}  # who (guest id or "host") -> until when (monotonic)

    # --- admission ------------------------------------------------------------------------------------------

    def penalty(self, identity: Identity) -> Refusal | None:
        """Refuses a socket of someone whose last one was closed for flooding, until its penalty is over;
        asked before a reconnect token is used, so the participant stays parked for the later comeback."""
        now = time.monotonic()
        self._penalties = {who: until for who, until in self._penalties.items() if until > now}
        until = self._penalties.get(_who(identity))
        if until is None:
            return None
        self._refusals.labels(limit="ws_flood_penalty").inc()
        return Refusal(m.ERR_RATE_LIMITED, f"too many messages: try again in {until - now:.0f} s",
                       m.CLOSE_RATE_LIMITED)

    async def admit(self, request: web.Request, identity: Identity, meeting_id: str, *,
                    resumed: bool) -> Ticket | Refusal:
        """A ticket to hold while the socket is open, or why it may not open.

        A resume is not a new socket for the limits: its reconnect token is single-use, and it replaces the
        socket it comes back for (which may still look open here).
        """
        ticket = Ticket(meeting_id, client_address(request, self.settings.trust_forwarded_for), identity.guest_id)
        refusal = None if resumed else self._socket_refusal(ticket)
        if refusal is None:
            # Taken before the store is asked, so sockets admitted at the same moment count each other.
            self._tickets.add(ticket)
            if not resumed and not identity.is_host:
                refusal = await self._room_refusal(ticket)
                if refusal is not None:
                    self._tickets.discard(ticket)
        if refusal is not None:
            self._refusals.labels(limit=refusal.limit).inc()
            log.info("ws_limit_refused", limit=refusal.limit, meeting_id=meeting_id, address=ticket.address)
            return refusal.refusal
        return ticket

    def _socket_refusal(self, ticket: Ticket) -> _Refused | None:
        limits = self.settings
        if ticket.guest_id is not None:
            same_guest = sum(1 for t in self._tickets if t.guest_id == ticket.guest_id)
            if same_guest >= limits.max_sockets_per_guest:
                return _Refused("sockets_per_guest", Refusal(
                    m.ERR_TOO_MANY_CONNECTIONS,
                    f"this guest link is already open in {same_guest} windows; close one and try again",
                    m.CLOSE_TOO_MANY_CONNECTIONS))
        same_address = sum(1 for t in self._tickets if t.address == ticket.address)
        if same_address >= limits.max_sockets_per_address:
            return _Refused("sockets_per_address", Refusal(
                m.ERR_TOO_MANY_CONNECTIONS, "too many connections from your network; try again later",
                m.CLOSE_TOO_MANY_CONNECTIONS))
        return None

    async def _room_refusal(self, ticket: Ticket) -> _Refused | None:
        stored = {p.id for p in await self._store.list_participants(ticket.meeting_id)}
        joining = [t for t in self._tickets if t.meeting_id == ticket.meeting_id and t is not ticket
                   and t.participant_id not in stored]
        if len(stored) + len(joining) < self.settings.max_participants:
            return None
        limit = self.settings.max_participants
        return _Refused("meeting_full", Refusal(
            m.ERR_MEETING_FULL, f"this meeting is full ({limit} people); try again when someone leaves",
            m.CLOSE_MEETING_FULL))

    def opened(self, ticket: Ticket, session: Session) -> None:
        """The socket's session exists: its participant id dedupes it against the store, its buckets start full."""
        ticket.participant_id = session.participant_id
        rates = self.settings.ws_rates
        flood = self.settings.ws_flood_close
        self._sockets[session] = _SocketState(
            buckets={kind: TokenBucket(rate) for kind, rate in rates.items()},
            flood=TokenBucket(Rate(flood / FLOOD_WINDOW_S, flood)),
        )

    def release(self, ticket: Ticket, session: Session | None = None) -> None:
        self._tickets.discard(ticket)
        if session is not None:
            self._sockets.pop(session, None)
            drop_heartbeat(session.ws)


    # --- message rates --------------------------------------------------------------------------------------

    def allow(self, session: Session, kind: str | None) -> bool:
        """Whether to handle this message; a refused one is dropped, said so (now and then), and counted."""
        state = self._sockets.get(session)
        kind = kind if kind is not None and kind in self.settings.ws_rates else INVALID
        if state is None or state.buckets[kind].take():
            return True
        self._refusals.labels(limit="ws_message_rate").inc()
        if not state.flood.take():
            if not session.closing:
                self._refusals.labels(limit="ws_flood").inc()
                log.warning("ws_flood_closed", participant_id=session.participant_id, type=kind)
                session.send(m.error(m.ERR_RATE_LIMITED, "too many messages: this connection is closed"))
                session.close(m.CLOSE_RATE_LIMITED, m.ERR_RATE_LIMITED)
                who = "host" if session.is_host else f"guest:{session.guest_id}"
                self._penalties[who] = time.monotonic() + FLOOD_PENALTY_S
            return False
        errors = state.errors.setdefault(kind, TokenBucket(Rate(1 / ERROR_EVERY_S, 1)))
        if errors.take():
            rate = self.settings.ws_rates[kind]
            session.metrics.error(m.ERR_RATE_LIMITED)
            session.send(m.error(m.ERR_RATE_LIMITED, f"too many {kind} messages (at most {rate.per_second:g}/s, "
                                                     f"bursts of {rate.burst:g}): dropped"))
        return False

    # --- coalescing -----------------------------------------------------------------------------------------

    async def coalesce(self, session: Session, kind: str, action: Callable[[], Awaitable[None]]) -> None:
        """Run `action` now, unless one of this kind ran within the window: then only the latest of those
        waiting runs, at the window's end (a burst of restart_ice or video_prefs is one renegotiation)."""
        state = self._sockets.get(session)
        window = self.settings.coalesce_window
        now = asyncio.get_running_loop().time()
        if state is None:
            await action()
            return
        last = state.last_run.get(kind)
        if last is None or now - last >= window:
            state.last_run[kind] = now
            await action()  # inline: the caller reports its errors as for any message
            return
        self._coalesced.labels(type=kind).inc()
        if kind not in state.pending:
            session.spawn(self._trailing(session, state, kind, last + window - now), f"coalesced-{kind}")
        state.pending[kind] = action

    async def _trailing(self, session: Session, state: _SocketState, kind: str, delay: float) -> None:
        await asyncio.sleep(delay)
        action = state.pending.pop(kind)
        state.last_run[kind] = asyncio.get_running_loop().time()
        try:
            await action()
        except ControlError as exc:
            if exc.code != cp.ERR_STALE:
                session.send(m.error(exc.code, exc.message))
        except MediaUnavailable as exc:
            session.send(m.error(m.ERR_MEDIA_UNAVAILABLE, str(exc)))
        except Exception as exc:  # a background task's error would otherwise vanish with the task
            log.warning("coalesced_action_failed", participant_id=session.participant_id, type=kind, error=str(exc))


@dataclass(frozen=True)
class _Refused:
    limit: str
    refusal: Refusal


def _who(identity: Identity) -> str:
    return "host" if identity.is_host else f"guest:{identity.guest_id}"


def drop_heartbeat(ws: web.WebSocketResponse) -> None:
    """Cancel a closed socket's heartbeat timer.

    aiohttp 3.14 re-arms it when the client's close frame arrives after our close, and the timer holds the
    socket, its request and its protocol for a whole heartbeat interval (30 s): 500 refused sockets a second
    would keep 15,000 of them in memory. Private API, hence the guard: without it we only lose the workaround.
    """
    cancel = getattr(ws, "_cancel_heartbeat", None)
    if ws.closed and callable(cancel):
        cancel()

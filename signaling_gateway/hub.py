"""Live WebSocket sessions of this gateway, by meeting: ordered delivery and broadcast to participants."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from .messages import CLOSE_SLOW_CONSUMER, participant_view
from .metrics import Metrics

log = structlog.get_logger(__name__)

# A browser that stops reading would otherwise make us buffer every broadcast for it.
MAX_QUEUED_MESSAGES = 512


@dataclass(frozen=True)
class _CloseRequest:
    code: int
    reason: str


class Session:
    """One participant's WebSocket; every outbound message goes through one queue so order is preserved."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        participant_id: str,
        meeting_id: str,
        name: str,
        is_host: bool,
        metrics: Metrics,
        audio: bool = False,
        video: bool = False,
        guest_id: str | None = None,
    ) -> None:
        self.ws = ws
        self.participant_id = participant_id
        self.meeting_id = meeting_id
        self.name = name
        self.is_host = is_host
        # Microphone / camera on, as the client last said (media_state): drives the others' tile indicators.
        self.audio = audio
        self.video = video
        # The guest token's id (None for the host): host controls (kick, mute) follow the token, not the socket.
        self.guest_id = guest_id
        # This socket's reconnect token, revoked when the host removes the participant or ends the meeting.
        self.reconnect_token: str | None = None
        # Its media goes through a TURN relay (the client's connection_stats): the TURN autoscaler counts these.
        self.relayed = False
        self.metrics = metrics
        # Set when welcome is queued; only announced sessions receive broadcasts or subscriber offers.
        self.announced = asyncio.Event()
        self.negotiation_lock = asyncio.Lock()
        self._queue: asyncio.Queue[dict[str, Any] | _CloseRequest] = asyncio.Queue()
        # Set when a resumed socket of the same participant took over: this one's end changes nothing.
        self.replaced = False
        # The close code the server chose (kick, meeting end...), None while open or when the client closed.
        self.close_code: int | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def closing(self) -> bool:
        return self._closing or self.ws.closed

    def send(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        if self._queue.qsize() >= MAX_QUEUED_MESSAGES:
            log.warning("ws_slow_consumer", participant_id=self.participant_id)
            self.close(CLOSE_SLOW_CONSUMER, "too many unread messages")
            return
        self._queue.put_nowait(message)

    def close(self, code: int, reason: str) -> None:
        """Close after everything already queued (e.g. an error explaining why) has been sent."""
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        self._queue.put_nowait(_CloseRequest(code, reason))

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run a task that belongs to this session and is cancelled when it ends."""
        task = asyncio.create_task(coro, name=f"{name}:{self.participant_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run_writer(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, _CloseRequest):
                await self.ws.close(code=item.code, message=item.reason.encode()[:120])
                return
            try:
                await self.ws.send_str(json.dumps(item, separators=(",", ":")))
            except (ConnectionError, RuntimeError) as exc:
                # The peer went away mid-send; the reader notices the close and cleans up.
                log.info("ws_send_failed", participant_id=self.participant_id, error=str(exc))
                return
            self.metrics.message(item.get("type"), "out")

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@dataclass
class ParkedParticipant:
    """A participant whose socket dropped: still in the meeting for the others until its window runs out."""

    participant_id: str
    meeting_id: str
    name: str
    audio: bool
    video: bool
    is_host: bool = False
    expiry: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, session: Session) -> ParkedParticipant:
        return cls(session.participant_id, session.meeting_id, session.name, session.audio, session.video,
                   session.is_host)


class Hub:
    """Who is connected to which meeting on this gateway (relay.py delivers to the other gateways' sockets)."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Session]] = {}
        self._parked: dict[str, dict[str, ParkedParticipant]] = {}

    def park(self, parked: ParkedParticipant) -> None:
        self._parked.setdefault(parked.meeting_id, {})[parked.participant_id] = parked

    def unpark(self, meeting_id: str, participant_id: str) -> ParkedParticipant | None:
        """Take a parked participant out (its socket came back, or its window ran out); stops its timer."""
        lot = self._parked.get(meeting_id, {})
        parked = lot.pop(participant_id, None)
        if not lot:
            self._parked.pop(meeting_id, None)
        if parked is not None and parked.expiry is not None:
            parked.expiry.cancel()
        return parked

    def parked_in(self, meeting_id: str) -> list[ParkedParticipant]:
        return list(self._parked.get(meeting_id, {}).values())

    def add(self, session: Session) -> None:
        self._rooms.setdefault(session.meeting_id, {})[session.participant_id] = session

    def remove(self, session: Session) -> None:
        room = self._rooms.get(session.meeting_id)
        if room is None or room.get(session.participant_id) is not session:
            return
        del room[session.participant_id]
        if not room:
            del self._rooms[session.meeting_id]

    def get(self, meeting_id: str, participant_id: str) -> Session | None:
        return self._rooms.get(meeting_id, {}).get(participant_id)

    def announced_others(self, session: Session) -> list[Session]:
        room = self._rooms.get(session.meeting_id, {})
        return [s for s in room.values() if s is not session and s.announced.is_set() and not s.closing]

    def announce(
        self,
        session: Session,
        make_welcome: Callable[[list[dict[str, Any]]], dict[str, Any]],
        joined: dict[str, Any] | None,
    ) -> None:
        """Queue welcome for the newcomer and `joined` for the others, with no await in between.

        Listing the others and marking the newcomer announced in one step means that of two people joining
        at once, exactly one learns of the other from its welcome and the other from the broadcast.
        """
        others = self.announced_others(session)
        session.announced.set()
        views = [participant_view(s.participant_id, s.name, s.audio, s.video, is_host=s.is_host) for s in others]
        # Those whose socket dropped are still in the meeting: the newcomer sees their (frozen) tiles too.
        views += [participant_view(p.participant_id, p.name, p.audio, p.video, is_host=p.is_host)
                  for p in self.parked_in(session.meeting_id) if p.participant_id != session.participant_id]
        session.send(make_welcome(views))
        if joined is None:
            return  # a resumed participant: the others never saw it leave
        for other in others:
            other.send(joined)

    def in_meeting(self, meeting_id: str) -> list[Session]:
        """The announced, open sessions of one meeting (who a meeting-wide message goes to)."""
        room = self._rooms.get(meeting_id, {})
        return [s for s in room.values() if s.announced.is_set() and not s.closing]

    def all_sessions(self) -> list[Session]:
        return [s for room in self._rooms.values() for s in room.values()]

    @property
    def meeting_count(self) -> int:
        return len(self._rooms)

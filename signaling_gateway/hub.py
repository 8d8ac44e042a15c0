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
        self.metrics = metrics
        # Set when welcome is queued; only announced sessions receive broadcasts or subscriber offers.
        self.announced = asyncio.Event()
        self.negotiation_lock = asyncio.Lock()
        self._queue: asyncio.Queue[dict[str, Any] | _CloseRequest] = asyncio.Queue()
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


class Hub:
    """Who is connected to which meeting on this gateway (a cross-gateway bus would sit behind this API)."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Session]] = {}

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
        joined: dict[str, Any],
    ) -> None:
        """Queue welcome for the newcomer and `joined` for the others, with no await in between.

        Listing the others and marking the newcomer announced in one step means that of two people joining
        at once, exactly one learns of the other from its welcome and the other from the broadcast.
        """
        others = self.announced_others(session)
        session.announced.set()
        session.send(make_welcome([participant_view(s.participant_id, s.name, s.audio, s.video) for s in others]))
        for other in others:
            other.send(joined)

    def broadcast(self, session: Session, message: dict[str, Any]) -> None:
        for other in self.announced_others(session):
            other.send(message)

    def in_meeting(self, meeting_id: str) -> list[Session]:
        """The announced, open sessions of one meeting (who a meeting-wide message goes to)."""
        room = self._rooms.get(meeting_id, {})
        return [s for s in room.values() if s.announced.is_set() and not s.closing]

    def all_sessions(self) -> list[Session]:
        return [s for room in self._rooms.values() for s in room.values()]

    @property
    def meeting_count(self) -> int:
        return len(self._rooms)

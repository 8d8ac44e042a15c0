"""The host's live call statistics: every STATS_INTERVAL seconds, one row per participant, to the hosts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog

from mediaserver.control_protocol import ControlError

from . import host_messages as hm
from .hub import Hub, Session
from .media_api import MediaApi, MediaUnavailable
from .meetings import Meetings
from .store import Store, StoreUnavailable
from .store.records import utcnow

log = structlog.get_logger(__name__)

# The host sees figures every STATS_INTERVAL seconds: the media server measures once a second.
STATS_INTERVAL = 2.0
# quality and mos: the connection quality level and MOS the tiles show (the media server's score).
MEDIA_FIELDS = ("quality", "mos", "uplink", "downlink")

# (meeting id, participant id) -> the kinds the host has blocked for that participant (host_controls.py).
BlockedKinds = Callable[[str, str], set[str]]


class CallStats:
    """One loop per meeting while a host of it is connected here."""

    def __init__(self, *, store: Store, media: MediaApi, hub: Hub, meetings: Meetings, gateway_id: str,
                 blocked: BlockedKinds, interval: float = STATS_INTERVAL) -> None:
        self._store = store
        self._media = media
        self._hub = hub
        self._meetings = meetings
        self._gateway_id = gateway_id
        self._blocked = blocked
        self.interval = interval
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def ensure(self, meeting_id: str) -> None:
        running = self._tasks.get(meeting_id)
        if running is None or running.done():
            self._tasks[meeting_id] = asyncio.create_task(self._loop(meeting_id), name=f"call-stats:{meeting_id}")

    def stop(self, meeting_id: str) -> None:
        task = self._tasks.pop(meeting_id, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _hosts(self, meeting_id: str) -> list[Session]:
        return [s for s in self._hub.in_meeting(meeting_id) if s.is_host]

    async def _loop(self, meeting_id: str) -> None:
        try:
            meeting = await self._meetings.get(meeting_id)
        except StoreUnavailable:
            meeting = None
        # The call's duration counts from the meeting's creation: the host creates it on the way in.
        started = meeting.created_at if meeting is not None else utcnow()
        while self._hosts(meeting_id):
            try:
                stats = await self._media.stats(meeting_id, summary=True)
            except (ControlError, MediaUnavailable) as exc:
                log.info("call_stats_unavailable", meeting_id=meeting_id, error=str(exc))
                stats = {}
            room = stats.get("rooms", {}).get(meeting_id, {})
            rows = [self._row(s, room.get(s.participant_id)) for s in self._hub.in_meeting(meeting_id)]
            rows += await self._remote_rows(meeting_id, {row["id"] for row in rows}, room)
            message = hm.call_stats((utcnow() - started).total_seconds(), rows)
            for host in self._hosts(meeting_id):
                host.send(message)
            await asyncio.sleep(self.interval)

    async def _remote_rows(self, meeting_id: str, listed: set[str], room: dict[str, Any]) -> list[dict[str, Any]]:
        """Participants on other gateways: what the store and the media server know of them."""
        try:
            stored = await self._store.list_participants(meeting_id)
        except StoreUnavailable:
            return []
        rows = []
        for participant in stored:
            # This gateway's own (joining, or parked) are not listed: as before there were other gateways.
            if participant.id in listed or participant.gateway == self._gateway_id:
                continue
            media = room.get(participant.id)
            rows.append({"id": participant.id, "name": participant.name, "is_host": participant.is_host,
                         "audio": participant.audio, "video": participant.video,
                         # Known to its own gateway, which sends the hosts `moderation` for it.
                         "audio_blocked": None, "video_blocked": None, "relayed": None,
                         **{key: media.get(key) if isinstance(media, dict) else None for key in MEDIA_FIELDS}})
        return rows

    def _row(self, session: Session, media: dict[str, Any] | None) -> dict[str, Any]:
        blocked = self._blocked(session.meeting_id, session.participant_id)
        row: dict[str, Any] = {
            "id": session.participant_id,
            "name": session.name,
            "is_host": session.is_host,
            "audio": session.audio,
            "video": session.video,
            "audio_blocked": "audio" in blocked,
            "video_blocked": "video" in blocked,
            "quality": None,
            "mos": None,
            "uplink": None,
            "downlink": None,
            "relayed": session.relayed,  # its media goes through TURN (the client's connection_stats)
        }
        if isinstance(media, dict):
            row.update({key: media.get(key) for key in MEDIA_FIELDS})
        return row

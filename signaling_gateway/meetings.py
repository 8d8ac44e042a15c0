"""Meetings: ids, creation in the store and on the media server, and joining a participant to the room."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import structlog

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from .media_api import MediaApi
from .store import Meeting, Store
from .store.keys import MEETING_TTL
from .store.records import utcnow

log = structlog.get_logger(__name__)

_ALPHABET = "abcdefghijkmnopqrstuvwxyz23456789"  # no l/1/0: ids get read aloud and typed
_ID_RE = re.compile(r"^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$")


def new_meeting_id() -> str:
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(12))  # ~60 bits: the link is the capability
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


def is_meeting_id(text: str) -> bool:
    return bool(_ID_RE.match(text))


def new_participant_id() -> str:
    # Used as the msid stream id in SDP, so it must be a plain token.
    return "p" + secrets.token_hex(8)


def is_locked(meeting: Meeting) -> bool:
    """A locked meeting admits no new guests (the host's lock control, host_controls.py)."""
    return meeting.locked


class Meetings:
    def __init__(self, store: Store, media: MediaApi, video_codecs: tuple[str, ...] = cp.VIDEO_CODECS) -> None:
        self._store = store
        self._media = media
        self._video_codecs = video_codecs

    async def create(self, host: str) -> Meeting:
        """Create the meeting on the media server first: a meeting without a room would be a dead link."""
        now = utcnow()
        meeting = Meeting(
            id=new_meeting_id(), host=host, created_at=now, expires_at=now + timedelta(seconds=MEETING_TTL)
        )
        await self._media.create_room(meeting.id, self._video_codecs)
        await self._store.put_meeting(meeting)
        # In the store, not in this process: the host's list survives a gateway restart (with Redis).
        await self._store.add_host_meeting(host, meeting.id)
        log.info("meeting_created", meeting_id=meeting.id)
        return meeting

    async def live(self, host: str) -> list[Meeting]:
        """The meetings `host` created that still exist and are active, newest first."""
        found = [meeting for meeting_id in await self._store.host_meetings(host)
                 if (meeting := await self.get(meeting_id)) is not None]
        return sorted(found, key=lambda meeting: meeting.created_at, reverse=True)

    async def get(self, meeting_id: str) -> Meeting | None:
        if not is_meeting_id(meeting_id):
            return None
        meeting = await self._store.get_meeting(meeting_id)
        return meeting if meeting is not None and meeting.active else None

    async def has_ended(self, meeting_id: str) -> bool:
        """The host ended it: its record stays as a tombstone for the meeting TTL so the link can say so."""
        if not is_meeting_id(meeting_id):
            return False
        meeting = await self._store.get_meeting(meeting_id)
        return meeting is not None and not meeting.active

    async def participant_count(self, meeting_id: str) -> int:
        return len(await self._store.list_participants(meeting_id))

    async def join_room(self, meeting_id: str, participant_id: str, name: str) -> None:
        try:
            await self._media.join(meeting_id, participant_id, name)
        except ControlError as exc:
            if exc.code != cp.ERR_NOT_FOUND:
                raise
            # The media server restarted and forgot the room; the meeting itself is still valid.
            log.info("media_room_recreated", meeting_id=meeting_id)
            await self._media.create_room(meeting_id, self._video_codecs)
            await self._media.join(meeting_id, participant_id, name)

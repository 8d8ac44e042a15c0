"""The embedded store: a dict of JSON values with Redis-like per-key TTLs, for one gateway without Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from . import keys
from .records import Meeting, Participant, ReconnectGrant


@dataclass
class _Entry:
    value: str | set[str]
    expires_at: float


class MemoryStore:
    """Keys and TTLs mirror the Redis layout; expired keys vanish on read and in `sweep`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, _Entry] = {}

    def _get(self, key: str) -> str | set[str] | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._data[key]
            return None
        return entry.value

    def _get_str(self, key: str) -> str | None:
        value = self._get(key)
        return value if isinstance(value, str) else None

    def _set(self, key: str, value: str | set[str], ttl: float) -> None:
        self._data[key] = _Entry(value, self._clock() + ttl)

    def _expire(self, key: str, ttl: float) -> None:
        if self._get(key) is not None:
            self._data[key].expires_at = self._clock() + ttl

    def sweep(self) -> int:
        """Drop every expired key; returns how many went. Called periodically so memory stays bounded."""
        now = self._clock()
        dead = [key for key, entry in self._data.items() if entry.expires_at <= now]
        for key in dead:
            del self._data[key]
        return len(dead)

    def __len__(self) -> int:
        return len(self._data)

    async def put_meeting(self, meeting: Meeting) -> None:
        self._set(keys.meeting(meeting.id), meeting.to_json(), keys.MEETING_TTL)

    async def get_meeting(self, meeting_id: str) -> Meeting | None:
        raw = self._get_str(keys.meeting(meeting_id))
        return Meeting.from_json(raw) if raw is not None else None

    async def delete_meeting(self, meeting_id: str) -> None:
        self._data.pop(keys.meeting(meeting_id), None)
        self._data.pop(keys.meeting_participants(meeting_id), None)

    async def put_participant(self, participant: Participant) -> None:
        self._set(keys.participant(participant.id), participant.to_json(), keys.PARTICIPANT_TTL)
        index_key = keys.meeting_participants(participant.meeting_id)
        members = self._get(index_key)
        members = members if isinstance(members, set) else set()
        members.add(participant.id)
        self._set(index_key, members, keys.PARTICIPANT_TTL)

    async def get_participant(self, participant_id: str) -> Participant | None:
        raw = self._get_str(keys.participant(participant_id))
        return Participant.from_json(raw) if raw is not None else None

    async def touch_participant(self, participant_id: str) -> None:
        participant = await self.get_participant(participant_id)
        if participant is None:
            return
        self._expire(keys.participant(participant_id), keys.PARTICIPANT_TTL)
        self._expire(keys.meeting_participants(participant.meeting_id), keys.PARTICIPANT_TTL)

    async def delete_participant(self, participant_id: str) -> None:
        participant = await self.get_participant(participant_id)
        self._data.pop(keys.participant(participant_id), None)
        if participant is None:
            return
        members = self._get(keys.meeting_participants(participant.meeting_id))
        if isinstance(members, set):
            members.discard(participant_id)

    async def list_participants(self, meeting_id: str) -> list[Participant]:
        members = self._get(keys.meeting_participants(meeting_id))
        if not isinstance(members, set):
            return []
        found = [await self.get_participant(pid) for pid in sorted(members)]
        return sorted((p for p in found if p is not None), key=lambda p: (p.joined_at, p.id))

    async def put_reconnect(self, grant: ReconnectGrant) -> None:
        self._set(keys.reconnect(grant.token), grant.to_json(), keys.RECONNECT_TTL)

    async def take_reconnect(self, token: str) -> ReconnectGrant | None:
        raw = self._get_str(keys.reconnect(token))
        # Single use: a leaked reconnect token is worth one reconnect at most.
        self._data.pop(keys.reconnect(token), None)
        return ReconnectGrant.from_json(raw) if raw is not None else None

    async def close(self) -> None:
        self._data.clear()

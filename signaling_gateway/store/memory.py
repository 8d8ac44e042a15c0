"""The embedded store: a dict of JSON values with Redis-like per-key TTLs, for one gateway without Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import keys
from .keys import DEFAULT_TTLS, Ttls
from .records import GuestControls, IceCandidates, Meeting, Participant, ReconnectGrant, in_join_order


@dataclass
class _Entry:
    value: str
    expires_at: float


class MemoryStore:
    """Same keys, JSON values and TTLs as RedisStore; expired keys vanish on read and in `sweep`.

    Every method runs without awaiting, so each one is atomic on the event loop, as a Redis
    transaction is on the server.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, ttls: Ttls = DEFAULT_TTLS) -> None:
        self._clock = clock
        self.ttls = ttls
        self._data: dict[str, _Entry] = {}

    # --- the Redis-like primitives -------------------------------------------------------------------------

    def _get(self, key: str) -> str | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._data[key]
            return None
        return entry.value

    def _set(self, key: str, value: str, ttl: float) -> None:
        self._data[key] = _Entry(value, self._clock() + ttl)

    def _set_keep_ttl(self, key: str, value: str) -> None:
        if self._get(key) is not None:
            self._data[key].value = value

    def _expire(self, key: str, ttl: float) -> None:
        if self._get(key) is not None:
            self._data[key].expires_at = self._clock() + ttl

    def _delete(self, key: str) -> str | None:
        value = self._get(key)
        self._data.pop(key, None)
        return value

    def ttl(self, key: str) -> float | None:
        """Seconds `key` has left, None when it does not exist (Redis's `TTL`, for tests and debugging)."""
        if self._get(key) is None:
            return None
        return self._data[key].expires_at - self._clock()

    def raw(self, key: str) -> str | None:
        """The stored JSON text (Redis's `GET`, for tests and debugging)."""
        return self._get(key)

    def keys(self) -> list[str]:
        return sorted(key for key in list(self._data) if self._get(key) is not None)

    def sweep(self) -> int:
        """Drop every expired key; returns how many went. Called periodically so memory stays bounded."""
        now = self._clock()
        dead = [key for key, entry in self._data.items() if entry.expires_at <= now]
        for key in dead:
            del self._data[key]
        return len(dead)

    def __len__(self) -> int:
        return len(self._data)

    # --- the Store protocol --------------------------------------------------------------------------------

    async def put_meeting(self, meeting: Meeting) -> None:
        self._set(keys.meeting(meeting.id), meeting.to_json(), self.ttls.meeting)

    async def get_meeting(self, meeting_id: str) -> Meeting | None:
        raw = self._get(keys.meeting(meeting_id))
        return Meeting.from_json(raw) if raw is not None else None

    async def delete_meeting(self, meeting_id: str) -> None:
        self._delete(keys.meeting(meeting_id))

    async def set_meeting_locked(self, meeting_id: str, locked: bool) -> Meeting | None:
        key = keys.meeting(meeting_id)
        raw = self._get(key)
        if raw is None:
            return None
        meeting = replace(Meeting.from_json(raw), locked=locked)
        self._set_keep_ttl(key, meeting.to_json())
        return meeting

    async def end_meeting(self, meeting_id: str) -> Meeting | None:
        key = keys.meeting(meeting_id)
        raw = self._get(key)
        if raw is None:
            return None
        meeting = Meeting.from_json(raw)
        for participant_id in meeting.participants:
            self._delete(keys.participant(participant_id))
            self._delete(keys.ice(meeting_id, participant_id))
        self._set(key, replace(meeting, active=False, participants=()).to_json(), self.ttls.meeting)
        return meeting

    def _edit_meeting(self, meeting_id: str, change: Callable[[Meeting], Meeting]) -> None:
        key = keys.meeting(meeting_id)
        raw = self._get(key)
        if raw is not None:
            self._set(key, change(Meeting.from_json(raw)).to_json(), self.ttls.meeting)

    async def put_participant(self, participant: Participant) -> None:
        self._set(keys.participant(participant.id), participant.to_json(), self.ttls.participant)
        self._edit_meeting(participant.meeting_id, lambda m: m.with_participant(participant.id))

    async def get_participant(self, participant_id: str) -> Participant | None:
        raw = self._get(keys.participant(participant_id))
        return Participant.from_json(raw) if raw is not None else None

    async def set_media_state(self, participant_id: str, audio: bool, video: bool) -> Participant | None:
        participant = await self.get_participant(participant_id)
        if participant is None:
            return None
        updated = participant.with_media(audio=audio, video=video)
        self._set_keep_ttl(keys.participant(participant_id), updated.to_json())
        return updated

    async def touch_participant(self, participant_id: str) -> bool:
        participant = await self.get_participant(participant_id)
        if participant is None:
            return False
        self._expire(keys.participant(participant_id), self.ttls.participant)
        self._expire(keys.meeting(participant.meeting_id), self.ttls.meeting)
        return True

    async def delete_participant(self, participant_id: str) -> None:
        raw = self._delete(keys.participant(participant_id))
        if raw is None:
            return
        meeting_id = Participant.from_json(raw).meeting_id
        self._delete(keys.ice(meeting_id, participant_id))
        self._edit_meeting(meeting_id, lambda m: m.without_participant(participant_id))

    async def list_participants(self, meeting_id: str) -> list[Participant]:
        meeting = await self.get_meeting(meeting_id)
        if meeting is None:
            return []
        found = [await self.get_participant(pid) for pid in meeting.participants]
        return in_join_order(found, meeting_id)

    async def put_ice(self, candidates: IceCandidates) -> None:
        key = keys.ice(candidates.meeting_id, candidates.participant_id)
        self._set(key, candidates.to_json(), self.ttls.ice)

    async def get_ice(self, meeting_id: str, participant_id: str) -> IceCandidates | None:
        raw = self._get(keys.ice(meeting_id, participant_id))
        return IceCandidates.from_json(raw) if raw is not None else None

    async def put_reconnect(self, grant: ReconnectGrant) -> None:
        self._set(keys.reconnect(grant.token), grant.to_json(self.ttls.reconnect), self.ttls.reconnect)

    async def refresh_reconnect(self, grant: ReconnectGrant) -> bool:
        if self._get(keys.reconnect(grant.token)) is None:
            return False
        await self.put_reconnect(grant)
        return True

    async def get_reconnect(self, token: str) -> ReconnectGrant | None:
        raw = self._get(keys.reconnect(token))
        return ReconnectGrant.from_json(token, raw) if raw is not None else None

    async def take_reconnect(self, token: str) -> ReconnectGrant | None:
        # Single use: a leaked reconnect token is worth one reconnect at most.
        raw = self._delete(keys.reconnect(token))
        return ReconnectGrant.from_json(token, raw) if raw is not None else None

    async def add_host_meeting(self, host: str, meeting_id: str) -> None:
        key = keys.host_meetings(host)
        ids = [i for i in json.loads(self._get(key) or "[]") if i != meeting_id] + [meeting_id]
        self._set(key, json.dumps(ids[-keys.MAX_HOST_MEETINGS :]), self.ttls.meeting)

    async def host_meetings(self, host: str) -> list[str]:
        return [str(i) for i in json.loads(self._get(keys.host_meetings(host)) or "[]")]

    async def get_guest_controls(self, meeting_id: str, guest_id: str) -> GuestControls | None:
        raw = self._get(keys.guest_controls(meeting_id, guest_id))
        return GuestControls.from_json(raw) if raw is not None else None

    async def put_guest_controls(self, controls: GuestControls) -> None:
        key = keys.guest_controls(controls.meeting_id, controls.guest_id)
        self._set(key, controls.to_json(), self.ttls.guest_controls)

    async def revoke_session(self, session_id: str, ttl: float) -> None:
        self._set(keys.revoked_session(session_id), json.dumps({"revoked": True}), ttl)

    async def session_revoked(self, session_id: str) -> bool:
        return self._get(keys.revoked_session(session_id)) is not None

    async def close(self) -> None:
        self._data.clear()


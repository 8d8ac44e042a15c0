"""RedisStore: the Store protocol on Redis (redis-py asyncio), JSON values, the keys and TTLs of keys.py."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from . import keys
from .base import StoreUnavailable
from .keys import DEFAULT_TTLS, Ttls
from .records import GuestControls, IceCandidates, Meeting, Participant, ReconnectGrant, in_join_order

P = ParamSpec("P")
T = TypeVar("T")

# A Redis that stops answering must not hang a WebSocket handler for long.
SOCKET_TIMEOUT = 5.0


def _ms(seconds: float) -> int:
    # PX rather than EX: tests shorten TTLs below a second; Redis refuses a TTL of 0.
    return max(1, round(seconds * 1000))


def _text(raw: bytes | str | None) -> str | None:
    # A client made without decode_responses hands back bytes; the records are parsed from text.
    return raw.decode() if isinstance(raw, bytes) else raw


def _unavailable(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Report Redis failures as StoreUnavailable, so callers need not know which store they have."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    return wrapper


class RedisStore:
    """Several gateways may share one Redis: read-modify-writes of a record are WATCH/MULTI transactions."""

    def __init__(self, client: Redis, *, ttls: Ttls = DEFAULT_TTLS) -> None:
        self._redis = client
        self.ttls = ttls

    @classmethod
    def from_url(cls, url: str, *, ttls: Ttls = DEFAULT_TTLS) -> RedisStore:
        client = Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            health_check_interval=30,
        )
        return cls(client, ttls=ttls)

    @property
    def client(self) -> Redis:
        return self._redis

    @_unavailable
    async def ping(self) -> None:
        """Raises StoreUnavailable when Redis does not answer: a start-up check."""
        await self._redis.ping()

    async def _transaction(self, key: str, body: Callable[[str | None, Pipeline], T]) -> T:
        """Read `key`, then queue writes in one MULTI; the writes apply only if nobody changed `key` meanwhile.

        `body` gets the current value (None: no such key) and the pipeline in MULTI mode; redis-py re-runs
        it whenever another client wrote `key` between the GET and the EXEC.
        """

        async def attempt(pipe: Pipeline) -> T:
            current = _text(await pipe.get(key))
            pipe.multi()
            return body(current, pipe)

        result: T = await self._redis.transaction(attempt, key, value_from_callable=True)
        return result

    def _queue_meeting_edit(self, pipe: Pipeline, raw: str | None, edit: Callable[[Meeting], Meeting]) -> None:
        if raw is not None:
            meeting = edit(Meeting.from_json(raw))
            pipe.set(keys.meeting(meeting.id), meeting.to_json(), px=_ms(self.ttls.meeting))

    @_unavailable
    async def put_meeting(self, meeting: Meeting) -> None:
        await self._redis.set(keys.meeting(meeting.id), meeting.to_json(), px=_ms(self.ttls.meeting))

    @_unavailable
    async def get_meeting(self, meeting_id: str) -> Meeting | None:
        raw = _text(await self._redis.get(keys.meeting(meeting_id)))
        return Meeting.from_json(raw) if raw is not None else None

    @_unavailable
    async def delete_meeting(self, meeting_id: str) -> None:
        await self._redis.delete(keys.meeting(meeting_id))

    @_unavailable
    async def set_meeting_locked(self, meeting_id: str, locked: bool) -> Meeting | None:
        def body(raw: str | None, pipe: Pipeline) -> Meeting | None:
            if raw is None:
                return None
            meeting = replace(Meeting.from_json(raw), locked=locked)
            pipe.set(keys.meeting(meeting_id), meeting.to_json(), keepttl=True)
            return meeting

        return await self._transaction(keys.meeting(meeting_id), body)

    @_unavailable
    async def end_meeting(self, meeting_id: str) -> Meeting | None:
        # One MULTI: nobody sees the meeting ended while its participants' keys still exist, or the reverse.
        def body(raw: str | None, pipe: Pipeline) -> Meeting | None:
            if raw is None:
                return None
            meeting = Meeting.from_json(raw)
            doomed = [keys.participant(p) for p in meeting.participants]
            doomed += [keys.ice(meeting_id, p) for p in meeting.participants]
            if doomed:
                pipe.delete(*doomed)
            tombstone = replace(meeting, active=False, participants=())
            pipe.set(keys.meeting(meeting_id), tombstone.to_json(), px=_ms(self.ttls.meeting))
            return meeting

        return await self._transaction(keys.meeting(meeting_id), body)

    @_unavailable
    async def put_participant(self, participant: Participant) -> None:
        def body(meeting: str | None, pipe: Pipeline) -> None:
            pipe.set(keys.participant(participant.id), participant.to_json(), px=_ms(self.ttls.participant))
            self._queue_meeting_edit(pipe, meeting, lambda m: m.with_participant(participant.id))

        await self._transaction(keys.meeting(participant.meeting_id), body)

    @_unavailable
    async def get_participant(self, participant_id: str) -> Participant | None:
        raw = _text(await self._redis.get(keys.participant(participant_id)))
        return Participant.from_json(raw) if raw is not None else None

    @_unavailable
    async def set_media_state(self, participant_id: str, audio: bool, video: bool) -> Participant | None:
        def body(raw: str | None, pipe: Pipeline) -> Participant | None:
            if raw is None:
                return None
            participant = Participant.from_json(raw).with_media(audio=audio, video=video)
            pipe.set(keys.participant(participant_id), participant.to_json(), keepttl=True)
            return participant

        return await self._transaction(keys.participant(participant_id), body)

    @_unavailable
    async def touch_participant(self, participant_id: str) -> bool:
        participant = await self.get_participant(participant_id)
        if participant is None:
            return False
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.pexpire(keys.participant(participant_id), _ms(self.ttls.participant))
            pipe.pexpire(keys.meeting(participant.meeting_id), _ms(self.ttls.meeting))
            await pipe.execute()
        return True

    @_unavailable
    async def delete_participant(self, participant_id: str) -> None:
        participant = await self.get_participant(participant_id)
        if participant is None:
            return
        meeting_id = participant.meeting_id

        # One MULTI: whoever sees the participant key gone also sees it gone from the meeting record.
        def body(meeting: str | None, pipe: Pipeline) -> None:
            self._queue_meeting_edit(pipe, meeting, lambda m: m.without_participant(participant_id))
            pipe.delete(keys.participant(participant_id), keys.ice(meeting_id, participant_id))

        await self._transaction(keys.meeting(meeting_id), body)

    @_unavailable
    async def list_participants(self, meeting_id: str) -> list[Participant]:
        meeting = await self.get_meeting(meeting_id)
        if meeting is None or not meeting.participants:
            return []
        raws: list[Any] = await self._redis.mget([keys.participant(pid) for pid in meeting.participants])
        texts = [_text(raw) for raw in raws]
        return in_join_order([Participant.from_json(t) if t is not None else None for t in texts], meeting_id)

    @_unavailable
    async def put_ice(self, candidates: IceCandidates) -> None:
        key = keys.ice(candidates.meeting_id, candidates.participant_id)
        await self._redis.set(key, candidates.to_json(), px=_ms(self.ttls.ice))

    @_unavailable
    async def get_ice(self, meeting_id: str, participant_id: str) -> IceCandidates | None:
        raw = _text(await self._redis.get(keys.ice(meeting_id, participant_id)))
        return IceCandidates.from_json(raw) if raw is not None else None

    @_unavailable
    async def put_reconnect(self, grant: ReconnectGrant) -> None:
        ttl = self.ttls.reconnect
        await self._redis.set(keys.reconnect(grant.token), grant.to_json(ttl), px=_ms(ttl))

    @_unavailable
    async def refresh_reconnect(self, grant: ReconnectGrant) -> bool:
        ttl = self.ttls.reconnect
        # XX: a grant already used (or expired) stays gone; refreshing must not bring it back.
        done = await self._redis.set(keys.reconnect(grant.token), grant.to_json(ttl), px=_ms(ttl), xx=True)
        return bool(done)

    @_unavailable
    async def get_reconnect(self, token: str) -> ReconnectGrant | None:
        raw = _text(await self._redis.get(keys.reconnect(token)))
        return ReconnectGrant.from_json(token, raw) if raw is not None else None

    @_unavailable
    async def take_reconnect(self, token: str) -> ReconnectGrant | None:
        # GETDEL is atomic: of two sockets presenting one token, exactly one gets the grant.
        raw = _text(await self._redis.getdel(keys.reconnect(token)))
        return ReconnectGrant.from_json(token, raw) if raw is not None else None

    @_unavailable
    async def add_host_meeting(self, host: str, meeting_id: str) -> None:
        key = keys.host_meetings(host)

        def body(raw: str | None, pipe: Pipeline) -> None:
            ids = [i for i in json.loads(raw or "[]") if i != meeting_id] + [meeting_id]
            pipe.set(key, json.dumps(ids[-keys.MAX_HOST_MEETINGS :]), px=_ms(self.ttls.meeting))

        await self._transaction(key, body)

    @_unavailable
    async def host_meetings(self, host: str) -> list[str]:
        return [str(i) for i in json.loads(_text(await self._redis.get(keys.host_meetings(host))) or "[]")]

    @_unavailable
    async def get_guest_controls(self, meeting_id: str, guest_id: str) -> GuestControls | None:
        raw = _text(await self._redis.get(keys.guest_controls(meeting_id, guest_id)))
        return GuestControls.from_json(raw) if raw is not None else None

    @_unavailable
    async def put_guest_controls(self, controls: GuestControls) -> None:
        key = keys.guest_controls(controls.meeting_id, controls.guest_id)
        await self._redis.set(key, controls.to_json(), px=_ms(self.ttls.guest_controls))

    @_unavailable
    async def revoke_session(self, session_id: str, ttl: float) -> None:
        await self._redis.set(keys.revoked_session(session_id), json.dumps({"revoked": True}), px=_ms(ttl))

    @_unavailable
    async def session_revoked(self, session_id: str) -> bool:
        return bool(await self._redis.exists(keys.revoked_session(session_id)))

    async def close(self) -> None:
        await self._redis.aclose()


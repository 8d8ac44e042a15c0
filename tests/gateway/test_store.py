"""The Store contract (TTLs, indexes, single-use reconnect tokens), run against every implementation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from signaling_gateway.store import Meeting, MemoryStore, Participant, ReconnectGrant, Store
from signaling_gateway.store.keys import MEETING_TTL, PARTICIPANT_TTL, RECONNECT_TTL
from signaling_gateway.store.records import utcnow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# A Redis-backed store joins this list (with a clock it can honour, e.g. a real Redis and short TTLs).
STORES: dict[str, Callable[[Clock], Store]] = {"memory": lambda clock: MemoryStore(clock=clock)}


@pytest.fixture(params=sorted(STORES))
def clock_and_store(request: pytest.FixtureRequest) -> tuple[Clock, Store]:
    clock = Clock()
    return clock, STORES[request.param](clock)


def _meeting(meeting_id: str = "abcd-efgh-jkmn") -> Meeting:
    now = utcnow()
    return Meeting(id=meeting_id, host="host", created_at=now, expires_at=now + timedelta(hours=8))


def _participant(pid: str, meeting_id: str = "abcd-efgh-jkmn", name: str = "Ann") -> Participant:
    return Participant(id=pid, meeting_id=meeting_id, name=name, is_host=False, joined_at=utcnow())


def test_ttls_are_the_ones_the_spec_names() -> None:
    assert (MEETING_TTL, PARTICIPANT_TTL, RECONNECT_TTL) == (8 * 3600, 8 * 3600, 60)


async def test_meetings_round_trip_and_expire_after_8_hours(clock_and_store: tuple[Clock, Store]) -> None:
    clock, store = clock_and_store
    meeting = _meeting()
    await store.put_meeting(meeting)
    assert await store.get_meeting(meeting.id) == meeting
    clock.advance(MEETING_TTL - 1)
    assert await store.get_meeting(meeting.id) == meeting
    clock.advance(2)
    assert await store.get_meeting(meeting.id) is None


async def test_participants_are_listed_per_meeting_and_expire(clock_and_store: tuple[Clock, Store]) -> None:
    clock, store = clock_and_store
    await store.put_participant(_participant("p1"))
    clock.advance(1)
    await store.put_participant(_participant("p2", name="<b>Bo</b>"))
    await store.put_participant(_participant("p3", meeting_id="other-meet-ing1"))
    assert [p.id for p in await store.list_participants("abcd-efgh-jkmn")] == ["p1", "p2"]
    assert (await store.get_participant("p2")).name == "<b>Bo</b>"  # type: ignore[union-attr]
    await store.delete_participant("p1")
    assert [p.id for p in await store.list_participants("abcd-efgh-jkmn")] == ["p2"]
    clock.advance(PARTICIPANT_TTL + 1)
    assert await store.get_participant("p2") is None
    assert await store.list_participants("abcd-efgh-jkmn") == []


async def test_touch_keeps_a_participant_alive(clock_and_store: tuple[Clock, Store]) -> None:
    clock, store = clock_and_store
    await store.put_participant(_participant("p1"))
    clock.advance(PARTICIPANT_TTL - 10)
    await store.touch_participant("p1")
    clock.advance(PARTICIPANT_TTL - 10)
    assert await store.get_participant("p1") is not None
    assert [p.id for p in await store.list_participants("abcd-efgh-jkmn")] == ["p1"]
    await store.touch_participant("missing")  # harmless


async def test_reconnect_tokens_are_single_use_and_live_60_seconds(clock_and_store: tuple[Clock, Store]) -> None:
    clock, store = clock_and_store
    grant = ReconnectGrant(token="t1", participant_id="p1", meeting_id="abcd-efgh-jkmn")
    await store.put_reconnect(grant)
    assert await store.take_reconnect("t1") == grant
    assert await store.take_reconnect("t1") is None
    await store.put_reconnect(ReconnectGrant(token="t2", participant_id="p2", meeting_id="abcd-efgh-jkmn"))
    clock.advance(RECONNECT_TTL + 0.5)
    assert await store.take_reconnect("t2") is None


async def test_deleting_a_meeting_drops_its_index(clock_and_store: tuple[Clock, Store]) -> None:
    _, store = clock_and_store
    await store.put_meeting(_meeting())
    await store.put_participant(_participant("p1"))
    await store.delete_meeting("abcd-efgh-jkmn")
    assert await store.get_meeting("abcd-efgh-jkmn") is None
    assert await store.list_participants("abcd-efgh-jkmn") == []


async def test_memory_store_sweep_bounds_memory() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for i in range(50):
        await store.put_reconnect(ReconnectGrant(token=f"t{i}", participant_id="p", meeting_id="m"))
    await store.put_meeting(_meeting())
    assert len(store) == 51
    clock.advance(RECONNECT_TTL + 1)
    assert store.sweep() == 50
    assert len(store) == 1

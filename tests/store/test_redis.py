"""RedisStore against the real redis-server: TTLs as Redis reports them, real expiry, and an unreachable Redis."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from signaling_gateway.store import (
    IceCandidates,
    Meeting,
    Participant,
    ReconnectGrant,
    RedisStore,
    StoreUnavailable,
    Ttls,
)
from signaling_gateway.store.records import utcnow
from tests.store.redis_server import RedisServer

MEETING_ID = "abcd-efgh-jkmn"


async def wait_for(predicate: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Seconds until `predicate` held; fails after `timeout`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await predicate():
        if loop.time() - start > timeout:
            raise AssertionError(f"condition not reached in {timeout} s")
        await asyncio.sleep(0.02)
    return loop.time() - start


async def _fill(store: RedisStore) -> None:
    now = utcnow()
    await store.put_meeting(Meeting(MEETING_ID, "host", now, now + timedelta(hours=8)))
    await store.put_participant(Participant("p1", MEETING_ID, "Ann", False, now))
    await store.put_ice(IceCandidates(MEETING_ID, "p1", server=("1 1 udp 1 10.0.0.1 7882 typ host",), client=()))
    await store.put_reconnect(ReconnectGrant("tok", "p1", MEETING_ID, "guest:g1"))


async def test_production_ttls_as_redis_reports_them(redis_server: RedisServer, redis_client: Redis) -> None:
    store = RedisStore.from_url(redis_server.url)
    try:
        assert store.ttls.reconnect == 60  # the default every gateway runs with
        await _fill(store)
    finally:
        await store.close()
    ttls = {key: await redis_client.ttl(key) for key in await redis_client.keys("*")}
    assert set(ttls) == {f"meeting:{MEETING_ID}", "participant:p1", f"ice:{MEETING_ID}:p1", "reconnect:tok"}
    assert 8 * 3600 - 60 <= ttls[f"meeting:{MEETING_ID}"] <= 8 * 3600
    assert 8 * 3600 - 60 <= ttls["participant:p1"] <= 8 * 3600
    assert 300 - 60 <= ttls[f"ice:{MEETING_ID}:p1"] <= 300
    assert 0 < ttls["reconnect:tok"] <= 60
    # Plain JSON strings: any other client (another gateway, an operator's redis-cli) can read them.
    assert json.loads(await redis_client.get(f"meeting:{MEETING_ID}") or "")["participants"] == ["p1"]
    assert json.loads(await redis_client.get("participant:p1") or "")["roomID"] == MEETING_ID
    assert json.loads(await redis_client.get("reconnect:tok") or "")["userID"] == "p1"


async def test_keys_really_expire_in_redis(redis_server: RedisServer, redis_client: Redis) -> None:
    # Short TTLs: the same code path as production with its 60 s / 5 min / 8 h, without the wait.
    store = RedisStore.from_url(redis_server.url, ttls=Ttls(meeting=30, participant=1.0, ice=0.6, reconnect=0.4))
    try:
        await _fill(store)
        assert await redis_client.exists("reconnect:tok", f"ice:{MEETING_ID}:p1", "participant:p1") == 3

        async def reconnect_gone() -> bool:
            return not await redis_client.exists("reconnect:tok")

        async def participant_gone() -> bool:
            return not await redis_client.exists("participant:p1")

        assert 0.3 <= await wait_for(reconnect_gone, 5) <= 2.5
        assert await store.take_reconnect("tok") is None
        await wait_for(participant_gone, 5)
        assert not await redis_client.exists(f"ice:{MEETING_ID}:p1")
        assert await store.list_participants(MEETING_ID) == []
        assert await redis_client.exists(f"meeting:{MEETING_ID}")
    finally:
        await store.close()


async def test_leave_removes_participant_keys_in_redis(redis_server: RedisServer, redis_client: Redis) -> None:
    store = RedisStore.from_url(redis_server.url)
    try:
        await _fill(store)
        await store.delete_participant("p1")
    finally:
        await store.close()
    assert sorted(await redis_client.keys("*")) == [f"meeting:{MEETING_ID}", "reconnect:tok"]
    assert json.loads(await redis_client.get(f"meeting:{MEETING_ID}") or "")["participants"] == []


async def test_an_edit_racing_another_client_is_retried_not_lost(
    redis_server: RedisServer, redis_client: Redis
) -> None:
    store = RedisStore.from_url(redis_server.url)
    try:
        await store.put_participant(Participant("p1", MEETING_ID, "Ann", False, utcnow()))
        original = store.client.transaction
        raced = False

        async def transaction_with_a_rival(func, *watches, **kwargs):  # type: ignore[no-untyped-def]
            async def func_then_rival_write(pipe):  # type: ignore[no-untyped-def]
                nonlocal raced
                result = await func(pipe)
                if not raced:  # another gateway renames the participant between our GET and EXEC, once
                    raced = True
                    raw = json.loads(await redis_client.get("participant:p1") or "")
                    await redis_client.set("participant:p1", json.dumps({**raw, "name": "Renamed"}), keepttl=True)
                return result

            return await original(func_then_rival_write, *watches, **kwargs)

        store.client.transaction = transaction_with_a_rival  # type: ignore[method-assign]
        updated = await store.set_media_state("p1", audio=True, video=True)
    finally:
        await store.close()
    assert raced
    # The second attempt saw the rival's write and kept it.
    assert updated is not None and (updated.name, updated.audio, updated.video) == ("Renamed", True, True)


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0")
        try:
            with pytest.raises(StoreUnavailable):
                await store.ping()
            with pytest.raises(StoreUnavailable):
                await store.get_meeting(MEETING_ID)
            with pytest.raises(StoreUnavailable):
                await store.set_media_state("p1", audio=True, video=False)
        finally:
            await store.close()

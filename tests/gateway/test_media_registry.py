"""The node registry on a real redis-server: media servers heart-beat, two gateways' pools (RegistryPool) place
a room once, spread rooms by the nodes' reported load, pass over a draining node and re-place a dead node's rooms."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Iterator
from functools import partial

import pytest
from redis.asyncio import Redis

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError
from signaling_gateway.media_registry import RedisPlacement, RegistryPool
from tests.processes import MediaServerProcess, start_media_server
from tests.store.redis_server import RedisServer, redis_server_installed, start_redis_server
from tests.waits import until

pytestmark = pytest.mark.skipif(not redis_server_installed(), reason="needs redis-server (scripts/test)")


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = start_redis_server()
    yield server
    server.stop()


def node(redis: RedisServer, node_id: str, *extra: str) -> MediaServerProcess:
    return start_media_server("--redis-url", redis.url, "--node-id", node_id, *extra)


@pytest.fixture
def nodes(redis: RedisServer) -> Iterator[list[MediaServerProcess]]:
    started = [node(redis, "node-a", "--drain-timeout", "30"), node(redis, "node-b", "--drain-timeout", "30")]
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGINT)  # at once: SIGTERM would drain
        server.stop()


# Polled by `until` for each pool in turn (a partial binds the pool, as a lambda's default argument would).
def knows_both_nodes(pool: RegistryPool) -> bool:
    return len(pool.nodes) == 2 and pool.connected


def knows_one_node(pool: RegistryPool) -> bool:
    return len(pool.nodes) == 1


def sees_draining(pool: RegistryPool, node_id: str) -> bool:
    return pool.node_by_id(node_id) in pool.draining


@pytest.fixture
async def gateways(redis: RedisServer, nodes: list[MediaServerProcess]) -> AsyncIterator[list[RegistryPool]]:
    pools = [RegistryPool(redis.url, poll=0.2, move_after=0.5) for _ in range(2)]
    for pool in pools:
        await pool.start()
    for pool in pools:
        await until("both nodes known and connected", partial(knows_both_nodes, pool))
    yield pools
    for pool in pools:
        await pool.close()


def record(redis: RedisServer, node_id: str) -> dict[str, object] | None:
    raw = redis.client().get(cp.NODE_KEY_PREFIX + node_id)
    return json.loads(raw) if raw else None


def holder(pool: RegistryPool, room_id: str) -> str | None:
    found = pool.node_of(room_id)
    return None if found is None else pool.id_of(found)


async def test_a_node_heart_beats_its_address_and_load_and_is_gone_when_it_stops(redis: RedisServer) -> None:
    server = node(redis, "node-x")
    try:
        first = record(redis, "node-x")
        assert first is not None and first["control_port"] == server.control_port and first["rooms"] == 0
        assert str(first["media"]).endswith(f":{server.udp_port}")
        assert 0 < redis.client().ttl(cp.NODE_KEY_PREFIX + "node-x") <= cp.NODE_TTL_S
        pool = RegistryPool(redis.url, poll=0.2)
        await pool.start()
        try:
            await pool.create_room("room-1")
            await pool.join("room-1", "ann", "Ann")
            await until("the heartbeat never showed the room",
                        lambda: (r := record(redis, "node-x")) is not None and r["participants"] == 1, 6)
        finally:
            await pool.close()
        server.process.send_signal(signal.SIGINT)
        server.process.wait(10)
        assert record(redis, "node-x") is None  # deleted on the way out, not left to expire
    finally:
        server.stop()


async def test_a_killed_node_expires_and_two_gateways_place_its_room_again_once(
    redis: RedisServer, nodes: list[MediaServerProcess], gateways: list[RegistryPool]
) -> None:
    a, b = gateways
    # The same room created through both gateways at the same moment: one placement.
    await asyncio.gather(a.create_room("room-1"), b.create_room("room-1"))
    assert holder(a, "room-1") == holder(b, "room-1") is not None
    assert redis.client().get(cp.ROOM_KEY_PREFIX + "room-1") == holder(a, "room-1")
    # A second room, from the other gateway, goes to the other node (the first holds a room now).
    await b.create_room("room-2")
    assert {holder(a, "room-1"), holder(b, "room-2")} == {"node-a", "node-b"}

    dead = dict(zip(("node-a", "node-b"), nodes, strict=True))[str(holder(a, "room-1"))]
    dead.process.kill()
    for pool in gateways:  # its key expires (no heartbeat): both gateways drop it and forget its room
        await until("the dead node was never removed", partial(knows_one_node, pool), cp.NODE_TTL_S + 5)
        assert pool.node_of("room-1") is None
    with pytest.raises(ControlError) as gone:
        await a.resume("room-1", "ann")
    assert gone.value.code == "not_found"  # so the participant rejoins: the room is created anew
    await asyncio.gather(a.create_room("room-1"), b.create_room("room-1"))
    survivor = holder(a, "room-2") or holder(b, "room-2")
    assert holder(a, "room-1") == holder(b, "room-1") == survivor
    assert redis.client().get(cp.ROOM_KEY_PREFIX + "room-1") == survivor


async def test_a_draining_node_says_so_at_once_keeps_its_call_and_gets_no_new_room(
    redis: RedisServer, nodes: list[MediaServerProcess], gateways: list[RegistryPool]
) -> None:
    a = gateways[0]
    await a.create_room("room-0")
    await a.join("room-0", "ann", "Ann")  # a call in progress on the node about to drain
    busy = str(holder(a, "room-0"))
    dict(zip(("node-a", "node-b"), nodes, strict=True))[busy].process.send_signal(signal.SIGTERM)
    await until("the heartbeat never said draining",
                lambda: (r := record(redis, busy)) is not None and r["draining"] is True, 3)
    for pool in gateways:
        await until("a gateway never saw the drain", partial(sees_draining, pool, busy), 3)
    # By load the draining node would be picked next (the other has fewer rooms only once these land there).
    for index, room in enumerate(("room-1", "room-2", "room-3")):
        await gateways[index % 2].create_room(room)
        assert holder(gateways[index % 2], room) != busy, f"{room} placed on the draining node"
    await a.join("room-0", "bo", "Bo")  # its call still takes people
    assert record(redis, busy) is not None  # still there, still heart-beating: the call goes on


async def test_claims_for_different_nodes_at_the_same_moment_agree_on_one(redis: RedisServer) -> None:
    # What the pools above do when two gateways pick different nodes for one room (here made certain).
    client = Redis.from_url(redis.url)
    placement = RedisPlacement(client)
    try:
        for attempt in range(20):
            room = f"room-{attempt}"
            results = await asyncio.gather(placement.claim(room, "node-a", {"node-a", "node-b"}),
                                           placement.claim(room, "node-b", {"node-a", "node-b"}))
            assert results[0] == results[1] == await placement.holder(room)
        # Its node gone, the room is taken over by exactly one of two gateways racing to re-place it.
        dead = await placement.holder("room-0")
        assert dead is not None
        alive = {"node-a", "node-b"} - {dead}
        (survivor,) = alive
        again = await asyncio.gather(placement.claim("room-0", survivor, alive),
                                     placement.claim("room-0", "node-c", alive | {"node-c"}))
        assert again[0] == again[1] == await placement.holder("room-0") != dead
    finally:
        await client.aclose()

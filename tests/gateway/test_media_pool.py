"""MediaPool over two real media servers: placement, routing, a restarted gateway finding its rooms, a node
lost and its rooms placed again, a draining node passed over."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable

import pytest

from mediaserver.control_protocol import ControlError
from signaling_gateway.media_api import MediaUnavailable
from signaling_gateway.media_client import MediaClient
from signaling_gateway.media_pool import MediaPool, least_loaded
from tests.processes import MediaServerProcess, rooms_on, start_media_server
from tests.waits import until


@pytest.mark.parametrize(("loads", "chosen"), [
    ([(0, 0), (0, 0)], 0),
    ([(0, 1), (0, 0)], 1),  # equal people: fewer rooms
    ([(3, 1), (1, 2)], 1),  # people first
    ([None, (9, 9)], 1),  # a node that is down takes nothing
    ([None, None], None),
])  # fmt: skip
def test_a_new_room_goes_to_the_least_loaded_live_node(loads: list[tuple[int, int] | None],
                                                      chosen: int | None) -> None:
    assert least_loaded(loads) == chosen


@pytest.fixture
async def servers() -> AsyncIterator[list[MediaServerProcess]]:
    started = [start_media_server(), start_media_server()]
    yield started
    for server in started:
        server.stop()


def pool_of(servers: list[MediaServerProcess]) -> MediaPool:
    return MediaPool([MediaClient("127.0.0.1", s.control_port, reconnect_min=0.05, reconnect_max=0.2)
                      for s in servers])


async def test_rooms_spread_over_the_nodes_and_each_call_reaches_its_room(servers: list[MediaServerProcess]) -> None:
    pool = pool_of(servers)
    await pool.start()
    try:
        assert await pool.wait_connected(10)
        await asyncio.gather(pool.create_room("room-a"), pool.create_room("room-b"))  # at once: still spread
        assert [await rooms_on(s.control_port) for s in servers] in ([{"room-a"}, {"room-b"}], [{"room-b"}, {"room-a"}])
        for room in ("room-a", "room-b"):
            await pool.join(room, f"{room}-ann", "Ann")
            offer, _ = await pool.subscriber_offer(room, f"{room}-ann")
            assert offer.startswith("v=0")
            assert (await pool.stats(room, summary=True))["rooms"].keys() == {room}
        await pool.join("room-a", "room-a-bo", "Bo")
        await pool.create_room("room-c")  # room-a's node has two people, room-b's one
        assert pool.node_of("room-c") is pool.node_of("room-b")
        with pytest.raises(ControlError) as missing:
            await pool.join("no-such-room", "p1", "Cy")
        assert missing.value.code == "not_found"  # as one media server answers: the caller creates the room
        await pool.close_room("room-c")
        held = [await rooms_on(s.control_port) for s in servers]
        assert pool.node_of("room-c") is None and all("room-c" not in rooms for rooms in held)
    finally:
        await pool.close()


async def test_a_restarted_gateway_finds_the_rooms_the_media_servers_kept(servers: list[MediaServerProcess]) -> None:
    first = pool_of(servers)
    await first.start()
    assert await first.wait_connected(10)
    await first.create_room("room-a")
    await first.create_room("room-b")
    await first.join("room-b", "bo", "Bo")
    holder = first.node_of("room-b")
    assert holder is not None
    await first.close()

    second = pool_of(servers)  # knows no room
    await second.start()
    try:
        assert await second.wait_connected(10)
        await second.resume("room-b", "bo")  # not "not_found": that would reset Bo's media for nothing
        found = second.node_of("room-b")
        assert found is not None and found.address == holder.address
    finally:
        await second.close()


async def test_a_lost_node_concerns_only_its_rooms_and_new_rooms_avoid_it(servers: list[MediaServerProcess]) -> None:
    pool = pool_of(servers)
    changes: list[tuple[bool, Callable[[str], bool]]] = []
    pool.add_connection_listener(lambda up, concerns: changes.append((up, concerns)))
    await pool.start()
    try:
        assert await pool.wait_connected(10)
        changes.clear()
        await pool.create_room("room-a")
        await pool.create_room("room-b")
        lost = next(i for i, node in enumerate(pool.nodes) if node is pool.node_of("room-b"))
        servers[lost].process.kill()
        await until("no connection change after the kill", lambda: changes)
        up, concerns = changes[0]
        assert up is False and concerns("room-b") and not concerns("room-a")
        assert pool.connected is False  # degraded: /healthz says so
        await pool.create_room("room-c")
        assert pool.node_of("room-c") is pool.node_of("room-a")
        with pytest.raises(MediaUnavailable):
            await pool.join("room-b", "p1", "Cy")  # its node is gone: the caller's reconnect handles it
    finally:
        await pool.close()


async def test_the_rooms_of_a_node_that_stays_away_are_placed_again(servers: list[MediaServerProcess]) -> None:
    pool = MediaPool([MediaClient("127.0.0.1", s.control_port, reconnect_min=0.05, reconnect_max=0.2)
                      for s in servers], move_after=0.5)
    changes: list[tuple[bool, Callable[[str], bool]]] = []
    pool.add_connection_listener(lambda up, concerns: changes.append((up, concerns)))
    await pool.start()
    try:
        assert await pool.wait_connected(10)
        await pool.create_room("room-a")
        await pool.create_room("room-b")
        await pool.join("room-b", "bo", "Bo")
        lost = next(i for i, node in enumerate(pool.nodes) if node is pool.node_of("room-b"))
        changes.clear()
        servers[lost].process.kill()
        # Down first (nothing to do yet: it may come back), then, still away, its rooms are to be brought back.
        # (A killed server's socket can accept one last connection and reset it: a brief "up" may come between.)
        await until("the rooms were never moved", lambda: pool.node_of("room-b") is None)
        assert changes[0][0] is False
        up, concerns = changes[-1]  # the move's: the participants of the moved rooms are to be brought back
        assert up is True and concerns("room-b") and not concerns("room-a")
        assert pool.node_of("room-b") is None and pool.node_of("room-a") is not None
        # What MediaSync does next for Bo: resume finds no room, the rejoin creates it on the node that lives.
        with pytest.raises(ControlError) as gone:
            await pool.resume("room-b", "bo")
        assert gone.value.code == "not_found"
        await pool.create_room("room-b")
        await pool.join("room-b", "bo", "Bo")
        assert pool.node_of("room-b") is pool.node_of("room-a")
    finally:
        await pool.close()


async def test_a_draining_node_takes_no_new_room_and_keeps_its_calls() -> None:
    draining = start_media_server("--drain-timeout", "30")
    other = start_media_server()
    pool = pool_of([draining, other])
    await pool.start()
    try:
        assert await pool.wait_connected(10)
        await pool.create_room("room-a")  # both empty: the first node
        await pool.create_room("room-x")  # fewer rooms: the second
        assert (pool.node_of("room-a"), pool.node_of("room-x")) == (pool.nodes[0], pool.nodes[1])
        await pool.join("room-a", "ann", "Ann")
        for person in ("x1", "x2", "x3"):
            await pool.join("room-x", person, person)
        draining.process.send_signal(signal.SIGTERM)
        await until("never draining", lambda: any(e.get("event") == "mediaserver_draining"
                                                     for e in draining.log_events()))
        await pool.join("room-a", "bo", "Bo")  # a call in progress still takes its participants
        # The draining node has 2 people, the other 3: by load the new rooms would go to the draining one.
        for room in ("room-b", "room-c"):
            await pool.create_room(room)
            assert pool.node_of(room) is pool.nodes[1], f"{room} landed on the draining node"
        assert draining.process.poll() is None  # its call goes on
        assert "room-a" in (await pool.stats("room-a", summary=True))["rooms"]
        await pool.leave("room-a", "ann")
        await pool.leave("room-a", "bo")
        # Its last call over, it stops long before the drain timeout.
        await asyncio.get_running_loop().run_in_executor(None, draining.process.wait, 10)
    finally:
        await pool.close()
        draining.stop()
        other.stop()

"""MediaClient against a real media server: requests, error codes, and reconnecting after a restart."""

from __future__ import annotations

import asyncio

import pytest

from mediaserver.control_protocol import ControlError
from signaling_gateway.media_api import MediaUnavailable
from signaling_gateway.media_client import MediaClient
from tests.processes import MediaServerProcess, start_media_server

from .conftest import free_port


async def test_requests_fail_fast_while_disconnected() -> None:
    client = MediaClient("127.0.0.1", free_port(), reconnect_min=0.05, reconnect_max=0.1)
    await client.start()
    try:
        assert not client.connected
        with pytest.raises(MediaUnavailable):
            await asyncio.wait_for(client.create_room("abcd-efgh-jkmn"), 1)
        assert await client.wait_connected(0.2) is False
    finally:
        await client.close()


async def test_calls_and_error_codes(media_server: MediaServerProcess) -> None:
    client = MediaClient("127.0.0.1", media_server.control_port)
    await client.start()
    try:
        assert await client.wait_connected(10)
        await client.create_room("room-mc-1")
        await client.join("room-mc-1", "p1", "Ann")
        with pytest.raises(ControlError) as excinfo:
            await client.join("no-such-room", "p2", "Bo")
        assert excinfo.value.code == "not_found"
        with pytest.raises(ControlError) as excinfo:
            await client.publisher_offer("room-mc-1", "p1", "garbage")
        assert excinfo.value.code == "bad_sdp"
        offer, _ = await client.subscriber_offer("room-mc-1", "p1")
        assert offer.startswith("v=0")
        await client.leave("room-mc-1", "p1")
        await client.close_room("room-mc-1")
        assert isinstance(await client.stats(), dict)
    finally:
        await client.close()


async def test_reconnects_when_the_media_server_comes_back() -> None:
    port = free_port()
    server: MediaServerProcess | None = start_media_server("--control-port", str(port))
    client = MediaClient("127.0.0.1", port, reconnect_min=0.05, reconnect_max=0.2)
    states: list[bool] = []
    client.add_connection_listener(lambda up, rooms: states.append(up))
    await client.start()
    try:
        assert await client.wait_connected(10)
        assert server is not None
        server.stop()
        server = None
        for _ in range(100):
            if not client.connected:
                break
            await asyncio.sleep(0.05)
        assert not client.connected
        with pytest.raises(MediaUnavailable):
            await client.create_room("room-mc-2")
        server = start_media_server("--control-port", str(port))
        assert await client.wait_connected(10)
        await client.create_room("room-mc-2")
        assert states[:3] == [True, False, True]
    finally:
        await client.close()
        if server is not None:
            server.stop()

"""SIGTERM drains a media server (no new rooms, the calls in progress go on until the drain timeout); SIGINT
stops it at once. Real processes, a real control connection."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator

import pytest

from mediaserver.control_protocol import ControlError
from signaling_gateway.media_client import MediaClient
from tests.processes import MediaServerProcess, start_media_server


@contextlib.asynccontextmanager
async def a_call(drain_timeout: float) -> AsyncIterator[tuple[MediaServerProcess, MediaClient]]:
    """A media server with one participant in one room, and the control link to it."""
    server = start_media_server("--drain-timeout", str(drain_timeout))
    client = MediaClient("127.0.0.1", server.control_port)
    await client.start()
    try:
        assert await client.wait_connected(10)
        await client.create_room("room-a")
        await client.join("room-a", "ann", "Ann")
        yield server, client
    finally:
        await client.close()
        server.stop()


async def test_a_drain_refuses_new_rooms_keeps_the_call_and_ends_at_its_timeout() -> None:
    async with a_call(drain_timeout=2) as (server, client):
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)  # the signal is handled on the server's loop; give it the turn
        assert (await client.stats("room-a", summary=True))["draining"] is True
        with pytest.raises(ControlError) as refused:
            await client.create_room("room-b")
        assert refused.value.code == "draining"
        await client.create_room("room-a")  # the room it holds is no new room
        await client.join("room-a", "bo", "Bo")
        code = await asyncio.get_running_loop().run_in_executor(None, server.process.wait, 15)
        took = time.monotonic() - signalled
        assert code == 0 and 2.0 <= took < 10, f"exited {code} after {took:.1f} s"
        events = [e.get("event") for e in server.log_events()]
        assert events.index("mediaserver_draining") < events.index("mediaserver_stopping")


async def test_sigint_stops_at_once_with_a_call_in_progress() -> None:
    async with a_call(drain_timeout=30) as (server, _):
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        code = await asyncio.get_running_loop().run_in_executor(None, server.process.wait, 10)
        assert code == 0 and time.monotonic() - signalled < 5
        assert "mediaserver_draining" not in [e.get("event") for e in server.log_events()]

"""Fixtures for media-plane tests: a real media server subprocess and a control connection to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from signaling_gateway.media_client import MediaClient
from tests.processes import MediaServerProcess, start_media_server


@pytest.fixture
def media_server() -> Iterator[MediaServerProcess]:
    server = start_media_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def control(media_server: MediaServerProcess) -> AsyncIterator[MediaClient]:
    client = MediaClient("127.0.0.1", media_server.control_port)
    await client.start()
    assert await client.wait_connected(10), "control connection to the media server"
    try:
        yield client
    finally:
        await client.close()

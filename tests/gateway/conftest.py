"""Gateway test harness: the real app on aiohttp's TestServer, one cookie jar per simulated person."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient, TestServer

from signaling_gateway.app import MEDIA_KEY, STORE_KEY, create_app
from signaling_gateway.auth import HostCredentials
from signaling_gateway.config import Settings
from signaling_gateway.media_client import MediaClient
from signaling_gateway.meetings import new_meeting_id
from signaling_gateway.store import Meeting, Store
from signaling_gateway.store.records import utcnow
from tests.processes import MediaServerProcess, start_media_server

HOST_USER = "host"
HOST_PASSWORD = "correct horse battery staple"
WS_TIMEOUT = 5.0

# One argon2 hash for the whole run: hashing costs ~50 ms and says nothing new per test.
_CREDENTIALS = HostCredentials(HOST_USER, HOST_PASSWORD)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "secret_key": b"k" * 32,
        "host_username": HOST_USER,
        "host_password": HOST_PASSWORD,
    }
    values.update(overrides)
    return Settings(**values)


class Gateway:
    """One running app; `client()` gives a new browser-like visitor with its own cookies."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self._clients: list[TestClient[Any, Any]] = []

    @property
    def store(self) -> Store:
        return self.server.app[STORE_KEY]

    @property
    def media(self) -> MediaClient:
        media = self.server.app[MEDIA_KEY]
        assert isinstance(media, MediaClient)
        return media

    async def client(self) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = TestClient(self.server)
        await client.start_server()
        self._clients.append(client)
        return client

    async def host(self) -> TestClient[Any, Any]:
        client = await self.client()
        response = await client.post(
            "/login", data={"username": HOST_USER, "password": HOST_PASSWORD}, allow_redirects=False
        )
        assert response.status == 302, await response.text()
        return client

    async def guest(self, meeting_id: str, name: str = "Guest") -> TestClient[Any, Any]:
        client = await self.client()
        response = await client.post(f"/join/{meeting_id}", data={"name": name}, allow_redirects=False)
        assert response.status == 302, await response.text()
        return client

    async def stored_meeting(self) -> str:
        """A meeting put straight into the store: for tests that must not depend on the media server."""
        now = utcnow()
        meeting = Meeting(id=new_meeting_id(), host=HOST_USER, created_at=now, expires_at=now + timedelta(hours=8))
        await self.store.put_meeting(meeting)
        return meeting.id

    async def close(self) -> None:
        for client in self._clients:
            await client.close()
        await self.server.close()


async def start_gateway(media_port: int, **settings: Any) -> Gateway:
    media = MediaClient("127.0.0.1", media_port, reconnect_min=0.05, reconnect_max=0.2, request_timeout=5.0)
    app = create_app(make_settings(**settings), media=media, credentials=_credentials(settings))
    server = TestServer(app)
    await server.start_server()
    return Gateway(server)


def _credentials(settings: dict[str, Any]) -> HostCredentials:
    if "host_username" in settings or "host_password" in settings:
        return HostCredentials(settings.get("host_username", HOST_USER), settings.get("host_password", HOST_PASSWORD))
    return _CREDENTIALS


@pytest.fixture
async def offline() -> AsyncIterator[Gateway]:
    """A gateway whose media server is unreachable: everything that must work without media."""
    gateway = await start_gateway(free_port())
    try:
        yield gateway
    finally:
        await gateway.close()


@pytest.fixture(scope="session")
def media_server() -> Iterator[MediaServerProcess]:
    server = start_media_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def online(media_server: MediaServerProcess) -> AsyncIterator[Gateway]:
    """A gateway connected to a real media server subprocess (shared by the session; rooms are per test)."""
    gateway = await start_gateway(media_server.control_port)
    try:
        assert await gateway.media.wait_connected(10), "gateway never connected to the media server"
        yield gateway
    finally:
        await gateway.close()


# Sent on a timer, not in answer to anything: a test waiting for "the next message" skips them.
PERIODIC_TYPES = frozenset({"ping", "call_stats"})


async def receive(ws: ClientWebSocketResponse, timeout: float = WS_TIMEOUT) -> dict[str, Any]:
    """The next JSON message, skipping the server's keep-alive pings and the host's periodic call_stats."""
    while True:
        message = await ws.receive_json(timeout=timeout)
        if message.get("type") not in PERIODIC_TYPES:
            assert isinstance(message, dict)
            return message


async def receive_type(ws: ClientWebSocketResponse, kind: str, timeout: float = WS_TIMEOUT) -> dict[str, Any]:
    """Skip messages until one of `kind` arrives (e.g. subscriber offers racing with joins)."""
    while True:
        message = await receive(ws, timeout)
        if message["type"] == kind:
            return message


async def eventually(predicate: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    """Wait for server-side cleanup that runs after the client already saw the socket close."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def cookie_header(response: Any, name: str) -> str:
    for value in response.headers.getall("Set-Cookie", []):
        if re.match(rf"{re.escape(name)}=", value):
            return str(value)
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.getall('Set-Cookie', [])}")

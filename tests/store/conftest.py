"""Store test harness: one real redis-server per session, and the contract suite run on memory and on Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from signaling_gateway.app import create_app
from signaling_gateway.auth import HostCredentials
from signaling_gateway.media_client import MediaClient
from signaling_gateway.store import MemoryStore, RedisStore, Store
from tests.gateway.conftest import HOST_PASSWORD, HOST_USER, Gateway, make_settings
from tests.gateway.conftest import media_server as media_server  # the gateway tests' fixture, reused here
from tests.store.redis_server import REDIS_SERVER, RedisServer, redis_server_installed, start_redis_server

STORE_KINDS = ["memory", "redis"]
# One argon2 hash for the whole run, as in tests/gateway.
_CREDENTIALS = HostCredentials(HOST_USER, HOST_PASSWORD)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if not redis_server_installed():
        pytest.skip(f"{REDIS_SERVER} is not installed (apt package redis-server; .ci/run installs it)")
    server = start_redis_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client on an empty database: what another process sharing the Redis would see."""
    client = Redis.from_url(redis_server.url, decode_responses=True)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Harness(Protocol):
    """A store plus the means to look at its keys and let time pass, the same way for every implementation."""

    kind: str
    store: Store

    async def elapse(self, seconds: float) -> None: ...

    async def ttl(self, key: str) -> float | None: ...

    async def raw(self, key: str) -> str | None: ...

    async def keys(self) -> list[str]: ...


class MemoryHarness:
    kind = "memory"

    def __init__(self) -> None:
        self.clock = Clock()
        self.memory = MemoryStore(clock=self.clock)
        self.store: Store = self.memory

    async def elapse(self, seconds: float) -> None:
        self.clock.advance(seconds)

    async def ttl(self, key: str) -> float | None:
        return self.memory.ttl(key)

    async def raw(self, key: str) -> str | None:
        return self.memory.raw(key)

    async def keys(self) -> list[str]:
        return self.memory.keys()


class RedisHarness:
    kind = "redis"

    def __init__(self, redis_store: RedisStore) -> None:
        self.redis_store = redis_store
        self.store: Store = redis_store
        self.client = redis_store.client

    async def elapse(self, seconds: float) -> None:
        """Redis keeps real time; shortening every TTL by `seconds` is the same as that much time passing."""
        shift = round(seconds * 1000)
        async for key in self.client.scan_iter("*"):
            left = await self.client.pttl(key)
            if left < 0:  # -1: no TTL (none of ours), -2: already gone
                continue
            if left <= shift:
                await self.client.delete(key)
            else:
                await self.client.pexpire(key, left - shift)

    async def ttl(self, key: str) -> float | None:
        left = await self.client.pttl(key)
        if left == -2:
            return None
        return float("inf") if left == -1 else left / 1000

    async def raw(self, key: str) -> str | None:
        value: Any = await self.client.get(key)
        return value if value is None else str(value)

    async def keys(self) -> list[str]:
        return sorted([str(key) async for key in self.client.scan_iter("*")])


@pytest.fixture(params=STORE_KINDS)
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield MemoryHarness()
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    redis_store = RedisStore.from_url(server.url)
    await redis_store.client.flushdb()
    try:
        yield RedisHarness(redis_store)
    finally:
        await redis_store.close()


async def start_gateway_with_store(
    media_port: int, store: Store | None = None, *, wait_media: bool = True, **options: Any
) -> Gateway:
    """tests/gateway's start_gateway, with a store of the test's making (None: the settings decide)."""
    settings = make_settings(**options.pop("settings", {}))
    media = MediaClient("127.0.0.1", media_port, reconnect_min=0.05, reconnect_max=0.2, request_timeout=5.0)
    app = create_app(settings, media=media, store=store, credentials=_CREDENTIALS, **options)
    server = TestServer(app)
    await server.start_server()
    gateway = Gateway(server)
    if wait_media:
        assert await gateway.media.wait_connected(10), "gateway never connected to the media server"
    return gateway

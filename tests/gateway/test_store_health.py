"""gateway_store_connected follows a real redis-server going away and coming back; the embedded store is 1."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import pytest
from prometheus_client import CollectorRegistry, Gauge

from signaling_gateway.store import MemoryStore, RedisStore
from signaling_gateway.store_health import PING_TIMEOUT_S, watch_store
from tests.store.redis_server import redis_server_installed, start_redis_server
from tests.waits import until


def gauge() -> Gauge:
    return Gauge("gateway_store_connected", "test", ["store"], registry=CollectorRegistry())


def value(metric: Gauge, store: str) -> float:
    return metric.labels(store=store)._value.get()


async def test_the_embedded_store_counts_as_connected() -> None:
    metric = gauge()
    task = asyncio.create_task(watch_store(MemoryStore(), metric, interval=0.05))
    try:
        await until("memory store reported", lambda: value(metric, "memory") == 1)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.skipif(not redis_server_installed(), reason="needs redis-server (scripts/test)")
async def test_redis_going_down_and_up_again_shows_in_the_gauge() -> None:
    server = start_redis_server()
    store = RedisStore.from_url(server.url)
    metric = gauge()
    metric.labels(store="redis").set(-1)  # so "1" below is the watcher's doing
    task = asyncio.create_task(watch_store(store, metric, interval=0.05))
    try:
        await until("redis up", lambda: value(metric, "redis") == 1)
        # A Redis that hangs rather than refuses (the worse case): the ping's own timeout must say so.
        server.process.send_signal(signal.SIGSTOP)
        await until("redis hanging", lambda: value(metric, "redis") == 0, timeout=PING_TIMEOUT_S + 5)
        server.process.send_signal(signal.SIGCONT)
        await until("redis back", lambda: value(metric, "redis") == 1, timeout=15)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        server.process.send_signal(signal.SIGCONT)
        await store.close()
        server.stop()

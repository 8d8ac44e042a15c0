"""Heartbeats into Redis: this media server's address and load, every HEARTBEAT_S, gone NODE_TTL_S after it stops."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from . import control_protocol as proto

log = structlog.get_logger(__name__)


class LoadMeter:
    """CPU share and datagrams sent per second between two heartbeats (of this process)."""

    def __init__(self, packets: Callable[[], int]) -> None:
        self._packets = packets
        self._last = (time.monotonic(), time.process_time(), packets())

    def sample(self) -> tuple[float, float]:
        now, cpu, packets = time.monotonic(), time.process_time(), self._packets()
        wall = max(now - self._last[0], 1e-6)
        cpu_percent = (cpu - self._last[1]) / wall * 100
        pps = (packets - self._last[2]) / wall
        self._last = (now, cpu, packets)
        return round(cpu_percent, 1), round(pps, 1)


class NodeRegistry:
    """Writes `record()` under this node's key until closed; a Redis outage is logged and retried, never fatal."""

    def __init__(self, redis_url: str, node_id: str, record: Callable[[], proto.NodeRecord]) -> None:
        self._redis = Redis.from_url(redis_url, socket_timeout=proto.HEARTBEAT_S)
        self._key = proto.NODE_KEY_PREFIX + node_id
        self._record = record
        self._task: asyncio.Task[None] | None = None
        self.beats = 0

    async def start(self) -> None:
        await self.beat()  # registered before the first room could be placed here
        self._task = asyncio.create_task(self._run(), name="node-registry")

    async def beat(self) -> None:
        try:
            await self._redis.set(self._key, self._record().to_json(), ex=proto.NODE_TTL_S)
            self.beats += 1
        except (RedisError, OSError) as exc:
            log.warning("registry_heartbeat_failed", key=self._key, error=str(exc))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(proto.HEARTBEAT_S)
            await self.beat()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(self._key)  # gone now, not NODE_TTL_S from now
        await self._redis.aclose()

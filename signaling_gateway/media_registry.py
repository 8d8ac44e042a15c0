"""MEDIA_SERVER_URL=redis: media servers found by their heartbeats in Redis, rooms placed once across gateways.

`NodeDirectory` keeps a MediaPool's nodes in step with the registry (a control link per live node, removed when
its key expires, its load refreshed each poll); `RedisPlacement` is the room -> node map, written with SET NX so
two gateways creating one room at the same moment place it once, and re-placed atomically when its node is gone.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import NodeRecord

from .media_api import MediaUnavailable
from .media_client import MediaClient
from .media_pool import MOVE_AFTER_S, MediaPool

log = structlog.get_logger(__name__)

POLL_S = 1.0
# Replace the holder only if it is still the one we saw gone: another gateway may have re-placed it already.
_REPLACE = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return ARGV[2]
end
return current
"""


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode() if isinstance(raw, bytes) else raw


class RedisPlacement:
    """The shared room -> node map (media_pool.SharedPlacement)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def holder(self, room_id: str) -> str | None:
        try:
            return _text(await self._redis.getex(cp.ROOM_KEY_PREFIX + room_id, ex=cp.ROOM_TTL_S))
        except (RedisError, OSError) as exc:
            raise MediaUnavailable(f"the room registry is unreachable: {exc}") from exc

    async def claim(self, room_id: str, node_id: str, live: set[str]) -> str:
        key = cp.ROOM_KEY_PREFIX + room_id
        try:
            if await self._redis.set(key, node_id, nx=True, ex=cp.ROOM_TTL_S):
                return node_id
            current = _text(await self._redis.get(key))
            if current is not None and current in live:
                return current  # another gateway placed it, on a node that lives: there it is
            # Its node is gone (or the key just expired): take it over, unless someone else did first.
            replaced = await self._redis.eval(_REPLACE, 1, key, current or "", node_id, cp.ROOM_TTL_S)
            return _text(replaced) or node_id
        except (RedisError, OSError) as exc:
            raise MediaUnavailable(f"the room registry is unreachable: {exc}") from exc


async def live_nodes(redis: Redis) -> dict[str, NodeRecord]:
    """Every node whose heartbeat has not expired."""
    keys = [key async for key in redis.scan_iter(match=cp.NODE_KEY_PREFIX + "*", count=100)]
    if not keys:
        return {}
    records = [NodeRecord.from_json(raw) for raw in await redis.mget(keys) if raw is not None]
    return {record.node_id: record for record in records if record is not None}


class NodeDirectory:
    """Polls the registry every POLL_S and adds, refreshes and removes the pool's nodes to match."""

    def __init__(self, redis: Redis, pool: MediaPool, *, poll: float = POLL_S) -> None:
        self._redis = redis
        self._pool = pool
        self._poll = poll
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # the first poll is done

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="media-node-directory")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except (RedisError, OSError) as exc:
                log.warning("media_registry_unreachable", error=str(exc))  # nodes stay as they were
            self.ready.set()
            await asyncio.sleep(self._poll)

    async def refresh(self) -> None:
        records = await live_nodes(self._redis)
        for node_id, record in records.items():
            node = self._pool.node_by_id(node_id)
            if node is None:
                await self._pool.add_node(node_id, MediaClient(record.control_host, record.control_port), record)
            elif node.address != f"tcp://{record.control_host}:{record.control_port}":
                await self._pool.remove_node(node)  # the same id at another address: a new process
                await self._pool.add_node(node_id, MediaClient(record.control_host, record.control_port), record)
            else:
                self._pool.set_record(node, record)
        for node in list(self._pool.nodes):
            if self._pool.id_of(node) not in records:
                await self._pool.remove_node(node)


class RegistryPool(MediaPool):
    """A MediaPool whose nodes are the registry's: started with its directory, placing through Redis."""

    def __init__(self, redis_url: str, *, poll: float = POLL_S, move_after: float = MOVE_AFTER_S) -> None:
        self._redis = Redis.from_url(redis_url, socket_timeout=5.0)
        super().__init__([], shared=RedisPlacement(self._redis), move_after=move_after)
        self.directory = NodeDirectory(self._redis, self, poll=poll)

    async def start(self) -> None:
        await self.directory.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.directory.ready.wait(), 10)  # the nodes known before the first meeting

    async def close(self) -> None:
        await self.directory.close()
        await super().close()
        await self._redis.aclose()

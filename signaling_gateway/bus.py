"""The gateways' shared event bus: meeting events one gateway publishes and every other gateway receives.

With one gateway (the embedded store) the bus is local and carries nothing. With Redis every gateway publishes
on one pub/sub channel and reads it; each event names its meeting and its sender, and a gateway acts on an
event only for the sockets it holds. One channel rather than one per meeting: events are rare (joins, leaves,
device toggles, host actions; never media), and a subscription made at start-up cannot race a join.
Each gateway also keeps a presence key alive, so the others can tell whether a participant's gateway is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import Callable
from typing import Any, Final, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

CHANNEL: Final = "gateway:events"
PRESENCE_TTL_S: Final = 15.0
PRESENCE_INTERVAL_S: Final = 5.0
# Events are a few hundred bytes; a bigger one is not ours (or would be a message no client should get).
MAX_EVENT_BYTES: Final = 64 * 1024
# Published events wait here while Redis is slow; past this they are dropped (and counted), not buffered forever.
MAX_PENDING: Final = 10_000
RETRY_S: Final = 1.0

# (event) -> None, called for every event another gateway published.
EventHandler = Callable[[dict[str, Any]], None]


def new_gateway_id() -> str:
    return f"{socket.gethostname()}-{secrets.token_hex(3)}"


def presence_key(gateway_id: str) -> str:
    return f"gateway:alive:{gateway_id}"


class Bus(Protocol):
    gateway_id: str
    # Events lost since start: dropped on the way out (Redis too slow) or rejected on the way in (malformed).
    dropped: int
    rejected: int

    @property
    def connected(self) -> bool:
        """Subscribed to the other gateways' events (always, for a gateway alone)."""

    def publish(self, event: dict[str, Any]) -> None:
        """Queue an event for the other gateways; never blocks, order kept."""

    def on_event(self, handler: EventHandler) -> None: ...

    async def alive(self, gateway_id: str) -> bool:
        """Whether that gateway still runs (this one always does)."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalBus:
    """One gateway: nobody to tell, and the only live gateway is this one."""

    def __init__(self, gateway_id: str | None = None) -> None:
        self.gateway_id = gateway_id or new_gateway_id()
        self.dropped = 0
        self.rejected = 0

    @property
    def connected(self) -> bool:
        return True

    def publish(self, event: dict[str, Any]) -> None:
        pass

    def on_event(self, handler: EventHandler) -> None:
        pass

    async def alive(self, gateway_id: str) -> bool:
        return gateway_id == self.gateway_id

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class RedisBus:
    """Redis pub/sub on CHANNEL; a reader task and a writer task that reconnect on their own."""

    def __init__(self, url: str, gateway_id: str | None = None) -> None:
        self.gateway_id = gateway_id or new_gateway_id()
        self.dropped = 0
        self.rejected = 0
        self._redis = Redis.from_url(url, decode_responses=True, socket_connect_timeout=5.0,
                                     health_check_interval=30)
        self._pending: asyncio.Queue[str] = asyncio.Queue(MAX_PENDING)
        self._handlers: list[EventHandler] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.subscribed = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self.subscribed.is_set()

    def publish(self, event: dict[str, Any]) -> None:
        try:
            self._pending.put_nowait(json.dumps({**event, "from": self.gateway_id}, separators=(",", ":")))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("bus_event_dropped", op=event.get("op"), dropped=self.dropped)

    def on_event(self, handler: EventHandler) -> None:
        self._handlers.append(handler)

    async def alive(self, gateway_id: str) -> bool:
        if gateway_id == self.gateway_id:
            return True
        try:
            return bool(await self._redis.exists(presence_key(gateway_id)))
        except RedisError:
            return True  # unknown: assume alive, so nobody departs a participant its gateway still holds

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._read(), name="bus-reader"),
                       asyncio.create_task(self._write(), name="bus-writer"),
                       asyncio.create_task(self._keep_presence(), name="bus-presence")]
        # Subscribed before the first socket is admitted: no event of a meeting we hold can pass unseen.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), 5.0)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, RedisError):
                await task
        with contextlib.suppress(RedisError):
            await self._redis.delete(presence_key(self.gateway_id))
        await self._redis.aclose()

    async def _read(self) -> None:
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        self._dispatch(message.get("data"))
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("bus_read_failed", error=str(exc))
                await asyncio.sleep(RETRY_S)

    def _dispatch(self, data: object) -> None:
        event = parse_event(data)
        if event is None:
            self.rejected += 1
            log.warning("bus_event_rejected", rejected=self.rejected)
            return
        if event["from"] == self.gateway_id:
            return  # our own, already delivered here
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:  # one bad event must not stop the reader for every meeting
                log.exception("bus_handler_failed", op=event.get("op"))

    async def _write(self) -> None:
        while True:
            text = await self._pending.get()
            while True:
                try:
                    await self._redis.publish(CHANNEL, text)
                    break
                except (RedisError, OSError) as exc:
                    log.warning("bus_publish_failed", error=str(exc))
                    await asyncio.sleep(RETRY_S)

    async def _keep_presence(self) -> None:
        while True:
            with contextlib.suppress(RedisError, OSError):
                await self._redis.set(presence_key(self.gateway_id), "1", px=int(PRESENCE_TTL_S * 1000))
            await asyncio.sleep(PRESENCE_INTERVAL_S)


def parse_event(data: object) -> dict[str, Any] | None:
    """An event as published by a gateway (a JSON object with string `op`, `meeting` and `from`), else None."""
    if not isinstance(data, str) or len(data) > MAX_EVENT_BYTES:
        return None
    try:
        event = json.loads(data)
    except (ValueError, RecursionError):  # deep nesting fits well within MAX_EVENT_BYTES
        return None
    if not isinstance(event, dict):
        return None
    if not all(isinstance(event.get(key), str) for key in ("op", "meeting", "from")):
        return None
    return event

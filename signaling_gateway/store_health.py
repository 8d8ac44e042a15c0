"""Whether the gateway's store answers: a PING every few seconds sets the gauge that /metrics exports."""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import Gauge

from .store import RedisStore, Store, StoreUnavailable

log = structlog.get_logger(__name__)

PING_INTERVAL_S = 5.0
PING_TIMEOUT_S = 2.0


def store_kind(store: Store) -> str:
    return "redis" if isinstance(store, RedisStore) else "memory"


async def ping(store: Store) -> bool:
    if not isinstance(store, RedisStore):
        return True  # the embedded store lives in this process: it is there as long as we are
    try:
        await asyncio.wait_for(store.ping(), PING_TIMEOUT_S)
    except (StoreUnavailable, TimeoutError):
        return False
    return True


async def watch_store(store: Store, gauge: Gauge, interval: float = PING_INTERVAL_S) -> None:
    """Runs until cancelled: 1 while the store answers, 0 while it does not (a change is logged)."""
    child = gauge.labels(store=store_kind(store))
    up: bool | None = None
    while True:
        now_up = await ping(store)
        child.set(1 if now_up else 0)
        if up is not None and now_up != up:
            log.warning("store_connection", store=store_kind(store), connected=now_up)
        up = now_up
        await asyncio.sleep(interval)

"""Throttling of /login: per address and per account, a growing delay after a few failures, then a lockout;
and at most a few argon2 verifications (64 MiB each) at once."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from prometheus_client import Counter

from .limit_settings import LimitSettings

log = structlog.get_logger(__name__)

# Addresses and account names an attacker can invent: the table keeps the most recent ones.
MAX_RECORDS = 10_000


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    """An attempt counts as a failure from the moment it starts, so fifty at once are not fifty tries."""

    def __init__(self, settings: LimitSettings, refusals: Counter,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._refusals = refusals
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._argon2 = asyncio.Semaphore(settings.login_concurrency)

    @staticmethod
    def keys(address: str, username: str) -> tuple[str, str]:
        return f"address:{address}", f"account:{username.strip().casefold()[:200]}"

    def _record(self, key: str, now: float) -> _Record:
        record = self._records.get(key)
        # Failures are forgotten a lockout's length after the last one (and after any block ran out).
        if record is not None and now - max(record.last, record.blocked_until) >= self._settings.login_lockout:
            record = None
        if record is None:
            record = _Record()
            self._records[key] = record
            while len(self._records) > MAX_RECORDS:
                self._records.popitem(last=False)
        self._records.move_to_end(key)
        return record

    def retry_after(self, keys: tuple[str, ...]) -> float:
        """0 when an attempt may be made now, else the seconds until one may."""
        now = self._clock()
        wait = max(self._record(key, now).blocked_until - now for key in keys)
        if wait > 0:
            self._refusals.labels(limit="login").inc()
            return wait
        return 0.0

    def attempt(self, keys: tuple[str, ...]) -> None:
        """An attempt starts: a failure unless `succeeded` follows; the next one may have to wait."""
        settings = self._settings
        now = self._clock()
        for key in keys:
            record = self._record(key, now)
            record.failures += 1
            record.last = now
            if record.failures >= settings.login_max_failures:
                record.blocked_until = now + settings.login_lockout
                log.warning("login_locked_out", key=key.split(":", 1)[0], seconds=settings.login_lockout)
            elif record.failures >= settings.login_free_failures:
                doubling = 2.0 ** (record.failures - settings.login_free_failures)
                record.blocked_until = now + min(settings.login_lockout, settings.login_delay * doubling)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._records.pop(key, None)

    async def verify(self, check: Callable[[], Awaitable[bool]]) -> bool:
        """Run the password check when a slot is free: memory stays at a few argon2 buffers, whatever comes."""
        async with self._argon2:
            return await check()

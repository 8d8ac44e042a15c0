"""Token buckets: one for a single stream of requests, and a bounded table of them keyed by a client's address."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """`per_second` tokens come back each second, up to `burst` saved."""

    per_second: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError(f"a rate needs per_second > 0 and burst >= 1, got {self}")


class TokenBucket:
    """Starts full; `take()` spends one token when there is one."""

    __slots__ = ("_clock", "_stamp", "_tokens", "rate")

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._tokens = rate.burst
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.rate.burst, self._tokens + (now - self._stamp) * self.rate.per_second)
        self._stamp = now
        return self._tokens

    def take(self, cost: float = 1.0) -> bool:
        if self._refill() >= cost:
            self._tokens -= cost
            return True
        return False

    def retry_after(self, cost: float = 1.0) -> float:
        """Seconds until `take(cost)` would succeed (0 when it would now)."""
        missing = cost - self._refill()
        return max(0.0, missing / self.rate.per_second)

    @property
    def full(self) -> bool:
        return self._refill() >= self.rate.burst


class KeyedBuckets:
    """One bucket per key (a client address), at most `max_keys` of them.

    A full bucket carries no information, so dropping it loses nothing; when the table is full of busy keys the
    least recently used goes, which is what an attacker rotating addresses could force anyway.
    """

    def __init__(self, rate: Rate, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def _bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._prune()
            bucket = self._buckets[key] = TokenBucket(self.rate, self._clock)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def _prune(self) -> None:
        for key in [k for k, b in self._buckets.items() if b.full]:
            del self._buckets[key]
        while len(self._buckets) >= self._max_keys:
            self._buckets.popitem(last=False)

    def take(self, key: str) -> bool:
        return self._bucket(key).take()

    def retry_after(self, key: str) -> float:
        return self._bucket(key).retry_after()

    def __len__(self) -> int:
        return len(self._buckets)

"""HTTP abuse limits: the client's address (behind a trusted proxy too) and POST /join's rate per address."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import Counter

from .token_bucket import KeyedBuckets, Rate


def client_address(request: web.Request, trust_forwarded_for: bool) -> str:
    """The peer's address; behind a reverse proxy (TRUST_FORWARDED_FOR), the one the proxy appended.

    Only the last X-Forwarded-For entry is the proxy's own observation: a client can write any earlier ones.
    """
    if trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.remote or "unknown"


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class JoinLimiter:
    """POST /join per client address: each success mints a guest token, so a script could mint thousands."""

    def __init__(self, rate: Rate, refusals: Counter, *, trust_forwarded_for: bool,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets = KeyedBuckets(rate, clock=clock)
        self._refusals = refusals
        self._trust = trust_forwarded_for

    def retry_after(self, request: web.Request) -> float:
        """0 when this join may go ahead (and it is counted), else the seconds to wait."""
        address = client_address(request, self._trust)
        if self._buckets.take(address):
            return 0.0
        self._refusals.labels(limit="join_rate").inc()
        return self._buckets.retry_after(address)

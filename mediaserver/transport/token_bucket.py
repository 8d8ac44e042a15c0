"""A token bucket: how often one peer may make the server do something (parse its RTCP, bring in a new SSRC).

A browser sends a compound RTCP packet about once a second per connection, plus NACKs and PLIs on loss: tens a
second at worst. Parsing a NACK that names 512 numbers costs 100-200 us; 800 of them a second from one hostile
subscriber took a fifth of a core. Pure: the caller passes the time.
"""

from __future__ import annotations

from typing import Final

RTCP_PER_S: Final = 100.0
RTCP_BURST: Final = 100.0


class TokenBucket:
    __slots__ = ("_at", "_tokens", "burst", "dropped", "rate")

    def __init__(self, rate: float, burst: float, now: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst
        self.dropped = 0
        self._tokens = burst
        self._at = now

    def allow(self, now: float) -> bool:
        tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if tokens < 1.0:
            self._tokens = tokens
            self.dropped += 1
            return False
        self._tokens = tokens - 1.0
        return True

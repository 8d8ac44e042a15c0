"""The token bucket behind the RTCP limits: a burst, then the rate, drops counted."""

from __future__ import annotations

from mediaserver.transport.token_bucket import TokenBucket


def test_a_burst_then_the_rate_and_drops_are_counted() -> None:
    # Rate 8/s and times in eighths of a second: exact in binary floating point.
    bucket = TokenBucket(rate=8.0, burst=5.0, now=0.0)
    assert [bucket.allow(0.0) for _ in range(7)] == [True] * 5 + [False] * 2
    assert bucket.dropped == 2
    assert not bucket.allow(0.0625)  # half a token back
    assert bucket.allow(0.125)
    # One second at 8/s, asked 4 times per token: 8 allowed, 24 dropped.
    assert sum(bucket.allow(0.125 + i / 32) for i in range(1, 33)) == 8
    # A long quiet never banks more than the burst.
    assert sum(bucket.allow(100.0) for _ in range(10)) == 5

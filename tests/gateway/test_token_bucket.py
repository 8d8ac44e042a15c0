"""Token buckets on a test clock: the burst, the refill, retry_after, and the bounded table per address."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling_gateway.token_bucket import KeyedBuckets, Rate, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_one_token_per_interval() -> None:
    clock = Clock()
    bucket = TokenBucket(Rate(2, 3), clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take()
    assert not bucket.take()
    clock.now += 100
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]  # never more than the burst saved


def test_rates_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Rate(0, 5)
    with pytest.raises(ValueError):
        Rate(1, 0)


@given(st.lists(st.floats(min_value=0, max_value=5), max_size=60), st.floats(0.1, 50), st.integers(1, 30))
def test_tokens_taken_never_exceed_burst_plus_refill(gaps: list[float], per_second: float, burst: int) -> None:
    clock = Clock()
    bucket = TokenBucket(Rate(per_second, burst), clock)
    taken = 0
    for gap in gaps:
        clock.now += gap
        taken += bucket.take()
    assert taken <= burst + per_second * sum(gaps) + 1e-6


def test_keyed_buckets_are_per_key_and_bounded() -> None:
    clock = Clock()
    table = KeyedBuckets(Rate(1, 2), max_keys=3, clock=clock)
    assert table.take("a") and table.take("a") and not table.take("a")
    assert table.take("b")  # another address has its own bucket
    for key in ("c", "d", "e", "f"):
        table.take(key)
    assert len(table) <= 3

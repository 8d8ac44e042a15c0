"""LoginThrottle on a test clock: free failures, the doubling delay, the lockout, per address and per account."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter

from signaling_gateway.limit_settings import LimitSettings
from signaling_gateway.login_throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(clock: Clock, **limits: float) -> LoginThrottle:
    settings = LimitSettings(**{"login_free_failures": 3, "login_delay": 1.0, "login_max_failures": 6,
                                "login_lockout": 60.0, **limits})  # type: ignore[arg-type]
    counter = Counter("refusals", "test", ["limit"], registry=CollectorRegistry())
    return LoginThrottle(settings, counter, clock)


def test_the_delay_doubles_after_the_free_failures_then_the_account_locks() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    keys = throttle.keys("10.0.0.1", "host")
    waits = []
    for _ in range(6):
        assert throttle.retry_after(keys) == 0
        throttle.attempt(keys)
        waits.append(throttle.retry_after(keys))
        clock.now += waits[-1]
    assert waits == [0, 0, 1, 2, 4, 60]


def test_the_account_is_throttled_from_another_address_and_the_address_for_another_account() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    for _ in range(3):
        throttle.attempt(throttle.keys("10.0.0.1", "host"))
    assert throttle.retry_after(throttle.keys("10.0.0.2", "HOST ")) > 0  # same account, any case
    assert throttle.retry_after(throttle.keys("10.0.0.1", "other")) > 0  # same address
    assert throttle.retry_after(throttle.keys("10.0.0.2", "other")) == 0


def test_success_forgets_and_old_failures_are_forgotten() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    keys = throttle.keys("10.0.0.1", "host")
    throttle.attempt(keys)
    throttle.attempt(keys)
    throttle.succeeded(keys)
    throttle.attempt(keys)
    throttle.attempt(keys)
    assert throttle.retry_after(keys) == 0  # two failures since the success: still free
    clock.now += 61
    throttle.attempt(keys)
    assert throttle.retry_after(keys) == 0  # the earlier two were a lockout's length ago


def test_concurrent_attempts_count_before_they_finish() -> None:
    clock = Clock()
    throttle = _throttle(clock)
    keys = throttle.keys("10.0.0.1", "host")
    admitted = 0
    for _ in range(50):  # fifty requests arriving before any verification ends
        if throttle.retry_after(keys) == 0:
            throttle.attempt(keys)
            admitted += 1
    assert admitted == 3


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_at_most_the_configured_verifications_run_at_once(concurrency: int) -> None:
    throttle = _throttle(Clock(), login_concurrency=concurrency)
    running, peak = 0, 0

    async def check() -> bool:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return False

    await asyncio.gather(*(throttle.verify(check) for _ in range(10)))
    assert peak == concurrency

"""/login under attack: 50 wrong passwords meet 429s after a few, 50 concurrent verifications keep the gateway
under 150 MB (one argon2 at a time), and the right password works again once the window is over."""

from __future__ import annotations

import asyncio
import time

import pytest

from .harness import HOST_PASSWORD, MB, client, gateway_process, login, rss

ATTEMPTS = 50


async def test_50_wrong_passwords_are_throttled_and_the_right_one_works_after_the_window() -> None:
    async with gateway_process(LOGIN_FREE_FAILURES="3", LOGIN_DELAY="2", LOGIN_LOCKOUT="2") as gateway:
        async with client(gateway) as attacker:
            statuses = [(await login(attacker, "wrong")).status for _ in range(ATTEMPTS)]
            assert statuses[:3] == [401] * 3
            assert set(statuses[3:]) == {429}, statuses
            throttled = await login(attacker, "wrong")
            assert throttled.status == 429 and int(throttled.headers["Retry-After"]) <= 2
        async with client(gateway) as host:
            assert (await login(host)).status == 429  # the right password waits for the window too
            deadline = time.monotonic() + 6
            while (response := await login(host)).status == 429:
                assert time.monotonic() < deadline, "still throttled after the window"
                await asyncio.sleep(0.2)
            assert response.status == 302


@pytest.mark.slow
async def test_50_concurrent_verifications_keep_the_gateway_under_150_mb() -> None:
    # Each attempt from its own address (the proxy's header, trusted here) and account, so none is throttled:
    # all fifty reach argon2, and only the semaphore stands between them and 50 x 64 MiB.
    async with gateway_process(TRUST_FORWARDED_FOR="1") as gateway:
        pid = gateway.process.pid
        peak = rss(pid)
        done = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss(pid))
                await asyncio.sleep(0.01)

        sampler = asyncio.create_task(sample())
        async with client(gateway) as attacker:
            responses = await asyncio.gather(*(
                login(attacker, "wrong", username=f"user{i}", headers={"X-Forwarded-For": f"10.9.0.{i}"})
                for i in range(ATTEMPTS)))
            done.set()
            await sampler
            assert [r.status for r in responses] == [401] * ATTEMPTS
            print(f"gateway RSS peak during {ATTEMPTS} concurrent logins: {peak / MB:.0f} MB")
            assert peak < 150 * MB
            assert (await login(attacker, HOST_PASSWORD, headers={"X-Forwarded-For": "10.9.1.1"})).status == 302

"""Waiting on a condition with a deadline (never sleep-and-hope), for async tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(what: str, check: Callable[[], object], timeout: float = 10.0, interval: float = 0.05) -> None:
    """Poll `check` until it is truthy; fails with `what` after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"{what} (after {timeout} s)"
        await asyncio.sleep(interval)

"""The two DigitalOcean API calls the autoscaler needs (droplet status, power actions), with retries.

Documented endpoints (api.digitalocean.com/v2): GET /droplets/{id} -> {"droplet": {"status": ...}};
POST /droplets/{id}/actions {"type": "power_on"|"power_off"} -> {"action": {"id", "status"}};
GET /droplets/{id}/actions/{action_id} -> {"action": {"status": "in-progress"|"completed"|"errored"}}.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

DEFAULT_API = "https://api.digitalocean.com"
RETRIES = 4
BACKOFF_S = 1.0


class ApiError(RuntimeError):
    """The API refused the request, or did not answer after the retries."""


class DropletApi:
    def __init__(self, session: aiohttp.ClientSession, token: str, droplet_id: int, base_url: str = DEFAULT_API,
                 timeout_s: float = 10.0, backoff_s: float = BACKOFF_S) -> None:
        self._session = session
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._droplet = f"{base_url.rstrip('/')}/v2/droplets/{droplet_id}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._backoff_s = backoff_s
        self.errors = 0

    async def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request; 429, 5xx, timeouts and refused connections are retried with a doubling delay."""
        delay = self._backoff_s
        last = "no attempt"
        for attempt in range(RETRIES):
            try:
                async with self._session.request(method, url, json=body, headers=self._headers,
                                                 timeout=self._timeout) as response:
                    if response.status < 300:
                        data: dict[str, Any] = await response.json()
                        return data
                    last = f"HTTP {response.status}: {(await response.text())[:200]}"
                    if response.status != 429 and response.status < 500:
                        raise ApiError(last)  # our request is wrong: retrying will not help
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            self.errors += 1
            if attempt < RETRIES - 1:
                await asyncio.sleep(delay)
                delay *= 2
        raise ApiError(f"{method} {url}: {last}")

    async def is_active(self) -> bool:
        data = await self._call("GET", self._droplet)
        return data.get("droplet", {}).get("status") == "active"

    async def power(self, action: str, settle_timeout_s: float = 300.0, poll_s: float = 5.0) -> str:
        """Start a power action and wait for it to finish; returns its final status."""
        started = await self._call("POST", f"{self._droplet}/actions", {"type": action})
        action_id = started.get("action", {}).get("id")
        if action_id is None:
            raise ApiError(f"{action}: the answer named no action")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settle_timeout_s
        while True:
            data = await self._call("GET", f"{self._droplet}/actions/{action_id}")
            status = str(data.get("action", {}).get("status"))
            if status != "in-progress" or loop.time() > deadline:
                return status
            await asyncio.sleep(poll_s)

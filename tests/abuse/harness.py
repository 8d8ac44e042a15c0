"""The abuse tests' attacker: a real `python -m signaling_gateway`, aiohttp clients, and the gateway's RSS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from tests.gateway.gateway_process import GatewayProcess, start_gateway_process

HOST_PASSWORD = "correct horse battery staple"
MB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident memory of one process (not its media-server child), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@asynccontextmanager
async def gateway_process(**env: str) -> AsyncIterator[GatewayProcess]:
    gateway = await asyncio.to_thread(start_gateway_process, {"HOST_PASSWORD": HOST_PASSWORD, **env})
    try:
        yield gateway
    finally:
        await asyncio.to_thread(gateway.stop)


def client(gateway: GatewayProcess) -> aiohttp.ClientSession:
    # unsafe: keep cookies for 127.0.0.1 (aiohttp drops cookies of bare IP addresses otherwise).
    return aiohttp.ClientSession(gateway.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 connector=aiohttp.TCPConnector(limit=0))


async def login(session: aiohttp.ClientSession, password: str = HOST_PASSWORD, username: str = "host",
                headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    response = await session.post("/login", data={"username": username, "password": password},
                                  allow_redirects=False, headers=headers)
    await response.read()
    return response


async def create_meeting(host: aiohttp.ClientSession) -> str:
    response = await login(host)
    assert response.status == 302, await response.text()
    created = await host.post("/api/meetings")
    assert created.status == 201, await created.text()
    return str((await created.json())["id"])


async def join(session: aiohttp.ClientSession, meeting_id: str, name: str = "Guest") -> None:
    response = await session.post(f"/join/{meeting_id}", data={"name": name}, allow_redirects=False)
    assert response.status == 302, await response.text()


async def first_message(ws: aiohttp.ClientWebSocketResponse, timeout: float = 20.0) -> dict[str, Any]:
    while True:
        message = await ws.receive(timeout=timeout)
        if message.type != aiohttp.WSMsgType.TEXT:
            return {"type": "closed", "close_code": ws.close_code}
        data: dict[str, Any] = message.json()
        if data["type"] != "ping":
            return data


async def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s: {what}")
        await asyncio.sleep(0.05)


async def metric(gateway: GatewayProcess, line_start: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(gateway.base_url + "/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith(line_start + " "):
                return float(line.rsplit(" ", 1)[1])
    return 0.0

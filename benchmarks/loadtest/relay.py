"""Target `aiortc-relay`: the same bots against aiortc + MediaRelay (benchmarks/loadtest/aiortc_relay.py).

aiortc cannot receive simulcast and decodes what it receives, so these bots publish one untagged layer (h,
640x360) that stays decodable; latency cannot be read from re-encoded payloads and is not reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from . import child_process
from .config import RunConfig
from .endpoint import CONNECT_TIMEOUT_S, MediaEndpoint, Shared
from .sdp import parse_publisher_answer

RELAY_LAYER = 1  # h: 640x360, ~500 kbit/s, like the single-layer peer measurement in DESIGN.md §4


class RelayProcess:
    """`python -m benchmarks.loadtest.aiortc_relay` on a free loopback port."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.log_path = Path(tempfile.mkstemp(prefix="loadtest-relay-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.loadtest.aiortc_relay", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
            )
        try:
            child_process.wait_ready(self.process, self.url + "/healthz", lambda h: bool(h.get("ok")), timeout)
        except child_process.NotReady as exc:
            self.stop()
            raise RuntimeError(f"aiortc relay {exc}: {self.log_path.read_text()[-2000:]}") from exc

    def stop(self) -> None:
        child_process.stop(self.process)


class RelayBot:
    def __init__(self, index: int, relay: RelayProcess, shared: Shared, loss: float, seed: int) -> None:
        self.index = index
        self.name = "host" if index == 0 else f"bot-{index:02d}"
        self.relay = relay
        self.media = MediaEndpoint(index, shared, loss, seed * 1000 + index, server_offers_full_ice=True,
                                   single_layer=RELAY_LAYER, tagged=False)
        shared.bot_of_participant[self.name] = index
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(self.relay.url + path, json=body) as response:
            response.raise_for_status()
            reply: dict[str, Any] = await response.json()
            return reply

    async def publish(self) -> None:
        reply = await self._post("/publish", {"name": self.name, "sdp": self.media.publisher_offer(self.name)})
        remote, _ = parse_publisher_answer(reply["sdp"])
        self.media.on_publisher_answer(remote, [])
        if not await self.media.publisher.wait_connected(CONNECT_TIMEOUT_S):
            raise RuntimeError(f"bot {self.index}: relay publisher connection not up ({self.media.publisher.state})")

    async def subscribe(self, publishers: list[str]) -> None:
        offer = await self._post("/subscribe", {"publishers": publishers})
        answer = self.media.on_subscriber_offer(offer["sdp"], {str(k): str(v) for k, v in offer["mids"].items()})
        await self._post("/answer", {"id": offer["id"], "sdp": answer})

    async def close(self) -> None:
        self.media.close()
        await self.http.close()


class RelayTarget:
    name = "aiortc-relay"

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.server = RelayProcess()
        self.bots: list[RelayBot] = []
        self.notes = [
            "aiortc relay: bots publish one untagged 640x360 layer (no simulcast); the relay decodes and re-encodes,"
            " so added latency is not measured and packets_forwarded is what the bots received",
        ]

    @property
    def endpoints(self) -> list[MediaEndpoint]:
        return [bot.media for bot in self.bots]

    async def join(self, shared: Shared) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.server.start)
        self.bots = [RelayBot(i, self.server, shared, self.config.loss_for(i), self.config.seed)
                     for i in range(self.config.participants)]
        shared.video_prefs = "not applicable: one layer, re-encoded per subscriber"
        for bot in self.bots:
            await bot.publish()
        for bot in self.bots:
            await bot.subscribe([b.name for b in self.bots if b is not bot])

    def server_pids(self) -> list[int]:
        process = self.server.process
        return [] if process is None else [process.pid]

    async def server_counters(self) -> dict[str, int] | None:
        return None

    async def close(self) -> None:
        for bot in self.bots:
            with contextlib.suppress(Exception):
                await bot.close()
        await asyncio.get_running_loop().run_in_executor(None, self.server.stop)

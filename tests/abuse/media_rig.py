"""A victim call (4 load-generator bots on the real product) with one attacker beside it, and what to read after."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.loadtest.attacks import meeting_of
from benchmarks.loadtest.bot import GatewayBot
from benchmarks.loadtest.config import RunConfig
from benchmarks.loadtest.endpoint import Shared
from benchmarks.loadtest.media import load_media
from benchmarks.loadtest.runner import run
from tests.gateway.gateway_process import GatewayProcess, free_tcp_port, start_gateway_process

HOST_PASSWORD = "abuse-test-password"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "abuse"
# The victims: 4 bots measured for 15 s; the attack runs inside that window.
VICTIMS = RunConfig(participants=4, duration=15.0, warmup=1.0, join_timeout=20.0, progress=False,
                    host_password=HOST_PASSWORD)

Attack = Callable[[GatewayBot], Awaitable[Any]]


@dataclass
class Product:
    gateway: GatewayProcess
    metrics_url: str

    def media_metrics(self) -> dict[str, float]:
        """The media server's /metrics samples without labels (`name value` lines)."""
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            text = response.read().decode()
        samples: dict[str, float] = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if line and not line.startswith("#") and "{" not in name:
                samples[name] = float(value)
        return samples


@contextlib.contextmanager
def product(name: str) -> Iterator[Product]:
    metrics_port = free_tcp_port()
    gateway = start_gateway_process({"HOST_PASSWORD": HOST_PASSWORD, "MEDIA_WORKERS": "1",
                                     "MEDIA_METRICS_PORT": str(metrics_port)}, wait_media=True, timeout=30)
    try:
        yield Product(gateway, f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        gateway.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{name}.log").write_text(gateway.log())


async def victims_beside(target: Product, attack: Attack, start_after: float = 3.0) -> tuple[dict[str, Any], Any]:
    """The victims' report and the attack's result: the attacker joins the victims' meeting as a guest,
    publishes, and starts `start_after` seconds after its own media flows (the victims' window is open)."""
    config = replace(VICTIMS, url=target.gateway.base_url)

    async def attacker() -> Any:
        shared = Shared(media=load_media())
        meeting_id = await meeting_of(config.url, HOST_PASSWORD, shared)
        bot = GatewayBot(97, config.url, shared)
        try:
            await bot.join_guest(meeting_id)
            await bot.connect(meeting_id)
            assert await bot.wait_publishing(20), "the attacker never got a media connection"
            await asyncio.sleep(start_after)
            return await attack(bot)
        finally:
            await bot.close()

    report, result = await asyncio.gather(run(config), attacker())
    return report, result


def victim_delivery(report: dict[str, Any]) -> float:
    """Delivery over the tracks the victims publish to each other (the attacker's own tracks left out)."""
    rows = [row for row in report["tracks"] if 0 <= row["publisher_bot"] < report["participants"]]
    expected = sum(row["expected"] for row in rows)
    assert rows and expected > 0, "no victim track measured"
    return min(sum(row["received"] for row in rows) / expected, 1.0)


def keep(name: str, figures: dict[str, Any]) -> None:
    """The attack's figures, for the closing note and RESULTS.md (test-artifacts/abuse/NAME.json)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")

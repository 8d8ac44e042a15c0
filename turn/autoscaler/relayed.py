"""How many participants need a relay now: the sum of the gateways' `gateway_relayed_participants` gauges."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

METRIC = "gateway_relayed_participants"


def relayed_in(metrics_text: str) -> int:
    for family in text_string_to_metric_families(metrics_text):
        if family.name == METRIC:
            return int(sum(sample.value for sample in family.samples))
    raise ValueError(f"no {METRIC} in the metrics")


async def relayed_now(session: aiohttp.ClientSession, urls: list[str], timeout_s: float = 5.0) -> int:
    """Raises aiohttp.ClientError / ValueError when a gateway cannot be read: better no decision than a wrong one."""
    total = 0
    for url in urls:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            response.raise_for_status()
            total += relayed_in(await response.text())
    return total

"""50,000 made-up SSRCs from one publisher: dropped before libsrtp, the attacker cut off, the victims untouched."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from benchmarks.loadtest.attacks import ssrc_flood
from benchmarks.loadtest.bot import GatewayBot

from .media_rig import keep, product, victim_delivery, victims_beside

pytestmark = pytest.mark.slow

FLOOD_SSRCS = 50_000
FLOOD_S = 10.0


def test_fifty_thousand_ssrcs_from_one_publisher_do_not_reach_libsrtp_or_the_victims() -> None:
    with product("ssrc-flood") as target:
        samples: dict[str, dict[str, float]] = {}

        async def flood(bot: GatewayBot) -> tuple[int, dict[str, int]]:
            # The victims' call is up: from here on the media server's memory may only grow by the flood's cost.
            samples["before"] = await asyncio.to_thread(target.media_metrics)
            sent = await ssrc_flood(bot, FLOOD_SSRCS, FLOOD_S)
            samples["after"] = await asyncio.to_thread(target.media_metrics)
            return sent, dict(bot.shared.errors)

        report, (sent, errors) = uvloop.run(victims_beside(target, flood))
        before, after = samples["before"], samples["after"]
        log = target.gateway.log()

    keep("ssrc-flood", {"sent": sent, "before": before, "after": after, "victim_delivery": victim_delivery(report),
                        "latency_ms": report["latency_ms"]})
    assert sent >= FLOOD_SSRCS * 0.9, sent  # the attack ran for its 10 s, cut off or not
    assert errors.get("media_limit") == 1, errors  # the attacker was cut off and told why
    def dropped(name: str) -> float:
        return after[f"mediaserver_udp_{name}_total"] - before[f"mediaserver_udp_{name}_total"]

    # Dropped on the clear header, libsrtp never saw them: over the budget, then (the peer cut off for it)
    # from an address that no longer has a session.
    refused, orphaned = dropped("ssrc_refused"), dropped("srtp_unknown_source")
    # Dropped before libsrtp: over the budget, then, once the peer was cut off, from an address without a session.
    assert refused + orphaned >= sent * 0.99, (refused, orphaned, sent)
    assert refused >= 1000, refused
    assert victim_delivery(report) >= 0.999, report["delivery_worst_tracks"]
    assert report["tracks_receiving"] >= report["tracks_expected"], report["delivery_worst_tracks"]
    growth_mb = (after["mediaserver_resident_memory_bytes"] - before["mediaserver_resident_memory_bytes"]) / 1e6
    assert growth_mb < 5.0, growth_mb
    flood_lines = [line for line in log.splitlines() if "ssrc_bound" in line or "ssrc_budget_exceeded" in line]
    assert len(flood_lines) < 100, len(flood_lines)

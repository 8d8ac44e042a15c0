"""1,000 signalling messages a second from one guest for 10 s: throttled with a clear error, nobody else notices."""

from __future__ import annotations

from typing import Any

import pytest
import uvloop

from benchmarks.loadtest.attacks import message_flood

from .media_rig import keep, product, victim_delivery, victims_beside

pytestmark = pytest.mark.slow

FLOOD_S = 10.0


def test_a_message_flood_is_throttled_and_the_media_loop_and_the_victims_never_notice() -> None:
    with product("message-flood") as target:

        async def flood(bot: Any) -> dict[str, Any]:
            return await message_flood(bot, FLOOD_S)

        report, seen = uvloop.run(victims_beside(target, flood))
    lag = report["server_loop_lag_ms"]
    keep("message-flood", {**seen, "victim_delivery": victim_delivery(report), "loop_lag_ms": lag,
                           "latency_ms": report["latency_ms"]})
    assert seen["sent"] >= 200, seen  # it flooded (until the gateway closed its socket)
    assert seen.get("rate_limited", 0) > 0, seen  # told why, not silently dropped
    assert 4431 in seen["closed_with"], seen  # and cut off; coming straight back is refused for a while
    # The flood and the victims' bots share this machine's two cores with the media server, so its loop lags a
    # few ms behind at times (p99 in the 3-5 ms bucket in one CI run of many). What this guards against is the
    # flood reaching the media server's loop (control messages relayed to it), which stalls it for tens of ms.
    assert float(str(lag["p99"]).lstrip(">")) <= 10.0, lag
    assert victim_delivery(report) >= 0.999, report["delivery_worst_tracks"]

"""A subscriber NACKing 512 numbers 200 times a second: answered within its budget, the victims unaffected."""

from __future__ import annotations

from typing import Any

import pytest
import uvloop

from benchmarks.loadtest.attacks import nack_storm

from .media_rig import keep, product, victim_delivery, victims_beside

pytestmark = pytest.mark.slow

STORM_S = 10.0


def test_a_nack_storm_is_answered_within_budget_and_the_victims_never_notice() -> None:
    with product("nack-storm") as target:

        async def storm(bot: Any) -> dict[str, int]:
            return await nack_storm(bot, STORM_S)

        report, seen = uvloop.run(victims_beside(target, storm))
    keep("nack-storm", {**seen, "victim_delivery": victim_delivery(report), "latency_ms": report["latency_ms"]})

    assert seen["nacks"] >= 1000, seen  # the storm ran: 200 a second for each video track it gets
    assert seen["forwarded"] > 0 and seen["retransmitted"] > 0, seen  # it saw the answers it is owed
    # Unbounded, the issue measured 2,341x; bounded, copies stay within 1.5x of what it was forwarded.
    assert seen["retransmitted"] <= 1.5 * seen["forwarded"], seen
    assert victim_delivery(report) >= 0.999, report["delivery_worst_tracks"]
    assert report["latency_ms"]["p99"] < 10.0, report["latency_ms"]

"""Publisher offers with 120 and 500 m-lines: refused with a clear error; everyone else renegotiates as before."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import uvloop

from benchmarks.loadtest.attacks import big_offers
from benchmarks.loadtest.bot import GatewayBot
from benchmarks.loadtest.endpoint import Shared
from benchmarks.loadtest.media import load_media

from .media_rig import product, victim_delivery, victims_beside

pytestmark = pytest.mark.slow

LATE = 96  # the guest who joins after the attack: it must see the victims, and they it


async def _senders_seen(bot: GatewayBot, timeout: float) -> int:
    """How many other participants' video reaches `bot` (waits until the four victims' does, or `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = {t.publisher_id for t in bot.media.receiver.tracks.values() if t.video and t.received > 30}
        if len(seen) >= 4 or time.monotonic() > deadline:
            return len(seen)
        await asyncio.sleep(0.1)


def test_offers_with_hundreds_of_m_lines_are_refused_and_a_later_guest_sees_everyone() -> None:
    with product("big-offers") as target:

        async def attack(bot: GatewayBot) -> dict[str, Any]:
            errors = await big_offers(bot, (120, 500))
            late = GatewayBot(LATE, bot.base_url, Shared(media=load_media()))
            try:
                await late.join_guest(bot.meeting_id)
                await late.connect(bot.meeting_id)
                seen = await _senders_seen(late, 15)
                await asyncio.sleep(2)  # the victims' receivers count a while of the late guest's media
            finally:
                await late.close()
            return {"errors": errors, "late_sees": seen}

        report, result = uvloop.run(victims_beside(target, attack))

    assert result["errors"] == {"bad_sdp": 2}, result
    assert result["late_sees"] >= 4, result  # the victims' video (the attacker's too, if it still sends)
    late_rows = [row for row in report["tracks"] if row["publisher_bot"] == LATE and row["kind"] == "video"]
    assert {row["subscriber_bot"] for row in late_rows if row["received"] > 0} >= {0, 1, 2, 3}, late_rows
    assert victim_delivery(report) >= 0.999, report["delivery_worst_tracks"]

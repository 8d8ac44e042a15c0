"""A real Chromium publisher on our transport-cc feedback: its estimate is reported and its three layers keep coming."""

# Negotiating transport-cc without sending feedback made Chrome's estimate collapse (layer f stopped after ~400
# packets, measured when the design was written); with the feedback every ~100 ms the estimate must hold under the
# room's REMB ceiling and every layer keep arriving. Figures are printed: run with -s.

from __future__ import annotations

import asyncio
import itertools
import os
import time
from typing import Any

import pytest
from playwright.async_api import Page

from mediaserver.config import Config
from mediaserver.loop_lag import window_quantile_ms
from tests.gateway.gateway_process import GatewayProcess

from .conftest import NewContext, diagnose
from .test_simulcast import TOP_LAYER, WIDE, fill_grid, media_control, pin, start_call, until, video_subscription

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

URI_TRANSPORT_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
WINDOW_S, STEP_S = 20, 2

# The publisher connection's selected candidate pair (its estimate) and what each simulcast encoding has sent.
PUBLISHER_UPLINK_JS = """
async () => {
  const pc = window.meetingClient && window.meetingClient.publisher;
  if (!pc) return null;
  const report = await pc.getStats();
  let selected = null;
  report.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) selected = r.selectedCandidatePairId;
  });
  let pair = null;
  report.forEach((r) => {
    if (r.type === "candidate-pair" && (selected ? r.id === selected : r.nominated)) pair = r;
  });
  const layers = {};
  report.forEach((r) => {
    if (r.type !== "outbound-rtp" || r.kind !== "video" || !r.rid) return;
    layers[r.rid] = {packetsSent: r.packetsSent || 0, width: r.frameWidth || 0,
                     limitation: r.qualityLimitationReason || null};
  });
  return {at: performance.now(), available: pair ? (pair.availableOutgoingBitrate ?? null) : null, layers,
          sdp: pc.remoteDescription ? pc.remoteDescription.sdp : ""};
}
"""


async def uplink(page: Page) -> dict[str, Any]:
    state = await page.evaluate(PUBLISHER_UPLINK_JS)
    assert isinstance(state, dict), f"no publisher on the page: {await diagnose(page)}"
    return state


def sections(sdp: str) -> dict[str, str]:
    """The answer's m-sections by kind (one audio, one video here)."""
    out: dict[str, str] = {}
    for block in sdp.split("\r\nm=")[1:]:
        out.setdefault(block.split(" ", 1)[0], block)
    return out


async def test_chromium_keeps_its_estimate_and_three_layers_on_our_transport_cc_feedback(
    new_context: NewContext, product: GatewayProcess
) -> None:
    # Dynacast stops layers nobody watches: Ann pins the host (f), Bo sees a 2x2 grid (h); q always runs.
    meeting_id, host_id, host, guests = await start_call(new_context, [("Ann", WIDE), ("Bo", WIDE)])
    (ann_id, ann), (bo_id, bo) = guests
    await pin(ann, host_id)
    await fill_grid(bo, 4)

    answer = sections((await uplink(host))["sdp"])
    for kind in ("audio", "video"):
        assert URI_TRANSPORT_CC in answer[kind], f"{kind}: our answer does not negotiate transport-cc"
        assert " transport-cc\r\n" in answer[kind], f"{kind}: no a=rtcp-fb transport-cc in our answer"

    async with media_control(product) as media:

        async def viewers_settled() -> bool | dict[str, Any]:
            a = await video_subscription(media, meeting_id, ann_id, host_id)
            b = await video_subscription(media, meeting_id, bo_id, host_id)
            if a["layer"] == TOP_LAYER and b["layer"] == 1:
                return True
            last.update(ann=a, bo=b, publisher=await uplink(host))
            return False

        last: dict[str, Any] = {}
        try:
            await until("Ann on f and Bo on h", viewers_settled, 20)
        except AssertionError as exc:
            last["publisher"].pop("sdp", None)
            raise AssertionError(f"{exc}; last seen {last}") from None

        async def server_side() -> tuple[list[dict[str, Any]], int]:
            host_stats = (await media.stats(meeting_id))["rooms"][meeting_id][host_id]
            video = next(p for p in host_stats["publications"] if p["kind"] == "video")
            return video["layers"], int(host_stats["transport_feedback_sent"])

        lag_before = (await media.stats(meeting_id))["loop_lag"]["counts"]
        browser = [await uplink(host)]
        server = [await server_side()]
        start = time.monotonic()
        for i in range(1, WINDOW_S // STEP_S + 1):
            await asyncio.sleep(max(start + i * STEP_S - time.monotonic(), 0))
            browser.append(await uplink(host))
            server.append(await server_side())
        elapsed = time.monotonic() - start
        lag_after = (await media.stats(meeting_id))["loop_lag"]["counts"]

    # The arrival times we report are taken in the media server's event loop: a starved process makes them late.
    print(f"\nmedia server event-loop lag over the window: p50 {window_quantile_ms(lag_before, lag_after, 0.5)} ms, "
          f"p99 {window_quantile_ms(lag_before, lag_after, 0.99)} ms; load average {os.getloadavg()[0]:.1f}")

    estimates = sorted(s["available"] for s in browser if isinstance(s["available"], (int, float)))
    print(f"availableOutgoingBitrate over {WINDOW_S} s: "
          + (f"min {estimates[0] / 1e3:.0f} / median {estimates[len(estimates) // 2] / 1e3:.0f} / "
             f"max {estimates[-1] / 1e3:.0f} kbit/s" if estimates else "never reported"))
    feedback = server[-1][1] - server[0][1]
    print(f"transport-cc feedback packets sent to the publisher: {feedback} in {elapsed:.1f} s; "
          f"estimates {[round(s['available'] / 1e3) for s in browser if s['available']]} kbit/s")
    assert len(estimates) == len(browser) and estimates[0] > 0, [s["available"] for s in browser]
    # The room's REMB is still the ceiling of the estimate our feedback drives.
    remb_bps = int(product.env.get("MEDIA_REMB_BPS", Config.remb_bps))
    assert estimates[-1] <= remb_bps * 1.02, f"estimate {estimates[-1]} above the REMB ceiling {remb_bps}"
    # Every other 50-ms slice of the room's tick; on a loaded machine the tick runs late, never more often.
    assert feedback >= 5 * elapsed, f"only {feedback} feedback packets in {elapsed:.1f} s (every ~100 ms)"

    for index, rid in enumerate(("q", "h", "f")):
        received = [layers[index]["received"] for layers, _ in server]
        steps = [after - before for before, after in itertools.pairwise(received)]
        sent = [s["layers"].get(rid, {}).get("packetsSent", 0) for s in browser]
        print(f"layer {rid}: {received[-1] - received[0]} packets at the server in {elapsed:.1f} s "
              f"(per {STEP_S} s: min {min(steps)}, max {max(steps)}); {sent[-1] - sent[0]} sent; "
              f"limitation {browser[-1]['layers'].get(rid, {}).get('limitation')}")
        assert all(layers[index]["rid"] == rid and layers[index]["live"] for layers, _ in server), server
        # Every interval carries the layer: a collapsed estimate would show a layer stopping (f first).
        assert min(steps) >= 20, f"layer {rid} stalled in some {STEP_S}-s interval: {steps}"
    f_packets = server[-1][0][TOP_LAYER]["received"] - server[0][0][TOP_LAYER]["received"]
    assert f_packets > 1000, f"layer f: only {f_packets} packets in {elapsed:.1f} s"

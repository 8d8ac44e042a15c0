"""Uplink repair in real Chromium: a publisher in a network namespace loses 10 % of its UDP on the way to us; with
upstream NACKs its viewer still gets (nearly) every frame, without them it sees the loss.

The host publishes from inside the namespace (BrowserNetwork.drop_uplink drops its packets in our input hook),
the guest watches from the root side. The same call runs twice, with UPSTREAM_NACK=0 and with the default (on);
both delivered frame rates are printed (`-s`) with what the viewer, its subscription and the publisher's layers
saw. Only what must hold is asserted: the fake camera runs at 30 fps, with repair the viewer decodes at least
25 frames a second, and the server did recover packets. Without repair the viewer's NACKs find nothing and its
downlink controller takes the loss for its own (a few frames a second); the publisher's own loss adaptation
acts on the loss before repair either way, so it may pause a layer (and cost a switch) during the measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from signaling_gateway.media_client import MediaClient
from tests.gateway.gateway_process import GatewayProcess
from tests.netns import BrowserNetwork, netns_available

from .conftest import ARTIFACTS, CHROMIUM
from .reconnect_rig import Call, product_on, secure_origin_args, start_call

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not netns_available(), reason="needs root and ip netns (network namespaces)"),
]

NETWORK_INDEX = 83  # 31-36: reconnect, Firefox, reachability; 47: the thin-link rig (wt-thinlink)
LOSS_PERCENT = 10
SETTLE_S = 10.0  # after the loss starts: the publisher's rate control and loss adaptation find their level
MEASURE_S = 20.0
MIN_FPS_WITH_REPAIR = 25.0
CAMERA_FPS = 30  # DESIGN.md: Chromium's fake camera runs at 20 fps unless told otherwise
FAKE_CAMERA = f"--use-fake-device-for-media-stream=fps={CAMERA_FPS}"

# The viewer's inbound video from one participant: decoded frames and Chromium's own frame rate figure.
INBOUND_JS = """
async (pid) => {
  const tile = document.querySelector(`[data-testid="participant-tile"][data-participant-id="${pid}"]`);
  const video = tile && tile.querySelector("video");
  const track = video && video.srcObject && video.srcObject.getVideoTracks()[0];
  const receiver = track && window.meetingClient.subscriber.getReceivers().find((r) => r.track === track);
  if (!receiver) return null;
  const out = {framesDecoded: 0, framesPerSecond: null, packetsLost: 0, nackCount: 0, width: video.videoWidth};
  (await receiver.getStats()).forEach((r) => {
    if (r.type !== "inbound-rtp" || r.kind !== "video") return;
    out.framesDecoded = r.framesDecoded || 0;
    out.framesPerSecond = r.framesPerSecond ?? null;
    out.packetsLost = r.packetsLost || 0;
    out.nackCount = r.nackCount || 0;
  });
  return out;
}
"""

# What the publisher's camera delivers (the fake device's rate) and what its encoders send, per rid.
PUBLISHER_JS = """
async () => {
  const sender = window.meetingClient.publisher.getSenders().find((s) => s.track && s.track.kind === "video");
  const out = {captureFps: sender ? sender.track.getSettings().frameRate : null, layers: {}};
  if (!sender) return out;
  (await sender.getStats()).forEach((r) => {
    if (r.type === "outbound-rtp" && r.kind === "video") {
      out.layers[r.rid || "-"] = {fps: r.framesPerSecond ?? null, width: r.frameWidth || 0,
                                  retransmitted: r.retransmittedPacketsSent || 0, nacks: r.nackCount || 0};
    }
  });
  return out;
}
"""


def launch_args(origin: str) -> list[str]:
    """The rig's Chromium flags with a 30-fps fake camera in place of the default one."""
    args = [a for a in secure_origin_args(origin) if not a.startswith("--use-fake-device-for-media-stream")]
    return [*args, FAKE_CAMERA]


@contextlib.asynccontextmanager
async def publisher_inside_viewer_outside(network: BrowserNetwork, origin: str) -> AsyncIterator[tuple[Browser,
                                                                                                     Browser]]:
    async with async_playwright() as playwright:
        inside = await playwright.chromium.launch(executable_path=str(network.chromium), args=launch_args(origin))
        outside = await playwright.chromium.launch(executable_path=CHROMIUM, args=launch_args(origin))
        try:
            yield inside, outside
        finally:
            await outside.close()
            await inside.close()


async def inbound(page: Page, pid: str) -> dict[str, Any]:
    stats = await page.evaluate(INBOUND_JS, pid)
    assert isinstance(stats, dict), f"no video from {pid} on the viewer's page"
    return stats


async def server_view(gateway: GatewayProcess, call: Call) -> dict[str, Any]:
    """The media server's view: the publisher's camera layers (with their repair counters) and the viewer's
    subscription to it."""
    client = MediaClient("127.0.0.1", int(gateway.env["MEDIA_CONTROL_PORT"]), request_timeout=5.0)
    await client.start()
    try:
        assert await client.wait_connected(10), "could not reach the media server's control port"
        room = (await client.stats(call.meeting_id))["rooms"][call.meeting_id]
    finally:
        await client.close()
    layers = [layer for pub in room[call.host_id]["publications"] if pub["kind"] == "video"
              for layer in pub["layers"]]
    subscription = next((sub for sub in room[call.guest_id]["subscriptions"]
                         if sub["kind"] == "video" and sub["publisher"] == call.host_id), None)
    return {"layers": layers, "subscription": subscription}


async def measure(call: Call) -> dict[str, Any]:
    """The viewer's delivered frame rate of the publisher's video over MEASURE_S, and Chromium's own samples."""
    first = await inbound(call.guest, call.host_id)
    started = time.monotonic()
    samples: list[float] = []
    while time.monotonic() - started < MEASURE_S:
        await asyncio.sleep(1.0)  # one sample a second, as Chromium computes framesPerSecond
        fps = (await inbound(call.guest, call.host_id))["framesPerSecond"]
        if fps is not None:
            samples.append(float(fps))
    last = await inbound(call.guest, call.host_id)
    elapsed = time.monotonic() - started
    return {"fps": (last["framesDecoded"] - first["framesDecoded"]) / elapsed,
            "fps_samples_mean": sum(samples) / len(samples) if samples else None,
            "fps_samples_min": min(samples, default=None),
            "viewer_packets_lost": last["packetsLost"] - first["packetsLost"],
            "viewer_nacks": last["nackCount"] - first["nackCount"], "width": last["width"]}


async def lossy_call(network: BrowserNetwork, upstream_nack: bool) -> dict[str, Any]:
    mode = "on" if upstream_nack else "off"
    console: list[str] = []
    with product_on(network, f"uplink-loss-{mode}-product.log", {"UPSTREAM_NACK": "1" if upstream_nack else "0"}
                    ) as gateway:
        try:
            async with publisher_inside_viewer_outside(network, gateway.base_url) as (inside, outside):
                call = await start_call(inside, outside, gateway.base_url, console)
                publisher = await call.host.evaluate(PUBLISHER_JS)
                network.drop_uplink(LOSS_PERCENT)
                try:
                    await asyncio.sleep(SETTLE_S)  # a fixed settling window before measuring, not a wait for a state
                    figures = await measure(call)
                finally:
                    network.stop_dropping()
                figures["publisher_at_start"] = publisher
                figures["publisher_at_end"] = await call.host.evaluate(PUBLISHER_JS)
                figures["server"] = await server_view(gateway, call)
        finally:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / f"uplink-loss-{mode}.console.log").write_text("\n".join(console))
    return figures


def summary(figures: dict[str, Any]) -> str:
    sub = figures["server"]["subscription"] or {}
    layers = {layer["rid"]: {"fps": layer["fps"], "width": layer["width"], **layer.get("repair", {})}
              for layer in figures["server"]["layers"]}
    return (f"delivered {figures['fps']:.1f} fps (Chromium's framesPerSecond: mean {figures['fps_samples_mean']}, "
            f"min {figures['fps_samples_min']}) at width {figures['width']}; the viewer lost "
            f"{figures['viewer_packets_lost']} packets and NACKed {figures['viewer_nacks']} times; its subscription: "
            f"layer {sub.get('layer')} max_tid {sub.get('max_tid')} nack_misses {sub.get('nack_misses')}; "
            f"server recovered {recovered(figures)}; layers {layers}; publisher at start "
            f"{figures['publisher_at_start']}, at end {figures['publisher_at_end']}")


def recovered(figures: dict[str, Any]) -> int:
    return sum(int(layer.get("repair", {}).get("recovered", 0)) for layer in figures["server"]["layers"])


@pytest.mark.timeout(420)
async def test_with_upstream_nack_the_viewer_keeps_its_frame_rate_through_10_percent_uplink_loss() -> None:
    with BrowserNetwork(NETWORK_INDEX) as network:
        without = await lossy_call(network, upstream_nack=False)
        with_repair = await lossy_call(network, upstream_nack=True)
    for name, figures in (("UPSTREAM_NACK=0", without), ("upstream repair on", with_repair)):
        print(f"\n{name}: {summary(figures)}")
    capture = with_repair["publisher_at_start"]["captureFps"]
    assert capture is not None and capture >= CAMERA_FPS - 1, f"the fake camera runs at {capture} fps, not 30"
    assert recovered(with_repair) > 0, "the server recovered no packet: no repair happened"
    assert with_repair["fps"] >= MIN_FPS_WITH_REPAIR, (
        f"with upstream repair the viewer got {with_repair['fps']:.1f} fps (without: {without['fps']:.1f})")

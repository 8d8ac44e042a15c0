"""H.264 from Chromium: a camera restricted to H.264 (`?codec=h264`, as Safari and iPhones prefer it) is decoded
as H.264 beside a VP8 publisher in the same room, and its simulcast layers switch with the tile's size."""

from __future__ import annotations

import pytest

from tests.gateway.gateway_process import GatewayProcess

from .conftest import NewContext, host_in_new_meeting, join_guest, participant_id, wait_for_frames
from .test_simulcast import (
    START_SAMPLER_JS,
    WIDE,
    _equals,
    fill_grid,
    media_control,
    pin,
    until,
    video_subscription,
    wait_width,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

# The codec the page decodes a participant's tile with (inbound-rtp's codec entry), e.g. "video/H264".
INBOUND_CODEC_JS = """
async (pid) => {
  const tile = document.querySelector(`[data-testid="participant-tile"][data-participant-id="${pid}"]`);
  const stream = tile && tile.querySelector("video").srcObject;
  const track = stream && stream.getVideoTracks()[0];
  const receiver = track && window.meetingClient.subscriber.getReceivers().find((r) => r.track === track);
  if (!receiver) return null;
  const report = await receiver.getStats();
  let mime = null;
  report.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video" && r.codecId && (r.framesDecoded || 0) > 0) {
      mime = (report.get(r.codecId) || {}).mimeType || null;
    }
  });
  return mime;
}
"""


async def test_an_h264_only_camera_is_decoded_as_h264_beside_vp8_and_switches_layers_by_tile(
    new_context: NewContext, product: GatewayProcess
) -> None:
    host, meeting_id = await host_in_new_meeting(new_context)
    await host.goto(f"/room/{meeting_id}?codec=h264")
    host_id = await participant_id(host)
    ann = await join_guest(await new_context(WIDE), meeting_id, "Ann")
    ann_id = await participant_id(ann)
    await wait_for_frames(ann, host_id)
    await wait_for_frames(host, ann_id)
    await until("Ann decodes the host as H.264", lambda: _equals(ann.evaluate(INBOUND_CODEC_JS, host_id),
                                                                  "video/H264"), 10)
    await until("the host decodes Ann as VP8", lambda: _equals(host.evaluate(INBOUND_CODEC_JS, ann_id),
                                                                "video/VP8"), 10)
    async with media_control(product) as media:
        assert (await video_subscription(media, meeting_id, ann_id, host_id))["codec"] == "H264"
        # Twenty tiles on Ann's screen: the host's needs only the low layer; pinned, it needs the top one.
        await fill_grid(ann, 20)
        await ann.evaluate(START_SAMPLER_JS, host_id)
        await wait_width(ann, "the low H.264 layer in a 20-tile grid", lambda w: 0 < w <= 320, 15)
        await pin(ann, host_id)
        await wait_width(ann, "the top H.264 layer once pinned", lambda w: w == 1280, 10)
        pinned = await video_subscription(media, meeting_id, ann_id, host_id)
        assert (pinned["layer"], pinned["codec"]) == (2, "H264")
        assert pinned["layer_switches"] >= 1


"""H.264 with an independent stack: an aiortc publisher restricted to H.264, aiortc subscribers decoding it
(or, answering VP8 only like a Firefox without OpenH264, told it cannot), and a room mixing both codecs."""

from __future__ import annotations

from typing import Any

import pytest

from mediaserver import control_protocol as proto
from signaling_gateway.media_client import MediaClient

from .aiortc_peer import AiortcParticipant, wait_until

pytestmark = pytest.mark.slow


async def subscription(control: MediaClient, room: str, subscriber: str, publisher: str) -> dict[str, Any]:
    subs = (await control.stats(room))["rooms"][room][subscriber]["subscriptions"]
    return next(s for s in subs if s["publisher"] == publisher and s["kind"] == "video")


async def test_an_h264_publisher_is_decoded_as_h264_beside_a_vp8_one(control: MediaClient) -> None:
    await control.create_room("h264")
    alice = AiortcParticipant(control, "h264", "alice", video_codec="H264")
    bob = AiortcParticipant(control, "h264", "bob", video_codec="VP8")
    carol = AiortcParticipant(control, "h264", "carol")
    try:
        await alice.join(publish=True)
        await bob.join(publish=True)
        await carol.join(publish=False)
        await wait_until(lambda: carol.frames[("alice", "video")] >= 30, 20, "carol decodes alice's H.264")
        await wait_until(lambda: carol.frames[("bob", "video")] >= 30, 20, "carol decodes bob's VP8")
        await wait_until(lambda: bob.frames[("alice", "video")] >= 30, 20, "bob decodes alice's H.264")
        assert carol.video_sizes["alice"] == (320, 240) and carol.video_sizes["bob"] == (320, 240)
        assert (await subscription(control, "h264", "carol", "alice"))["codec"] == "H264"
        assert (await subscription(control, "h264", "carol", "bob"))["codec"] == "VP8"
        publications = (await control.stats("h264"))["rooms"]["h264"]["alice"]["publications"]
        video = next(p for p in publications if p["kind"] == "video")
        assert video["layers"][0]["width"] == 320  # read from the SPS, as VP8's from its keyframe header
    finally:
        for peer in (alice, bob, carol):
            await peer.close()


async def test_a_subscriber_that_cannot_decode_h264_is_told_and_still_gets_the_rest(control: MediaClient) -> None:
    events: list[dict[str, Any]] = []
    control.add_event_listener(lambda name, params: events.append(params) if name == proto.TRACK_UNDECODABLE
                               else None)
    await control.create_room("no-h264")
    alice = AiortcParticipant(control, "no-h264", "alice", video_codec="H264")
    dave = AiortcParticipant(control, "no-h264", "dave", decodes={"VP8"})
    try:
        await alice.join(publish=True)
        await dave.join(publish=False)
        await wait_until(lambda: dave.frames[("alice", "audio")] >= 50, 20, "dave hears alice")
        await wait_until(lambda: any(e["participant_id"] == "dave" for e in events), 10, "dave is told")
        [event] = events
        assert (event["publisher_id"], event["kind"], event["codec"]) == ("alice", "video", "H264")
        sub = await subscription(control, "no-h264", "dave", "alice")
        assert sub["active"] is False and sub["packets_sent"] == 0  # nothing a decoder would choke on
        assert dave.frames[("alice", "video")] == 0
    finally:
        for peer in (alice, dave):
            await peer.close()

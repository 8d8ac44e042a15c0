"""A second video m-line is a screen share: published as `screen-…`, forwarded, and withdrawn when stopped."""

from __future__ import annotations

import pytest
from aiortc import RTCSessionDescription

from signaling_gateway.media_client import MediaClient

from .aiortc_peer import AiortcParticipant, wait_until, wait_until_async
from .encoded_media import video_track

pytestmark = pytest.mark.slow


async def test_screen_share_is_published_forwarded_and_withdrawn(control: MediaClient) -> None:
    events: list[tuple[str, dict[str, object]]] = []
    control.add_event_listener(lambda name, params: events.append((name, params)))
    await control.create_room("share")
    alice = AiortcParticipant(control, "share", "alice")
    bob = AiortcParticipant(control, "share", "bob")
    try:
        await alice.join(publish=True)
        await bob.join(publish=False)
        await wait_until(lambda: bob.frames[("alice", "video")] >= 10, 20, "camera flows")

        screen = alice.publisher.addTransceiver(video_track(), direction="sendonly")
        await renegotiate(alice, control)
        published = [p for n, p in events if n == "track_published" and p["source"] == "screen"]
        assert len(published) == 1 and str(published[0]["track_id"]).startswith("screen-")

        async def bob_gets_screen() -> bool:
            subs = (await control.stats("share"))["rooms"]["share"]["bob"]["subscriptions"]
            return any(str(s["publication"]).startswith("screen-") and s["packets_sent"] > 30 for s in subs)

        await wait_until_async(bob_gets_screen, 20, "bob receives alice's screen share")

        screen.direction = "inactive"
        await renegotiate(alice, control)
        assert any(n == "track_unpublished" and p["track_id"] == published[0]["track_id"] for n, p in events)
        subs = (await control.stats("share"))["rooms"]["share"]["bob"]["subscriptions"]
        assert sorted(s["kind"] for s in subs) == ["audio", "video"], "the screen subscription is gone"
        camera = bob.frames[("alice", "video")]
        await wait_until(lambda: bob.frames[("alice", "video")] >= camera + 20, 10, "the camera keeps flowing")
    finally:
        await alice.close()
        await bob.close()


async def renegotiate(peer: AiortcParticipant, control: MediaClient) -> None:
    await peer.publisher.setLocalDescription(await peer.publisher.createOffer())
    answer = await control.publisher_offer(peer.room_id, peer.id, peer.publisher.localDescription.sdp)
    await peer.publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))

"""Interop with an independent WebRTC stack: aiortc publishers and subscribers through our SFU."""

from __future__ import annotations

import pytest

from signaling_gateway.media_client import MediaClient

from .aiortc_peer import AiortcParticipant, wait_until

pytestmark = pytest.mark.slow


async def test_aiortc_publishes_and_another_aiortc_decodes(control: MediaClient) -> None:
    await control.create_room("interop")
    alice = AiortcParticipant(control, "interop", "alice")
    bob = AiortcParticipant(control, "interop", "bob")
    try:
        await alice.join(publish=True)
        await bob.join(publish=False)
        await wait_until(lambda: bob.frames[("alice", "video")] >= 30, 20, "bob decodes 30 of alice's video frames")
        await wait_until(lambda: bob.frames[("alice", "audio")] >= 50, 10, "bob decodes alice's audio")
        assert bob.video_sizes["alice"] == (320, 240)
        stats = await control.stats("interop")
        subs = stats["rooms"]["interop"]["bob"]["subscriptions"]
        assert {s["kind"] for s in subs} == {"audio", "video"}
        assert all(s["packets_sent"] > 0 for s in subs)
    finally:
        await alice.close()
        await bob.close()

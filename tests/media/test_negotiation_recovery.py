"""Subscriber negotiation never wedges: after a malformed answer the media server offers again by itself."""

from __future__ import annotations

import pytest

from signaling_gateway.media_client import MediaClient
from tests.processes import MediaServerProcess

from .aiortc_peer import AiortcParticipant, wait_until

pytestmark = pytest.mark.slow


async def test_a_malformed_subscriber_answer_is_followed_by_a_fresh_offer_and_later_tracks_arrive(
    media_server: MediaServerProcess,
) -> None:
    control = MediaClient("127.0.0.1", media_server.control_port)
    await control.start()
    peers: list[AiortcParticipant] = []
    try:
        assert await control.wait_connected(10)
        await control.create_room("wedge")
        bob = AiortcParticipant(control, "wedge", "bob")
        bob.broken_answers = 1
        peers.append(bob)
        await bob.join(publish=False)
        alice = AiortcParticipant(control, "wedge", "alice")
        peers.append(alice)
        await alice.join(publish=True)
        # The first answer to bob's offer (alice's tracks) is refused; the next offer is answered properly.
        await wait_until(lambda: bob.answer_errors == ["bad_sdp"], 15, "the broken answer is refused")
        await wait_until(lambda: bob.frames[("alice", "video")] >= 10, 20, "alice's video after the retry")
        # A track published later still reaches bob: his negotiation is not stuck.
        carol = AiortcParticipant(control, "wedge", "carol")
        peers.append(carol)
        await carol.join(publish=True)
        await wait_until(lambda: bob.frames[("carol", "video")] >= 10, 20, "carol's video, published later")
        await wait_until(lambda: bob.frames[("carol", "audio")] >= 10, 20, "carol's audio, published later")
        stats = (await control.stats("wedge"))["rooms"]["wedge"]["bob"]
        assert stats["negotiation"]["failures"] >= 1 and stats["negotiation"]["pending"] is False
    finally:
        for peer in peers:
            await peer.close()
        await control.close()

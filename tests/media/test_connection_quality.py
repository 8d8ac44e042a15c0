"""Connection quality events from a real media server, with aiortc peers: the level each participant gets, and
loss on one subscriber's downlink (fault injection) blamed on that subscriber alone, then forgiven."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mediaserver import control_protocol as proto
from signaling_gateway.media_client import MediaClient
from tests.processes import start_media_server

from .aiortc_peer import AiortcParticipant, wait_until

pytestmark = pytest.mark.slow
GOOD = ("excellent", "good")


@pytest.fixture
async def lossy_control() -> AsyncIterator[MediaClient]:
    server = start_media_server("--enable-fault-injection")
    client = MediaClient("127.0.0.1", server.control_port)
    await client.start()
    try:
        assert await client.wait_connected(10), "control connection to the media server"
        yield client
    finally:
        await client.close()
        server.stop()


async def test_a_lossy_downlink_makes_that_participant_poor_and_nobody_else(lossy_control: MediaClient) -> None:
    control = lossy_control
    levels: dict[str, list[tuple[str, float]]] = {}

    def on_event(name: str, params: dict[str, Any]) -> None:
        if name == proto.CONNECTION_QUALITY and params["room_id"] == "cq":
            levels.setdefault(params["participant_id"], []).append((params["level"], params["mos"]))

    control.add_event_listener(on_event)
    await control.create_room("cq")
    alice, bob = AiortcParticipant(control, "cq", "alice"), AiortcParticipant(control, "cq", "bob")
    try:
        await alice.join(publish=True)
        await bob.join(publish=True)
        await wait_until(lambda: bob.frames[("alice", "video")] >= 30 and alice.frames[("bob", "video")] >= 30, 30,
                         "both see each other's video")
        await wait_until(lambda: all(levels.get(p, [("", 0.0)])[-1][0] in GOOD for p in ("alice", "bob")), 10,
                         f"both scored excellent or good: {levels}")
        assert all(3.5 <= mos <= 4.5 for p in ("alice", "bob") for _, mos in levels[p])

        alice_before = len(levels["alice"])
        await control.request(proto.SIMULATE_LOSS, {"room_id": "cq", "participant_id": "bob", "downlink_loss": 0.3})
        await wait_until(lambda: levels["bob"][-1][0] == "poor", 10, f"bob's downlink loss shows: {levels}")
        stats = (await control.stats("cq"))["rooms"]["cq"]
        assert stats["bob"]["quality"] == "poor" and stats["bob"]["mos"] < 3.5
        frames = bob.frames[("alice", "video")]
        await wait_until(lambda: bob.frames[("alice", "video")] >= frames + 20, 10, "bob's video still flows")
        assert all(level in GOOD for level, _ in levels["alice"][alice_before:]), \
            f"alice is not blamed for bob's downlink: {levels['alice']}"
        assert stats["alice"]["quality"] in GOOD

        await control.request(proto.SIMULATE_LOSS, {"room_id": "cq", "participant_id": "bob", "downlink_loss": 0.0})
        await wait_until(lambda: levels["bob"][-1][0] in GOOD, 15, f"bob's level comes back: {levels}")
    finally:
        await alice.close()
        await bob.close()

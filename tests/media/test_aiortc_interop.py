"""Interop with an independent WebRTC stack: aiortc publishers and subscribers through our SFU."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from signaling_gateway.media_client import MediaClient
from tests.processes import start_media_server

from .aiortc_peer import AiortcParticipant, wait_until, wait_until_async

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


async def test_receiver_reports_give_rtt_per_subscription(control: MediaClient) -> None:
    await control.create_room("rtt")
    alice = AiortcParticipant(control, "rtt", "alice")
    bob = AiortcParticipant(control, "rtt", "bob")
    try:
        await alice.join(publish=True)
        await bob.join(publish=False)
        await wait_until(lambda: bob.frames[("alice", "video")] >= 10, 20, "call established")
        rtts: list[float | None] = []

        async def poll() -> bool:
            subs = (await control.stats("rtt"))["rooms"]["rtt"]["bob"]["subscriptions"]
            rtts[:] = [s["rtt_ms"] for s in subs]
            return all(r is not None for r in rtts)

        await wait_until_async(poll, 15, "RTT from bob's receiver reports")
        assert all(0 <= r < 100 for r in rtts if r is not None), rtts  # loopback
    finally:
        await alice.close()
        await bob.close()


async def test_three_participants_and_one_leaves(control: MediaClient) -> None:
    await control.create_room("trio")
    names = ["ann", "ben", "cat"]
    peers = {n: AiortcParticipant(control, "trio", n) for n in names}
    try:
        for peer in peers.values():
            await peer.join(publish=True)
        for me in names:
            for other in names:
                if other != me:
                    await wait_until(lambda me=me, other=other: peers[me].frames[(other, "video")] >= 20, 25,
                                     f"{me} receives {other}'s video")
        await control.leave("trio", "cat")
        await peers["cat"].close()
        ann_from_ben = peers["ann"].frames[("ben", "video")]
        ben_from_ann = peers["ben"].frames[("ann", "video")]
        await wait_until(lambda: peers["ann"].frames[("ben", "video")] >= ann_from_ben + 30
                         and peers["ben"].frames[("ann", "video")] >= ben_from_ann + 30, 15,
                         "ann and ben keep receiving each other after cat left")
        room = (await control.stats("trio"))["rooms"]["trio"]
        assert set(room) == {"ann", "ben"}
        assert [s["kind"] for s in room["ann"]["subscriptions"]].count("video") == 1
    finally:
        for peer in peers.values():
            await peer.close()


async def test_a_silent_peer_is_kept_disconnected_for_the_reconnect_window_then_leaves() -> None:
    server = start_media_server("--consent-timeout", "3", "--reconnect-window", "4")
    control = MediaClient("127.0.0.1", server.control_port)
    events: list[tuple[str, dict[str, Any]]] = []
    control.add_event_listener(lambda name, params: events.append((name, params)))
    await control.start()
    try:
        assert await control.wait_connected(10)
        await control.create_room("quiet")
        alice = AiortcParticipant(control, "quiet", "alice")
        bob = AiortcParticipant(control, "quiet", "bob")
        await alice.join(publish=True)
        await bob.join(publish=False)
        await wait_until(lambda: bob.frames[("alice", "video")] >= 5, 20, "call established")
        # Cut alice's network without a DTLS close_notify: her sockets just go quiet.
        connection = alice.publisher.getTransceivers()[0].sender.transport.transport._connection
        await connection.close()
        left = lambda: any(n == "participant_left" and p["participant_id"] == "alice" for n, p in events)  # noqa: E731
        state: dict[str, Any] = {}
        deadline = asyncio.get_running_loop().time() + 10
        while not left() and asyncio.get_running_loop().time() < deadline:
            room = (await control.stats("quiet"))["rooms"]["quiet"]
            if "alice" in room:
                state = room["alice"]
                if state["publisher"] == "disconnected":
                    break
            await asyncio.sleep(0.1)
        # Consent lost: kept, waiting for an ICE restart, nobody told she left.
        assert state.get("publisher") == "disconnected" and not left(), state
        await wait_until(left, 10, "alice leaves once the reconnect window is over")
        reason = next(p["reason"] for n, p in events if n == "participant_left")
        assert "no ICE restart within 4 s" in reason
        assert "bob" in (await control.stats("quiet"))["rooms"]["quiet"]
        await alice.close()
        await bob.close()
    finally:
        await control.close()
        server.stop()

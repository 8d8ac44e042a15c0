"""IPv6: a media port bound dual-stack (`--bind ::`) announces every configured address and serves an IPv4
peer and an IPv6-only peer on the same port (Firefox and phones gather IPv6 host candidates)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signaling_gateway.media_client import MediaClient
from tests.processes import MediaServerProcess, start_media_server

from . import aiortc_peer
from .aiortc_peer import AiortcParticipant, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def dual_stack_server() -> Iterator[MediaServerProcess]:
    server = start_media_server("--bind", "::", "--public-ip", "127.0.0.1,::1")
    try:
        yield server
    finally:
        server.stop()


async def test_an_ipv4_publisher_reaches_an_ipv6_only_subscriber_through_one_dual_stack_port(
    dual_stack_server: MediaServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = MediaClient("127.0.0.1", dual_stack_server.control_port)
    await control.start()
    assert await control.wait_connected(10)
    await control.create_room("v6")
    alice = AiortcParticipant(control, "v6", "alice")
    bob = AiortcParticipant(control, "v6", "bob")
    try:
        await alice.join(publish=True)  # gathered on 127.0.0.1 only
        answer = alice.publisher.remoteDescription.sdp
        assert f"127.0.0.1 {dual_stack_server.udp_port} typ host" in answer
        assert f"::1 {dual_stack_server.udp_port} typ host" in answer
        monkeypatch.setattr(aiortc_peer, "HOST_ADDRESSES", ["::1"])
        await bob.join(publish=False)  # its subscriber connection gathers on ::1 only
        await wait_until(lambda: bob.frames[("alice", "video")] >= 30, 20, "bob decodes alice over IPv6")
        await wait_until(lambda: bob.frames[("alice", "audio")] >= 50, 10, "bob hears alice over IPv6")
        pair = bob.subscriber.getTransceivers()[0].receiver.transport.transport.iceGatherer.getLocalCandidates()
        assert {c.ip for c in pair} == {"::1"}
    finally:
        await alice.close()
        await bob.close()
        await control.close()

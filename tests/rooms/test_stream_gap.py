"""A video layer that resumes after a gap gets a keyframe request at once, for the subscribers watching it."""

from __future__ import annotations

import struct
from typing import Any, cast

import pytest

from mediaserver.rooms import publishing
from mediaserver.rooms.publishing import STREAM_GAP_S, PublisherSide
from mediaserver.sdp.negotiation import NegotiatedMedia
from mediaserver.transport.peer import PeerTransport

SSRC = 0x1234


class StubTransport:
    state = "connected"
    on_rtp: Any = None
    on_rtcp: Any = None

    def send_rtcp(self, data: bytes) -> None:
        pass


class Watcher:
    """Stands in for a subscription: what the fan-out loop calls."""

    def __init__(self) -> None:
        self.forwarded = 0

    def forward(self, *args: Any) -> None:
        self.forwarded += 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def vp8_packet(seq: int) -> bytes:
    # RTP header (PT 96), then a VP8 descriptor (S=1, partition 0) and an inter-frame payload byte.
    return struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, SSRC) + bytes([0x10, 0x01, 0, 0, 0])


def publishing_video(monkeypatch: pytest.MonkeyPatch) -> tuple[Clock, PublisherSide, Any, list[int]]:
    """A publisher side with one plain video layer on a fake clock; its PLIs land in the returned list."""
    clock = Clock()
    monkeypatch.setattr(publishing, "time", clock)
    side = PublisherSide("alice", cast(PeerTransport, StubTransport()), rtcp_ssrc=1)
    pub = side.publish(NegotiatedMedia(mid="0", kind="video", payload_type=96, rtx_payload_type=None,
                                       clock_rate=90000, ssrcs=[SSRC]))
    plis: list[int] = []
    pub.send_pli = plis.append
    return clock, side, pub, plis


def test_a_layer_back_after_a_gap_asks_its_publisher_for_a_keyframe(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, pub, plis = publishing_video(monkeypatch)
    watcher = Watcher()
    pub.fanout[0].append(watcher)

    side.on_rtp(vp8_packet(1))
    pub.layers[0].last_pli = -1e9  # the publication's own throttle is not what this test is about
    plis.clear()
    for seq in range(2, 10):  # a steady stream: nothing to ask for
        clock.now += 0.033
        side.on_rtp(vp8_packet(seq))
    assert plis == [] and watcher.forwarded == 9

    clock.now += STREAM_GAP_S + 0.5  # the publisher's network dropped for a while
    side.on_rtp(vp8_packet(10))
    assert plis == [SSRC]


def test_no_request_when_nobody_watches_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, _, plis = publishing_video(monkeypatch)
    side.on_rtp(vp8_packet(1))
    clock.now += 5
    side.on_rtp(vp8_packet(2))
    assert plis == []

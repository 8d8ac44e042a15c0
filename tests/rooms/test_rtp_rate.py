"""A publisher's RTP rate is bounded: past MAX_RTP_PER_S a second packets are dropped, and seconds of it cut it off."""

from __future__ import annotations

import pytest

from mediaserver.rooms.publishing import CUT_OFF_AFTER_WINDOWS, MAX_RTP_PER_S

from .test_stream_gap import StubTransport, Watcher, publishing_video, vp8_packet


class ClosingTransport(StubTransport):
    def __init__(self) -> None:
        self.closed: list[str] = []

    def close(self, reason: str) -> None:
        self.closed.append(reason)


def test_packets_past_the_rate_are_dropped_and_a_flood_for_seconds_cuts_the_publisher_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, side, pub, _ = publishing_video(monkeypatch)
    transport = ClosingTransport()
    side.transport = transport  # type: ignore[assignment]
    watcher = Watcher()
    pub.fanout[0].append(watcher)
    seq = 0

    def second(packets: int) -> None:
        nonlocal seq
        for _ in range(packets):
            side.on_rtp(vp8_packet(seq & 0xFFFF))
            seq += 1
            clock.now += 0.9 / packets  # all within one second
        clock.now += 0.15  # and a little past its end (float sums of 0.9/packets fall short)

    second(MAX_RTP_PER_S + 500)
    assert watcher.forwarded == MAX_RTP_PER_S and side.rtp_over_rate == 500
    second(100)  # a normal second resets the run of seconds over the rate
    assert transport.closed == []
    for _ in range(CUT_OFF_AFTER_WINDOWS):
        second(MAX_RTP_PER_S + 1)
    second(1)  # the next window looks back at the last one
    assert len(transport.closed) == 1 and transport.closed[0].startswith("over_limit")



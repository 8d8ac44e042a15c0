"""Each participant's connection quality from both directions, in a real Room without sockets: who is blamed for
loss, the event on a level change, lost, the swappable downlink-loss input and the MOS metrics."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from mediaserver import control_protocol as proto
from mediaserver.rooms.call_quality import CallQuality
from mediaserver.rooms.connection_quality import (
    LOST_AFTER_S,
    ParticipantQuality,
    RttFloor,
    excess_loss,
    report_excess_loss,
    voice_jitter_ms,
)
from mediaserver.rooms.participant import Participant
from mediaserver.rooms.publication import Publication
from mediaserver.rooms.room import Room
from mediaserver.rooms.subscription import Subscription
from mediaserver.rtp.ntp import ntp_middle32, ntp_now
from mediaserver.rtp.rtcp import Nack, ReceiverReport, ReportBlock, build_compound
from mediaserver.sdp.negotiation import NegotiatedMedia
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.mux_core import MuxCore

from .test_call_quality import connect, one_second

CERT = Certificate.generate()
VIDEO_SSRC, AUDIO_SSRC = 0x1234, 0xABCD
KEYFRAME_VP8 = bytes([0x10, 0x00, 0x9D, 0x01, 0x2A])
DELTA_VP8 = bytes([0x10, 0x01, 0x00, 0x00])
PACKETS_PER_SECOND = 100


class Call:
    """Alice publishes, Bob subscribes; every event the room emits is kept."""

    def __init__(self, quality: CallQuality | None = None) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.room = Room("r", MuxCore(), CERT.ssl_context(), CERT.fingerprint, "127.0.0.1", 9,
                         lambda name, params: self.events.append((name, params)), 1_000_000, call_quality=quality)
        self.alice, self.bob = self.room.join("alice", "Alice"), self.room.join("bob", "Bob")
        connect(self.alice)
        connect(self.bob)
        self.seq = 1000

    def publish(self, kind: str) -> Subscription:
        video = kind == "video"
        media = NegotiatedMedia(mid="1" if video else "0", kind="video" if video else "audio",
                                payload_type=96 if video else 111, rtx_payload_type=None,
                                clock_rate=90000 if video else 48000, codec="VP8" if video else "opus",
                                ssrcs=[VIDEO_SSRC if video else AUDIO_SSRC])
        pub: Publication = self.alice.publishing.publish(media)
        self.room._announce(self.alice, pub)
        sub = self.bob.subscribing.subscriptions[pub.id]
        sub.negotiated = True
        sub.activate()
        return sub

    def second_of_media(self, kind: str, lost_upstream_every: int = 0) -> list[int]:
        """A second of packets from Alice; returns the source numbers lost on her uplink (never sent to us)."""
        lost = []
        for _ in range(PACKETS_PER_SECOND):
            self.seq += 1
            if lost_upstream_every and self.seq % lost_upstream_every == 0:
                lost.append(self.seq)
                continue
            if kind == "video":
                payload = (KEYFRAME_VP8 if self.seq == 1001 else DELTA_VP8) + bytes(900)
                packet = struct.pack("!BBHII", 0x80, 96, self.seq, self.seq * 900, VIDEO_SSRC) + payload
            else:
                packet = struct.pack("!BBHII", 0x80, 111, self.seq, self.seq * 960, AUDIO_SSRC) + b"opus" * 20
            self.alice.publishing.on_rtp(packet)
        return lost

    def bob_reports(self, sub: Subscription, fraction_lost: float, nacked: list[int]) -> None:
        """Bob's browser: a receiver report (50 ms RTT) and a NACK of the numbers it misses (ours, outgoing)."""
        lsr = (ntp_middle32(ntp_now()) - int(0.05 * 65536)) & 0xFFFFFFFF
        block = ReportBlock(ssrc=sub.ssrc, fraction_lost=int(fraction_lost * 256), jitter=90, lsr=lsr, dlsr=0)
        packets: list[Any] = [ReceiverReport(ssrc=7, reports=[block])]
        if nacked:
            packets.append(Nack(sender_ssrc=7, media_ssrc=sub.ssrc, lost=nacked))
        self.bob.subscribing.on_rtcp(build_compound(packets))

    def quality_events(self) -> dict[str, list[str]]:
        seen: dict[str, list[str]] = {}
        for name, params in self.events:
            if name == proto.CONNECTION_QUALITY:
                seen.setdefault(params["participant_id"], []).append(params["level"])
        return seen


def level(participant: Participant) -> str | None:
    shown = participant.quality.shown
    return None if shown is None else shown.level


async def test_a_publishers_uplink_loss_is_its_own_not_its_subscribers() -> None:
    call = Call()
    try:
        sub = call.publish("video")
        for _ in range(3):
            lost = call.second_of_media("video", lost_upstream_every=5)
            # Bob's browser sees the gaps (the forwarded numbers keep them): 20 % in its report, and NACKs.
            call.bob_reports(sub, 0.2, [(seq + sub.seq_offset) & 0xFFFF for seq in lost])
            one_second(call.room)
        assert sub.nack_misses > 0 and sub.retransmits == 0, "nothing of what we sent was missing"
        assert call.bob.quality.downlink is not None and call.bob.quality.downlink.loss == 0.0
        assert level(call.alice) == "poor" and level(call.bob) == "excellent"
        events = call.quality_events()
        assert events == {"alice": ["poor"], "bob": ["excellent"]}, "one event per change, at the first score"
        alice_event = next(p for n, p in call.events
                           if n == proto.CONNECTION_QUALITY and p["participant_id"] == "alice")
        assert alice_event["room_id"] == "r" and 1.0 <= alice_event["mos"] < 3.5
        bob_mos = call.bob.summary()["mos"]
        assert call.alice.summary()["quality"] == "poor" and isinstance(bob_mos, float) and bob_mos >= 4.0
    finally:
        call.room.close()


async def test_loss_on_the_way_to_a_subscriber_is_its_own() -> None:
    call = Call()
    try:
        sub = call.publish("video")
        for _ in range(3):
            first = (sub.last_seq + 1) & 0xFFFF
            call.second_of_media("video")
            missing = [(first + i) & 0xFFFF for i in range(0, PACKETS_PER_SECOND, 7)]  # 15 of 100
            call.bob_reports(sub, 0.15, missing)
            one_second(call.room)
        assert sub.retransmits > 0 and sub.nack_misses == 0
        assert call.bob.quality.downlink is not None and call.bob.quality.downlink.loss == pytest.approx(0.15, abs=0.02)
        assert level(call.bob) == "poor" and level(call.alice) == "excellent"
    finally:
        call.room.close()


async def test_a_level_rises_after_four_clean_seconds_and_the_room_emits_it() -> None:
    call = Call()
    try:
        call.publish("audio")
        alice = call.alice
        changes = []
        for second in range(10):
            call.second_of_media("audio", lost_upstream_every=5 if second < 2 else 0)
            now = 100.0 + second
            alice.tick(now)
            if alice.quality.update(now):
                call.room._quality_changed(alice)
                changes.append((now, level(alice)))
        # Lossy at 100 and 101; four clean seconds later (102-105) the rise shows, not before.
        assert changes == [(100.0, "poor"), (105.0, "excellent")]
        assert call.quality_events()["alice"] == ["poor", "excellent"]
    finally:
        call.room.close()


async def test_an_audio_only_subscriber_is_judged_on_its_reports_less_the_publishers_loss() -> None:
    assert excess_loss(0.2, 0.2) == 0.0
    assert excess_loss(0.3, 0.2) == pytest.approx(0.125)
    assert excess_loss(0.1, 0.3) == 0.0, "a report below the upstream loss (another interval) blames nobody"
    call = Call()
    try:
        sub = call.publish("audio")
        call.second_of_media("audio", lost_upstream_every=5)
        call.bob_reports(sub, 0.2, [])
        one_second(call.room)
        assert report_excess_loss(call.bob.subscribing) == pytest.approx(0.0, abs=0.01)
        assert level(call.bob) == "excellent" and level(call.alice) == "poor"
        call.second_of_media("audio", lost_upstream_every=5)
        call.bob_reports(sub, 0.45, [])  # 45 % seen, 20 % of it upstream: about 31 % on Bob's own downlink
        one_second(call.room)
        assert call.bob.quality.downlink is not None and call.bob.quality.downlink.loss == pytest.approx(0.31, abs=0.02)
        assert level(call.bob) == "poor"
    finally:
        call.room.close()


def test_the_jitter_that_counts_is_the_audios_and_the_rtt_the_lowest_of_five_seconds() -> None:
    # A keyframe's packets share a timestamp and leave the pacer over tens of ms: video "jitter" is not voice's.
    assert voice_jitter_ms([("video", 130.0), ("audio", 4.0), ("audio", 6.0)]) == 6.0
    assert voice_jitter_ms([("video", 30.0), ("video", 12.0)]) == 30.0, "no audio: the video's is all there is"
    assert voice_jitter_ms([]) == 0.0
    floor = RttFloor()
    assert floor.update(0.0, None) is None
    readings = {1.0: 20.0, 2.0: 540.0, 3.0: 330.0, 4.0: 22.0}  # a loaded machine's hiccup: two reports
    assert [floor.update(t, rtt) for t, rtt in readings.items()] == [20.0, 20.0, 20.0, 20.0]
    sustained = [floor.update(5.0 + t, 400.0) for t in range(6)]
    first = sustained[0]
    assert sustained[-1] == 400.0 and first is not None and first < 400.0, "a delay that lasts 5 s counts in full"
    assert floor.update(20.0, None) is None, "nothing reported for the window: no RTT"


async def test_a_participant_nothing_is_heard_from_is_lost() -> None:
    call = Call()
    try:
        sub = call.publish("audio")
        call.second_of_media("audio")
        call.bob_reports(sub, 0.0, [])
        one_second(call.room)
        assert level(call.bob) == "excellent"
        transport = call.bob.subscriber_transport
        transport.last_seen = transport.mux.now - LOST_AFTER_S - 1
        one_second(call.room)
        assert level(call.bob) == "lost" and call.bob.quality.last is not None and call.bob.quality.last.mos == 1.0
        assert call.quality_events()["bob"] == ["excellent", "lost"]
        call.alice.publisher_transport.state = "disconnected"  # consent lost
        one_second(call.room)
        assert level(call.alice) == "lost"
    finally:
        call.room.close()


async def test_the_downlink_loss_input_is_one_argument() -> None:
    call = Call()
    try:
        sub = call.publish("audio")
        swapped = ParticipantQuality(call.bob.publishing, call.bob.subscribing, downlink_loss=lambda _: 0.25)
        call.second_of_media("audio")
        call.bob_reports(sub, 0.0, [])
        call.bob.tick(1.0)
        swapped.update(1.0)
        assert swapped.downlink is not None and swapped.downlink.loss == 0.25
        assert swapped.shown is not None and swapped.shown.level == "poor"
        assert swapped.uplink is None, "Bob publishes nothing: that direction does not count"
    finally:
        call.room.close()


async def test_each_participant_second_is_a_mos_sample_and_a_second_at_its_level() -> None:
    metrics = CallQuality()
    call = Call(metrics)
    try:
        call.publish("audio")
        one_second(call.room)
        assert metrics.mos.samples == 0 and sum(metrics.level_seconds.values()) == 0, "nothing measured yet"
        call.second_of_media("audio", lost_upstream_every=10)
        one_second(call.room)
        assert metrics.mos.samples == 1, "Alice's uplink; Bob has no report yet"
        assert metrics.level_seconds["poor"] == 1 and metrics.mos.total < 3.5
    finally:
        call.room.close()

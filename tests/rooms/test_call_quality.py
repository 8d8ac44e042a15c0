"""Call-quality histograms: bucket edges, and what a room's tick samples from its participants (no sockets)."""

from __future__ import annotations

import struct

import pytest

from mediaserver.rooms.call_quality import LOSS_BUCKETS, CallQuality, Histogram
from mediaserver.rooms.participant import Participant
from mediaserver.rooms.publication import Publication
from mediaserver.rooms.room import TICK_SLICES, Room
from mediaserver.rtp.extensions import URI_MID
from mediaserver.rtp.ntp import ntp_middle32, ntp_now
from mediaserver.rtp.rtcp import ReceiverReport, ReportBlock, build_compound
from mediaserver.sdp.negotiation import NegotiatedMedia
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.mux_core import MuxCore

AUDIO_SSRC = 0xABCD
CERT = Certificate.generate()


def test_a_value_on_a_bound_falls_in_that_bucket_and_above_the_last_in_inf() -> None:
    histogram = Histogram(LOSS_BUCKETS)
    for value in (0.0, 0.02, 0.021, 0.9):
        histogram.observe(value)
    assert histogram.counts[LOSS_BUCKETS.index(0.005)] == 1
    assert histogram.counts[LOSS_BUCKETS.index(0.02)] == 1, "le is inclusive, as in Prometheus"
    assert histogram.counts[LOSS_BUCKETS.index(0.05)] == 1
    assert histogram.counts[-1] == 1
    assert histogram.samples == 4 and histogram.total == pytest.approx(0.941)


def audio_packet(seq: int) -> bytes:
    ext = struct.pack("!HH", 0xBEDE, 1) + bytes([0x40, ord("0"), 0, 0])  # mid "0" (id 4, one byte)
    return struct.pack("!BBHII", 0x90, 111, seq, seq * 960, AUDIO_SSRC) + ext + b"opus" * 20


def connect(participant: Participant) -> None:
    # What the mux does once ICE and DTLS are through; without keys nothing is sent, which is all we need.
    participant.publisher_transport.state = "connected"
    participant.subscriber_transport.state = "connected"


def one_second(room: Room) -> None:
    for _ in range(TICK_SLICES):
        room._tick()


def publish_audio(room: Room, publisher: Participant) -> Publication:
    media = NegotiatedMedia(mid="0", kind="audio", payload_type=111, rtx_payload_type=None, clock_rate=48000,
                            ext_ids={URI_MID: 4}, ssrcs=[AUDIO_SSRC])
    pub = publisher.publishing.publish(media)
    room._announce(publisher, pub)
    return pub


async def test_the_tick_samples_uplink_loss_and_jitter_and_downlink_rtt_once_per_participant_second() -> None:
    quality = CallQuality()
    room = Room("r", MuxCore(), CERT.ssl_context(), CERT.fingerprint, "127.0.0.1", 9, lambda *_: None, 1_000_000,
                call_quality=quality)
    try:
        alice, bob = room.join("alice", "Alice"), room.join("bob", "Bob")
        connect(alice)
        connect(bob)
        pub = publish_audio(room, alice)
        one_second(room)
        assert quality.loss["uplink"].samples == 0, "nothing received yet: no sample, not a zero"
        assert quality.rtt.samples == 0

        for seq in range(1, 102):
            if seq % 10 != 0:  # every tenth packet lost on the way in
                alice.publishing.on_rtp(audio_packet(seq))
        one_second(room)
        assert quality.loss["uplink"].samples == 1
        assert 0.08 < quality.loss["uplink"].total < 0.12
        assert quality.jitter["uplink"].samples == 1

        sub = bob.subscribing.subscriptions[pub.id]
        sub.negotiated = True
        sub.activate()
        lsr = (ntp_middle32(ntp_now()) - int(0.05 * 65536)) & 0xFFFFFFFF  # our SR left 50 ms ago
        block = ReportBlock(ssrc=sub.ssrc, fraction_lost=0, jitter=480, lsr=lsr, dlsr=0)  # 480 / 48 kHz = 10 ms
        bob.subscribing.on_rtcp(build_compound([ReceiverReport(ssrc=7, reports=[block])]))
        one_second(room)
        assert quality.rtt.samples == 1 and 0.04 < quality.rtt.total < 0.5
        assert quality.jitter["downlink"].total == pytest.approx(0.01)
        assert quality.loss["downlink"].samples == 1
    finally:
        room.close()

"""Uplink transport-cc feedback: every ~100 ms the room tick reports each packet a publisher numbered, as it arrived."""

# Audio, simulcast layers, RTX, padding and SSRCs not placed yet: all share the transport-wide numbering.

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from mediaserver.rooms import publishing
from mediaserver.rooms import room as room_module
from mediaserver.rooms.room import TICK_SLICES, Room
from mediaserver.rtp.extensions import PROFILE_ONE_BYTE, decode_transport_cc, encode_audio_level, encode_transport_cc
from mediaserver.rtp.packet import RtpPacket
from mediaserver.rtp.rtcp import TransportCC, parse_rtcp
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.peer import PeerTransport
from mediaserver.transport.udp_mux import UdpMux

from .publisher_stubs import Clock, RecordingTransport

OFFER = Path(__file__).parents[1] / "sdp" / "data" / "chrome156_offer_audio_simulcast_video.sdp"
# The offer's extension ids: audio level 1, transport-cc 3, mid 4, rid 10, repaired rid 11.
AUDIO_SSRC = 4117577166  # declared in the offer's audio m-line
LAYER_SSRCS = {"q": 0x1001, "h": 0x1002, "f": 0x1003}  # Chrome's simulcast offer declares none: learned from rid
RTX_SSRC = 0x2003


class CapturingTransport(RecordingTransport):
    """Also reads back the transport-cc feedback among what it kept."""

    def feedback(self) -> list[TransportCC]:
        found = [p for wire in self.rtcp for p in parse_rtcp(wire) if isinstance(p, TransportCC)]
        self.rtcp.clear()
        return found


def packet(twseq: int, ssrc: int, pt: int, seq: int, mid: str, *, rid: str = "", rrid: str = "",
           audio: bool = False, padding: bool = False) -> bytes:
    ext = [(3, encode_transport_cc(twseq)), (4, mid.encode())]
    if rid:
        ext.append((10, rid.encode()))
    if rrid:
        ext.append((11, rrid.encode()))
    if audio:
        ext.insert(0, (1, encode_audio_level(True, 30)))
    payload = b"" if padding else (b"\xfc\xff\xfe" if audio else bytes([0x10, 0x01, 0, 0, 0]))
    return RtpPacket(padding_size=200 if padding else 0, payload_type=pt, sequence=seq, timestamp=seq * 3000,
                     ssrc=ssrc, extensions=ext, extension_profile=PROFILE_ONE_BYTE, payload=payload).serialize()


def twseq_of(wire: bytes) -> int:
    return decode_transport_cc(dict(RtpPacket.parse(wire).extensions)[3])


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(1000.0)
    monkeypatch.setattr(publishing, "time", clock)
    monkeypatch.setattr(room_module, "time", clock)
    return clock


async def test_every_numbered_packet_is_reported_with_its_arrival_every_100_ms(clock: Clock) -> None:
    cert = Certificate.generate()
    room = Room("r", UdpMux(), cert.ssl_context(), cert.fingerprint, "127.0.0.1", 9, lambda *_: None, 2_500_000)
    try:
        alice = room.join("alice", "Alice")
        answer = room.publish(alice, OFFER.read_bytes().decode())
        assert "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01" in answer
        side = alice.publishing
        transport = CapturingTransport()
        side.transport = cast(PeerTransport, transport)

        # What Chrome sends in one stretch: audio, three layers, a retransmission on the RTX SSRC, a padding-only
        # probe, and a packet of a stream not placed yet (no mid: unroutable); 1005 and 1010 are lost on the way.
        stream = [
            packet(1000, AUDIO_SSRC, 111, 1, "0", audio=True),
            packet(1001, LAYER_SSRCS["q"], 96, 10, "1", rid="q"),
            packet(1002, LAYER_SSRCS["h"], 96, 20, "1", rid="h"),
            packet(1003, LAYER_SSRCS["f"], 96, 30, "1", rid="f"),
            packet(1004, RTX_SSRC, 97, 500, "1", rrid="f"),
            packet(1006, LAYER_SSRCS["q"], 96, 11, "1", rid="q", padding=True),
            packet(1007, 0x7777, 96, 1, "9"),  # a mid we do not have
            packet(1008, LAYER_SSRCS["f"], 96, 31, "1", rid="f"),
            packet(1009, AUDIO_SSRC, 111, 2, "0", audio=True),
            packet(1011, LAYER_SSRCS["h"], 96, 21, "1", rid="h"),
        ]
        arrived: dict[int, float] = {}
        for index, wire in enumerate(stream):
            clock.now += 0.0013 * (index % 4)
            side.on_rtp(wire)
            arrived[twseq_of(wire)] = clock.now
        assert {pub.kind for pub in side.publications.values()} == {"audio", "video"}

        sent: list[TransportCC] = []
        for _ in range(2):  # two slices: one of them is alice's turn
            clock.now += 0.05
            room._tick()
            sent += transport.feedback()
        (feedback,) = sent
        assert feedback.sender_ssrc == side.rtcp_ssrc
        assert feedback.media_ssrc == LAYER_SSRCS["h"]  # the last numbered packet's, as libwebrtc fills it in
        decoded = feedback.decode()
        assert decoded.base_seq == 1000 and decoded.feedback_count == 0
        assert [seq for seq, _ in decoded.arrivals] == list(range(1000, 1012))
        for seq, at in decoded.arrivals:
            if seq in arrived:
                assert at is not None and abs(at - round(arrived[seq] * 1e6)) <= 125, seq
            else:
                assert at is None, seq  # 1005 and 1010

        # A second's worth of ticks with packets between them: feedback every other slice, picking up where the
        # last one stopped, counted on.
        twseq = 1012
        for _ in range(TICK_SLICES):
            for ssrc in LAYER_SSRCS.values():
                clock.now += 0.01
                side.on_rtp(packet(twseq, ssrc, 96, twseq, "1"))
                twseq += 1
            clock.now += 0.02
            room._tick()
            sent += transport.feedback()
        assert len(sent) == 1 + TICK_SLICES // 2
        assert [p.decode().feedback_count for p in sent] == list(range(len(sent)))
        later = [entry for p in sent[1:] for entry in p.decode().arrivals]
        assert [seq for seq, _ in later] == list(range(1012, twseq)) and all(at is not None for _, at in later)
        assert alice.stats()["transport_feedback_sent"] == len(sent)
    finally:
        room.close()


async def test_nothing_numbered_nothing_sent_and_no_feedback_to_a_disconnected_publisher(clock: Clock) -> None:
    cert = Certificate.generate()
    room = Room("r", UdpMux(), cert.ssl_context(), cert.fingerprint, "127.0.0.1", 9, lambda *_: None, 2_500_000)
    try:
        alice = room.join("alice", "Alice")
        room.publish(alice, OFFER.read_bytes().decode())
        transport = CapturingTransport()
        alice.publishing.transport = cast(PeerTransport, transport)
        for _ in range(4):
            clock.now += 0.05
            room._tick()
        assert transport.feedback() == []  # no packet: no feedback (as libwebrtc)

        transport.state = "disconnected"
        alice.publishing.on_rtp(packet(7, AUDIO_SSRC, 111, 1, "0", audio=True))
        for _ in range(2):
            clock.now += 0.05
            room._tick()
        assert transport.feedback() == [] and alice.publishing.twcc_feedback_sent == 0
    finally:
        room.close()

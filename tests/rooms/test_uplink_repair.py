"""Uplink repair through the publisher side: a layer loses packets, our NACKs bring them back as RTX, and the
subscriber gets every packet once, in sequence order, while the publisher is still told what its uplink lost."""

from __future__ import annotations

import random
import struct
from typing import Any, cast

import pytest

from mediaserver.config import Config
from mediaserver.rooms import publishing
from mediaserver.rooms.publishing import PublisherSide
from mediaserver.rooms.subscriptions import new_subscription
from mediaserver.rooms.video_subscription import VideoSubscription
from mediaserver.rtp import extensions
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.packet import RtpPacket
from mediaserver.rtp.rtcp import parse_rtcp
from mediaserver.rtp.rtcpfb import Nack
from mediaserver.rtp.rtx import wrap_rtx
from mediaserver.sdp.negotiation import NegotiatedMedia

from .publisher_stubs import Clock, RecordingTransport

VP8, RTX = 96, 97
MID_ID, RID_ID, RRID_ID = 4, 10, 11
MEDIA_SSRC, RTX_SSRC = 0x1111, 0x2222
TID_PATTERN = (0, 2, 1, 2)


class StubPublisher:
    """A Chrome-like sender: VP8 frames on one SSRC, a history it answers NACKs from on an RTX SSRC, padding
    probes and redundant old packets on that RTX SSRC, and a lossy uplink in between."""

    def __init__(self, side: PublisherSide, transport: RecordingTransport, loss: float, rid: bytes | None,
                 seed: int = 7, start_seq: int = 65000) -> None:
        self.side, self.transport, self.loss, self.rid = side, transport, loss, rid
        self.rng = random.Random(seed)
        self.seq = start_seq
        self.rtx_seq = 0
        self.history: dict[int, bytes] = {}
        self.sent: list[int] = []  # every sequence number sent, in order
        self.frame = 0
        self.tl0 = 0
        self.nacks_read = 0

    def _extensions(self, rtx: bool) -> list[tuple[int, bytes]]:
        if self.rid is None:
            return []
        return [(MID_ID, b"1"), (RRID_ID if rtx else RID_ID, self.rid)]

    def _uplink(self, data: bytes) -> None:
        if self.rng.random() >= self.loss:
            self.side.on_rtp(data)

    def send_frame(self, packets: int = 3) -> None:
        keyframe = self.frame % 60 == 0
        tid = 0 if keyframe else TID_PATTERN[self.frame % 4]  # Chrome's L1T3
        if tid == 0:
            self.tl0 = (self.tl0 + 1) & 0xFF
        for i in range(packets):
            start = i == 0
            # X, then I (15-bit PictureID), L (TL0PICIDX) and T (temporal id) as Chrome sends them.
            descriptor = bytes([0x90 if start else 0x80, 0xE0, 0x80 | (self.frame >> 8) & 0x7F, self.frame & 0xFF,
                                self.tl0, tid << 6])
            tag = bytes([0x00 if keyframe else 0x01, 0, 0]) if start else b""
            payload = descriptor + tag + struct.pack("!H", self.seq)  # the source number, to recognise it later
            data = RtpPacket(marker=i == packets - 1, payload_type=VP8, sequence=self.seq,
                             timestamp=self.frame * 3000, ssrc=MEDIA_SSRC, extensions=self._extensions(False),
                             extension_profile=0xBEDE if self.rid else None, payload=payload).serialize()
            self.history[self.seq] = data
            self.sent.append(self.seq)
            self.seq = (self.seq + 1) & 0xFFFF
            self._uplink(data)
        self.frame += 1

    def _rtx(self, data: bytes) -> bytes:
        hdr = parse_rtp(data)
        rtx = RtpPacket.parse(wrap_rtx(data, hdr, RTX_SSRC, RTX, self.rtx_seq))
        rtx.extensions = self._extensions(True)  # a retransmission names the layer it repairs (rrid)
        rtx.extension_profile = 0xBEDE if self.rid else None
        self.rtx_seq = (self.rtx_seq + 1) & 0xFFFF
        return rtx.serialize()

    def probe(self) -> None:
        """Chrome's bandwidth probing on the RTX stream: a padding-only packet, then an old packet resent."""
        padding = RtpPacket(payload_type=RTX, sequence=self.rtx_seq, timestamp=0, ssrc=RTX_SSRC,
                            extensions=self._extensions(True), extension_profile=0xBEDE if self.rid else None,
                            padding_size=200).serialize()
        self.rtx_seq = (self.rtx_seq + 1) & 0xFFFF
        self.side.on_rtp(padding)
        if self.sent:
            self.side.on_rtp(self._rtx(self.history[self.sent[-1]]))

    def answer_nacks(self) -> list[int]:
        """Retransmit what our NACKs ask for (through the same lossy uplink); returns the numbers asked."""
        asked: list[int] = []
        for data in self.transport.rtcp[self.nacks_read :]:
            for packet in parse_rtcp(data):
                if isinstance(packet, Nack):
                    assert packet.media_ssrc == MEDIA_SSRC
                    asked += packet.lost
        self.nacks_read = len(self.transport.rtcp)
        for seq in asked:
            self._uplink(self._rtx(self.history[seq]))
        return asked


def setup(monkeypatch: pytest.MonkeyPatch, simulcast: bool, upstream_nack: bool = True, loss: float = 0.1,
          ) -> tuple[Clock, PublisherSide, StubPublisher, VideoSubscription, list[bytes]]:
    clock = Clock()
    monkeypatch.setattr(publishing, "time", clock)
    transport = RecordingTransport()
    side = PublisherSide("alice", cast(Any, transport), rtcp_ssrc=1, upstream_nack=upstream_nack)
    side.repair.rtt = lambda: 0.03
    ext_ids = {extensions.URI_MID: MID_ID, extensions.URI_RID: RID_ID, extensions.URI_REPAIRED_RID: RRID_ID}
    if simulcast:  # Chrome: rids, no SSRCs in the offer; the streams are placed by their extensions
        media = NegotiatedMedia(mid="1", kind="video", payload_type=VP8, rtx_payload_type=RTX, clock_rate=90000,
                                ext_ids=ext_ids, codec="VP8", rids=["q", "h", "f"])
    else:  # Firefox or Chrome without simulcast: the RTX SSRC comes from a=ssrc-group:FID
        media = NegotiatedMedia(mid="1", kind="video", payload_type=VP8, rtx_payload_type=RTX, clock_rate=90000,
                                codec="VP8", ssrcs=[MEDIA_SSRC], rtx_ssrcs={MEDIA_SSRC: RTX_SSRC})
    pub = side.publish(media)
    sent: list[bytes] = []
    sub = new_subscription(pub, "0", 96, sent.append)
    assert isinstance(sub, VideoSubscription)
    pub.subscribe(sub)
    sub.negotiated = True
    sub.activate()
    source = StubPublisher(side, transport, loss, b"q" if simulcast else None)
    return clock, side, source, sub, sent


def run_call(clock: Clock, side: PublisherSide, source: StubPublisher, frames: int) -> None:
    """`frames` at 30 fps; the room's 50-ms tick runs the retries; the publisher answers NACKs as they come.

    The first frame (the keyframe the subscription starts on) and the last (which shows any loss before it)
    cross the uplink unharmed, so what is lost is exactly what lies between them.
    """
    loss, source.loss = source.loss, 0.0
    source.send_frame()
    source.loss = loss
    next_tick = clock.now
    for frame in range(frames):
        source.send_frame()
        source.answer_nacks()
        if frame % 10 == 5:
            source.probe()
        clock.now += 1 / 30
        while clock.now >= next_tick:
            side.repair_tick(clock.now)
            source.answer_nacks()
            next_tick += 0.05
    source.loss = 0.0
    source.send_frame()
    for _ in range(25):  # the last retries, until nothing is missing or given up
        clock.now += 0.05
        side.repair_tick(clock.now)
        source.answer_nacks()


def out_of_order(ours: list[int]) -> int:
    """Packets sent after a packet with a later number."""
    newest, late = ours[0], 0
    for seq in ours[1:]:
        if (seq - newest) & 0xFFFF < 0x8000:
            newest = seq
        else:
            late += 1
    return late


def nacks_in(transport: RecordingTransport) -> list[Nack]:
    return [p for data in transport.rtcp for p in parse_rtcp(data) if isinstance(p, Nack)]


def source_numbers(sent: list[bytes]) -> list[tuple[int, int]]:
    """(our outgoing number, the source number carried in the payload) of each packet the subscriber got."""
    out = []
    for data in sent:
        hdr = parse_rtp(data)
        out.append((hdr.sequence, struct.unpack_from("!H", data, len(data) - 2)[0]))
    return out


@pytest.mark.parametrize("simulcast", [True, False], ids=["rid-simulcast-rrid", "fid-pair"])
def test_lost_packets_come_back_and_the_subscriber_gets_each_once_in_order(
        monkeypatch: pytest.MonkeyPatch, simulcast: bool) -> None:
    clock, side, source, _, sent = setup(monkeypatch, simulcast)
    run_call(clock, side, source, frames=300)  # 900 packets through 10 % loss, across the sequence wrap

    got = source_numbers(sent)
    ours = [seq for seq, _ in got]
    assert len(ours) == len(set(ours)), "nothing duplicated"
    theirs = [src for _, src in sorted(got, key=lambda pair: (pair[0] - got[0][0]) & 0xFFFF)]
    assert theirs == source.sent, "every packet once, numbered in the order of its sequence number"
    layer = side.publications["1"].layers[0]
    assert layer.hold is not None
    # Sent in that order too, but for the few whose retransmission was lost as well and came after the hold.
    assert out_of_order(ours) == layer.hold.released_late < 10
    repair = cast(dict[str, int], layer.describe(clock.now)["repair"])
    lost = len(source.sent) - layer.stats.received  # type: ignore[union-attr]
    assert lost > 50 and repair["recovered"] == lost and repair["gave_up"] == 0
    assert repair["rtx_padding"] > 0 and repair["rtx_dropped"] > 0  # the probes were dropped and counted
    # What we report to the publisher is its uplink's loss, before repair.
    block = layer.stats.report_block()  # type: ignore[union-attr]
    assert block is not None and block.packets_lost == lost


def test_the_first_nack_goes_out_with_the_packet_that_shows_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, source, _, _ = setup(monkeypatch, simulcast=False, loss=0.0)
    source.send_frame()
    source.loss = 1.0
    source.send_frame(packets=2)  # lost
    source.loss = 0.0
    assert nacks_in(source.transport) == []
    source.send_frame(packets=1)  # no tick has run since
    assert [n.lost for n in nacks_in(source.transport)] == [[(65000 + 3) & 0xFFFF, (65000 + 4) & 0xFFFF]]
    clock.now += 0.01
    side.repair_tick(clock.now)  # within the round trip: not asked again
    assert len(nacks_in(source.transport)) == 1
    clock.now += 0.03
    side.repair_tick(clock.now)
    assert len(nacks_in(source.transport)) == 2


def test_nobody_watching_means_no_nacks(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, source, sub, _ = setup(monkeypatch, simulcast=False, loss=0.3)
    sub.deactivate()
    run_call(clock, side, source, frames=60)
    assert nacks_in(source.transport) == []


def test_with_upstream_nack_off_the_loss_reaches_the_subscriber(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, source, _, sent = setup(monkeypatch, simulcast=True, upstream_nack=False)
    run_call(clock, side, source, frames=300)
    assert nacks_in(source.transport) == []
    layer = side.publications["1"].layers[0]
    assert "repair" not in layer.describe(clock.now)
    assert len(sent) == layer.stats.received < len(source.sent)  # type: ignore[union-attr]


def test_the_server_setting_is_on_by_default_and_upstream_nack_0_turns_it_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPSTREAM_NACK", raising=False)
    assert Config.from_args([]).upstream_nack is True
    assert Config.from_args(["--no-upstream-nack"]).upstream_nack is False
    monkeypatch.setenv("UPSTREAM_NACK", "0")
    assert Config.from_args([]).upstream_nack is False
    assert Config.from_args(["--upstream-nack"]).upstream_nack is True


def test_a_subscription_dropping_temporal_layers_gets_no_late_packets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its offsets close the gaps of what it drops, in arrival order: a late packet would take a used number."""
    clock, side, source, sub, sent = setup(monkeypatch, simulcast=False)
    sub.select(0, 1)  # a thin downlink: the top temporal layer goes
    run_call(clock, side, source, frames=300)
    ours = [seq for seq, _ in source_numbers(sent)]
    assert len(ours) == len(set(ours)), "no number used twice"
    got = source_numbers(sent)
    theirs = [src for _, src in sorted(got, key=lambda pair: (pair[0] - got[0][0]) & 0xFFFF)]
    assert theirs == sorted(theirs, key=lambda seq: (seq - source.sent[0]) & 0xFFFF), "in source order"
    layer = side.publications["1"].layers[0]
    assert layer.hold is not None and out_of_order(ours) == 0  # the late ones did not go to this subscription
    # What it forwards is every packet of the temporal layers it keeps, but for the few repaired too late.
    kept = {seq for seq in source.sent if tid_of(source.history[seq]) <= 1}
    forwarded = {src for _, src in got}
    assert forwarded <= kept and len(kept - forwarded) <= layer.hold.released_late
    assert cast(dict[str, int], layer.describe(clock.now)["repair"])["recovered"] > 50


def tid_of(packet: bytes) -> int:
    return packet[parse_rtp(packet).payload_start + 5] >> 6


def test_without_an_answer_what_waits_behind_a_gap_goes_after_the_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, source, _, sent = setup(monkeypatch, simulcast=False, loss=0.0)
    side.repair_tick(clock.now)  # reads the RTT: 30 ms, so packets wait at most 2 x 30 + 20 ms
    source.send_frame()
    source.loss = 1.0
    source.send_frame(packets=1)  # lost, and never retransmitted (the stub does not answer)
    source.loss = 0.0
    before = len(sent)
    source.send_frame()
    assert len(sent) == before  # held behind the gap
    clock.now += 0.05
    side.repair_tick(clock.now)
    assert len(sent) == before
    clock.now += 0.035
    side.repair_tick(clock.now)
    assert len(sent) == before + 3  # waited its time: goes without the missing packet, in order
    assert out_of_order([seq for seq, _ in source_numbers(sent)]) == 0


def test_a_padding_packet_behind_a_gap_keeps_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chrome without RTX pads on the media SSRC: skipped in its turn, the numbering stays gapless and in order."""
    _, side, source, _, sent = setup(monkeypatch, simulcast=False, loss=0.0)
    source.send_frame()
    source.loss = 1.0
    source.send_frame(packets=1)  # lost
    source.loss = 0.0
    padding = RtpPacket(payload_type=VP8, sequence=source.seq, timestamp=0, ssrc=MEDIA_SSRC,
                        padding_size=100).serialize()
    source.history[source.seq] = padding
    source.sent.append(source.seq)
    source.seq += 1
    side.on_rtp(padding)
    source.send_frame()
    source.answer_nacks()
    ours = [seq for seq, _ in source_numbers(sent)]
    assert ours == [(ours[0] + i) & 0xFFFF for i in range(len(ours))] and len(ours) == 3 + 1 + 3

"""Subscription rewriting, keyframe gating, NACK answers from the cache and receiver-report bookkeeping."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rooms.packet_cache import CACHE_SIZE, PacketCache
from mediaserver.rooms.publication import Publication
from mediaserver.rooms.receive_stats import ReceiveStats
from mediaserver.rooms.subscription import Subscription
from mediaserver.rooms.subscriptions import new_subscription
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.ntp import ntp_middle32
from mediaserver.rtp.rtcp import ReportBlock
from mediaserver.rtp.seq import seq_diff
from mediaserver.rtp.vp8 import parse_vp8

SOURCE_SSRC = 0x11111111
KEYFRAME_VP8 = bytes([0x10, 0x00, 0x9D, 0x01, 0x2A])  # S=1, PID=0, frame tag P bit clear
DELTA_VP8 = bytes([0x10, 0x01, 0x00, 0x00])  # frame tag P bit set: inter frame


def rtp(seq: int, ts: int, payload: bytes, pt: int = 96, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF,
                       SOURCE_SSRC) + payload


class Sink:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.keyframe_requests = 0

    def send(self, packet: bytes) -> None:
        self.sent.append(packet)

    def request(self, ssrc: int) -> None:
        assert ssrc == SOURCE_SSRC
        self.keyframe_requests += 1


def make(kind: str = "video") -> tuple[Subscription, Sink]:
    pub = Publication("alice", "0", kind, 96 if kind == "video" else 111, None,
                      90000 if kind == "video" else 48000, [])
    pub.layer_for(SOURCE_SSRC, None)
    sink = Sink()
    pub.send_pli = sink.request
    sub = new_subscription(pub, "3", 100 if kind == "video" else 111, sink.send)
    pub.subscribe(sub)
    return sub, sink


def forward(sub: Subscription, packet: bytes, now: float = 0.0) -> None:
    """Deliver as the publisher side does: to the subscriptions in the layer's fan-out list."""
    hdr = parse_rtp(packet)
    desc = parse_vp8(packet, hdr.payload_start) if sub.kind == "video" else None
    if desc is not None:
        sub.publication.layers[0].history.put(hdr.sequence, packet)
    for member in sub.publication.fanout[0]:
        member.forward(packet, hdr, packet[hdr.payload_start :], desc, 0, now)


def test_nothing_is_forwarded_before_activation() -> None:
    sub, sink = make()
    forward(sub, rtp(1, 1000, KEYFRAME_VP8))
    assert sink.sent == []


def test_video_waits_for_a_keyframe_and_asks_for_one() -> None:
    sub, sink = make()
    sub.activate()
    assert sink.keyframe_requests == 1
    forward(sub, rtp(10, 1000, DELTA_VP8))
    assert sink.sent == []
    forward(sub, rtp(11, 4000, KEYFRAME_VP8))
    forward(sub, rtp(12, 4000, DELTA_VP8))
    assert len(sink.sent) == 2
    first, second = (parse_rtp(p) for p in sink.sent)
    assert first.ssrc == second.ssrc == sub.ssrc != SOURCE_SSRC
    assert first.payload_type == 100
    assert second.sequence == (first.sequence + 1) & 0xFFFF
    assert sink.sent[0][first.payload_start :] == KEYFRAME_VP8


def test_audio_starts_at_once_and_keeps_marker_and_payload() -> None:
    sub, sink = make("audio")
    sub.activate()
    assert sink.keyframe_requests == 0
    forward(sub, rtp(500, 960, b"opus", pt=111, marker=True))
    hdr = parse_rtp(sink.sent[0])
    assert hdr.marker and hdr.payload_type == 111 and sink.sent[0][12:] == b"opus"


def test_header_extensions_are_not_forwarded() -> None:
    sub, sink = make("audio")
    sub.activate()
    ext = struct.pack("!HH", 0xBEDE, 1) + bytes([0x40, ord("1"), 0, 0])  # mid "1" of the publisher
    packet = struct.pack("!BBHII", 0x90, 111, 7, 960, SOURCE_SSRC) + ext + b"voice"
    forward(sub, packet)
    out = sink.sent[0]
    assert out[0] & 0x10 == 0 and out[12:] == b"voice"


@settings(max_examples=200)
@given(st.lists(st.integers(-3, 6), min_size=1, max_size=200), st.integers(0, 0xFFFF),
       st.integers(0, 2**32 - 1))
def test_rewrite_preserves_sequence_and_timestamp_deltas(steps: list[int], seq0: int, ts0: int) -> None:
    """Any reordering/gap pattern: packets from the start point on keep their deltas (modulo the field
    widths); packets older than the first forwarded one are dropped, their numbers belong to the past, and so
    is a repeat of the newest (a duplicate the network made)."""
    sub, sink = make("audio")
    sub.activate()
    seq, ts = seq0, ts0
    sent_in = []
    for step in steps:
        seq = (seq + step) & 0xFFFF
        ts = (ts + 960 * step) & 0xFFFFFFFF
        sent_in.append((seq, ts))
        forward(sub, rtp(seq, ts, b"x", pt=111))
    first = newest = sent_in[0][0]
    expected = [sent_in[0]]
    for s_in, t_in in sent_in[1:]:
        if seq_diff(s_in, first) >= 0 and s_in != newest:
            expected.append((s_in, t_in))
        if seq_diff(s_in, newest) > 0:
            newest = s_in
    out = [parse_rtp(p) for p in sink.sent]
    assert len(out) == len(expected)
    for (s_in, t_in), hdr in zip(expected, out, strict=True):
        assert (hdr.sequence - s_in) & 0xFFFF == (out[0].sequence - expected[0][0]) & 0xFFFF
        assert (hdr.timestamp - t_in) & 0xFFFFFFFF == (out[0].timestamp - expected[0][1]) & 0xFFFFFFFF


def test_reactivation_continues_numbering_after_a_pause() -> None:
    sub, sink = make()
    sub.activate()
    forward(sub, rtp(100, 9000, KEYFRAME_VP8), now=1.0)
    last = parse_rtp(sink.sent[-1])
    sub.deactivate()
    sub.publication.layers[0].last_pli = -1e9  # let the re-activation's keyframe request through
    sub.activate()
    # The source restarted with unrelated numbering; our stream must stay contiguous and move forward.
    forward(sub, rtp(7, 5, KEYFRAME_VP8), now=3.0)
    nxt = parse_rtp(sink.sent[-1])
    assert nxt.sequence == (last.sequence + 1) & 0xFFFF
    delta = (nxt.timestamp - last.timestamp) & 0xFFFFFFFF
    assert 2 * 90000 - 10 <= delta <= 2 * 90000 + 10


def test_nack_is_answered_from_the_cache_and_misses_are_counted() -> None:
    sub, sink = make("video")
    sub.activate()
    for i in range(10):
        forward(sub, rtp(1000 + i, 3000 * i, KEYFRAME_VP8 if i == 0 else DELTA_VP8))
    out_seqs = [parse_rtp(p).sequence for p in sink.sent]
    assert len(out_seqs) == 10
    sent = list(sink.sent)
    sink.sent.clear()
    sub.retransmit([out_seqs[3], out_seqs[7], (out_seqs[-1] + 100) & 0xFFFF], 0.0)
    assert sink.sent == [sent[3], sent[7]]  # the very packets sent before, byte for byte
    assert sub.retransmits == 2 and sub.nack_misses == 1


def test_audio_keeps_no_cache_so_a_nack_for_it_is_a_counted_miss() -> None:
    # Subscriber offers negotiate NACK for video only: caching audio would only cost memory.
    sub, sink = make("audio")
    sub.activate()
    for i in range(5):
        forward(sub, rtp(1000 + i, 960 * i, bytes([i]), pt=111))
    out_seqs = [parse_rtp(p).sequence for p in sink.sent]
    sink.sent.clear()
    sub.retransmit(out_seqs[:2], 0.0)
    assert sink.sent == [] and sub.retransmits == 0 and sub.nack_misses == 2


def test_cache_slot_reuse_is_not_mistaken_for_the_old_packet() -> None:
    cache = PacketCache()
    old = struct.pack("!BBHII", 0x80, 96, 5, 0, 1)
    new = struct.pack("!BBHII", 0x80, 96, 5 + CACHE_SIZE, 0, 1)
    cache.put(5, old)
    cache.put(5 + CACHE_SIZE, new)
    assert cache.get(5) is None
    assert cache.get(5 + CACHE_SIZE) == new


def test_receiver_report_gives_loss_jitter_and_rtt() -> None:
    sub, _ = make("audio")
    sub.activate()
    forward(sub, rtp(1, 960, b"a", pt=111), now=10.0)
    sr = sub.sender_report(now_ntp=(3_900_000_000 << 32), now=10.5)
    assert sr is not None and sr.packet_count == 1 and sr.octet_count == 1
    lsr = ntp_middle32(sr.ntp_timestamp)
    # The subscriber held our SR for 0.25 s and answers 0.35 s after we sent it: RTT 0.1 s.
    now_ntp = sr.ntp_timestamp + int(0.35 * 2**32)
    block = ReportBlock(ssrc=sub.ssrc, fraction_lost=64, packets_lost=3, highest_seq=1, jitter=12,
                        lsr=lsr, dlsr=int(0.25 * 65536))
    sub.on_report_block(block, now_ntp)
    assert sub.fraction_lost == 0.25 and sub.packets_lost == 3 and sub.jitter == 12
    assert sub.rtt is not None and abs(sub.rtt - 0.1) < 0.001


def test_receive_stats_report_fraction_lost_per_interval() -> None:
    stats = ReceiveStats(ssrc=9, clock_rate=90000)
    for seq in [65530, 65531, 65533, 65535, 0, 1, 3]:  # 3 lost across the wrap
        stats.update(seq, seq * 3000, 0.0, 100)
    block = stats.report_block()
    assert block is not None
    assert block.packets_lost == 3
    assert block.fraction_lost == (3 << 8) // 10
    assert block.highest_seq == 0x10000 + 3
    for seq in range(4, 14):
        stats.update(seq, seq * 3000, 0.0, 100)
    second = stats.report_block()
    assert second is not None and second.fraction_lost == 0 and second.packets_lost == 3


def test_a_long_stream_keeps_flowing_past_the_sequence_wrap() -> None:
    """Regression: a fixed switch point made every packet look old after 32768 packets (about 11 min of audio)."""
    sub, sink = make("audio")
    sub.activate()
    for i in range(140_000):  # more than two full 16-bit cycles
        forward(sub, rtp(1000 + i, 960 * i, b"x", pt=111))
    assert len(sink.sent) == 140_000
    last, before = parse_rtp(sink.sent[-1]), parse_rtp(sink.sent[-2])
    assert last.sequence == (before.sequence + 1) & 0xFFFF
    # A straggler far behind is still dropped rather than given a number from the past.
    forward(sub, rtp(1000 + 140_000 - 20_000, 0, b"late", pt=111))
    assert len(sink.sent) == 140_000


def test_nack_after_a_restart_rebuilds_7_bit_picture_ids_and_padding_exactly() -> None:
    # A 7-bit PictureID without TL0PICIDX, the padding bit set, and a re-based stream (offsets non-zero): the
    # retransmission is rebuilt from the layer's history and must equal what was sent, byte for byte.
    sub, sink = make("video")
    sub.activate()

    def vp8(seq: int, pid: int, key: bool) -> bytes:
        descriptor = bytes([0x90, 0x80, pid & 0x7F]) + (bytes([0x00, 0x9D, 0x01, 0x2A]) if key else b"\x01\x00")
        header = struct.pack("!BBHII", 0xA0, 96, seq & 0xFFFF, seq * 3000, SOURCE_SSRC)  # P bit set
        return header + descriptor + b"\x00\x00\x03"  # 3 bytes of padding

    for i in range(4):
        forward(sub, vp8(100 + i, 5 + i, key=i == 0))
    sub.restart()  # e.g. host unmute: start again on the next keyframe, numbering kept continuous
    for i in range(4):
        forward(sub, vp8(900 + i, 120 + i, key=i == 0), now=1.0)
    assert sub.pic_offset != 0  # the source jumped: its ids are moved
    sent = list(sink.sent)
    assert len(sent) == 8
    assert [parse_vp8(p, parse_rtp(p).payload_start).picture_id for p in sent] == list(range(5, 13))

    sink.sent.clear()
    sub.retransmit([parse_rtp(p).sequence for p in sent], 0.0)
    assert sink.sent == sent and sub.nack_misses == 0

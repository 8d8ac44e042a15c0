"""Outgoing numbering under reordering: packets arriving out of order around dropped temporal frames, padding
skips and probe padding never repeat an outgoing sequence number nor put two packets out of their order."""

from __future__ import annotations

import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rooms.publication import Publication
from mediaserver.rooms.subscriptions import new_subscription
from mediaserver.rooms.video_subscription import VideoSubscription
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.vp8 import parse_vp8

SOURCE_SSRC = 0x22222222
# Chrome's L1T3 pattern of temporal ids, frame by frame.
L1T3 = (0, 2, 1, 2)


def vp8_packet(seq: int, ts: int, pic: int, tid: int, start: bool, keyframe: bool, marker: bool) -> bytes:
    descriptor = bytes([0x90 if start else 0x80, 0xA0, 0x80 | (pic >> 8 & 0x7F), pic & 0xFF, tid << 6])
    frame = (b"\x00\x9d\x01\x2a" if keyframe else b"\x01\x00\x00\x00") if start else b"\x00" * 4
    header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 96, seq & 0xFFFF, ts, SOURCE_SSRC)
    return header + descriptor + frame


def padding_packet(seq: int, ts: int) -> bytes:
    return struct.pack("!BBHII", 0xA0, 96, seq & 0xFFFF, ts, SOURCE_SSRC) + b"\x00" * 3 + b"\x04"


def stream(frames: int, sizes: list[int], pads: list[int], seq0: int) -> list[bytes]:
    """A keyframe, then frames of the L1T3 pattern; `pads[i]` padding-only packets after frame i."""
    packets: list[bytes] = []
    seq = seq0
    for frame in range(frames):
        ts = 3000 * (frame + 1)
        size = sizes[frame % len(sizes)]
        for part in range(size):
            packets.append(vp8_packet(seq, ts, frame, L1T3[frame % 4], part == 0, frame == 0, part == size - 1))
            seq += 1
        for _ in range(pads[frame % len(pads)]):
            packets.append(padding_packet(seq, ts))
            seq += 1
    return packets


def subscription(max_tid: int) -> tuple[VideoSubscription, list[bytes]]:
    pub = Publication("alice", "0", "video", 96, None, 90000, [])
    pub.layer_for(SOURCE_SSRC, None)
    sent: list[bytes] = []
    sub = new_subscription(pub, "1", 96, sent.append)
    assert isinstance(sub, VideoSubscription)
    pub.subscribe(sub)
    sub.activate()
    sub.select(0, max_tid)
    return sub, sent


def deliver(sub: VideoSubscription, packet: bytes, now: float) -> None:
    """As the publisher side does it: padding-only packets are skips, the rest is forwarded."""
    hdr = parse_rtp(packet)
    if hdr.payload_end <= hdr.payload_start:
        sub.skip(hdr, 0)
        return
    sub.forward(packet, hdr, packet[hdr.payload_start :], parse_vp8(packet, hdr.payload_start), 0, now)


def arrival_order(count: int, rng: random.Random, reorder: float, lose: float) -> list[int]:
    """Indices in a network's order: each packet late by a few places at random, some lost (never the first)."""
    keyed = [(i + (rng.random() * 6 if rng.random() < reorder else 0), i) for i in range(count)]
    return [i for _, i in sorted(keyed) if i == 0 or rng.random() >= lose]


def check_numbering(sent: list[bytes], source_seqs: list[int]) -> None:
    seen: dict[int, int] = {}
    for packet in sent:
        out = parse_rtp(packet).sequence
        source = source_seqs[struct.unpack("!H", packet[-2:])[0]]  # the tag: the packet's index in the source
        assert out not in seen, f"outgoing {out} used for source {seen[out]} and {source}"
        seen[out] = source
    # In the source's order the outgoing numbers rise (no wrap in these short runs: base them well below it).
    ordered = [seen[k] for k in sorted(seen)]
    assert ordered == sorted(ordered), "outgoing numbers reorder packets"


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    frames=st.integers(4, 40),
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    pads=st.lists(st.integers(0, 2), min_size=1, max_size=4),
    max_tid=st.sampled_from([0, 1, 2]),
    reorder=st.floats(0, 0.6),
    lose=st.floats(0, 0.2),
)
def test_reordered_arrivals_never_repeat_or_reorder_outgoing_numbers(
        seed: int, frames: int, sizes: list[int], pads: list[int], max_tid: int, reorder: float,
        lose: float) -> None:
    rng = random.Random(seed)
    packets = stream(frames, sizes, pads, seq0=1000)
    sub, sent = subscription(max_tid)
    # Media packets end in a tag, their index (padding packets must end in their padding count, and are
    # never forwarded): the outgoing copy, its picture id moved, still says which source packet it is.
    tagged = [p if p[0] & 0x20 else p + struct.pack("!H", i) for i, p in enumerate(packets)]
    for at, index in enumerate(arrival_order(len(tagged), rng, reorder, lose)):
        deliver(sub, tagged[index], at * 0.005)
    check_numbering(sent, [parse_rtp(p).sequence for p in packets])


def test_the_helpers_case_a_late_packet_after_a_padding_skip_gets_its_own_number() -> None:
    """The report's order: 100 forwarded, 102 (padding) skipped, 101 late, 103: [N, N+1, N+2], no repeat."""
    sub, sent = subscription(2)
    first = vp8_packet(99, 3000, 0, 0, True, True, True)
    deliver(sub, first, 0.0)
    late = vp8_packet(101, 6000, 1, 0, True, False, True)
    deliver(sub, vp8_packet(100, 6000, 1, 0, True, False, False), 0.01)
    deliver(sub, padding_packet(102, 6000), 0.02)
    deliver(sub, late, 0.03)
    deliver(sub, vp8_packet(103, 9000, 2, 0, True, False, True), 0.04)
    numbers = [parse_rtp(p).sequence for p in sent]
    assert len(set(numbers)) == len(numbers) == 4
    assert numbers == sorted(numbers)
    assert numbers[-1] - numbers[0] == 3  # the skipped padding closed its gap; the late packet kept its own


def test_a_late_packet_does_not_pull_the_numbering_back_for_the_next_switch() -> None:
    """A late packet is the newest sent last; the numbering continues after the highest, not after it."""
    sub, sent = subscription(2)
    deliver(sub, vp8_packet(10, 3000, 0, 0, True, True, True), 0.0)
    deliver(sub, vp8_packet(12, 6000, 1, 0, True, False, True), 0.01)
    deliver(sub, vp8_packet(11, 6000, 1, 0, True, False, False), 0.02)
    highest = max(parse_rtp(p).sequence for p in sent)
    assert sub.last_seq == highest

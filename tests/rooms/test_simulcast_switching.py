"""Layer switches and temporal-layer drops keep the subscriber's stream continuous (property tests)."""

from __future__ import annotations

import itertools
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rooms.publication import Publication
from mediaserver.rooms.retransmit_budget import MAX_LOST_PER_NACK
from mediaserver.rooms.subscriptions import new_subscription
from mediaserver.rooms.video_subscription import VideoSubscription
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.vp8 import parse_vp8

SSRCS = (0xA0000001, 0xA0000002, 0xA0000003)
TID_PATTERN = (0, 2, 1, 2)  # Chrome's L1T3 frame order


class SimulcastSource:
    """Three independent encodings of one camera, each with its own seq/ts/PictureID numbering."""

    def __init__(self, seeds: tuple[int, int, int]) -> None:
        self.seq = [s & 0xFFFF for s in seeds]
        self.ts = [(s * 7919) & 0xFFFFFFFF for s in seeds]
        self.pic = [(s * 31) & 0x7FFF for s in seeds]
        self.tl0 = [s & 0xFF for s in seeds]
        self.frame = 0

    def frame_packets(self, layer: int, keyframe: bool, packets: int) -> list[bytes]:
        tid = 0 if keyframe else TID_PATTERN[self.frame % 4]
        if tid == 0:
            self.tl0[layer] = (self.tl0[layer] + 1) & 0xFF
        out = []
        for i in range(packets):
            start = i == 0
            descriptor = bytes([0x90 if start else 0x80, 0xE0, 0x80 | (self.pic[layer] >> 8), self.pic[layer] & 0xFF,
                                self.tl0[layer], tid << 6])
            frame_tag = bytes([0x00 if keyframe else 0x01, 0, 0]) if start else b"\x55\x55"
            marker = 0x80 if i == packets - 1 else 0
            header = struct.pack("!BBHII", 0x80, marker | 96, self.seq[layer], self.ts[layer], SSRCS[layer])
            out.append(header + descriptor + frame_tag)
            self.seq[layer] = (self.seq[layer] + 1) & 0xFFFF
        self.ts[layer] = (self.ts[layer] + 3000) & 0xFFFFFFFF
        self.pic[layer] = (self.pic[layer] + 1) & 0x7FFF
        return out


def setup() -> tuple[Publication, VideoSubscription, list[bytes], list[int]]:
    pub = Publication("alice", "1", "video", 96, 97, 90000, ["q", "h", "f"])
    for ssrc, rid in zip(SSRCS, "qhf", strict=True):
        pub.layer_for(ssrc, rid)
    plis: list[int] = []
    pub.send_pli = plis.append
    sent: list[bytes] = []
    sub = new_subscription(pub, "0", 96, sent.append)
    assert isinstance(sub, VideoSubscription)
    pub.subscribe(sub)
    sub.negotiated = True
    return pub, sub, sent, plis


def present(values: list[int | None], what: str) -> list[int]:
    """The values, each of which the source always sends (a None would be a descriptor the test never made)."""
    out = []
    for value in values:
        assert value is not None, what
        out.append(value)
    return out


def deliver(pub: Publication, packet: bytes, now: float) -> None:
    hdr = parse_rtp(packet)
    layer = SSRCS.index(hdr.ssrc)
    desc = parse_vp8(packet, hdr.payload_start)
    pub.layers[layer].history.put(hdr.sequence, packet)  # as the publisher side does, for NACK answers
    for sub in list(pub.fanout[layer]):
        sub.forward(packet, hdr, packet[hdr.payload_start :], desc, layer, now)


actions = st.lists(
    st.tuples(
        st.integers(0, 2),  # target spatial layer
        st.integers(0, 2),  # max temporal id
        st.integers(1, 12),  # frames until the next action
        st.booleans(),  # every layer sends a keyframe at this point
        st.integers(1, 3),  # packets per frame
    ),
    min_size=1, max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(actions, st.tuples(st.integers(0, 2**16), st.integers(0, 2**16), st.integers(0, 2**16)))
def test_switches_and_temporal_drops_keep_the_stream_continuous(
    plan: list[tuple[int, int, int, bool, int]], seeds: tuple[int, int, int]
) -> None:
    pub, sub, sent, _ = setup()
    source = SimulcastSource(seeds)
    sub.activate()
    now = 0.0
    first = True
    for target, max_tid, frames, keyframe, packets in plan:
        sub.select(target, max_tid)
        for f in range(frames):
            now += 1 / 30
            for layer in range(3):
                for packet in source.frame_packets(layer, keyframe=(first or (keyframe and f == 0)),
                                                   packets=packets):
                    deliver(pub, packet, now)
            source.frame += 1
            first = False
    assert sent, "the first keyframe always starts the stream"
    headers = [parse_rtp(p) for p in sent]
    descs = [parse_vp8(p, h.payload_start) for p, h in zip(sent, headers, strict=True)]
    assert len({h.ssrc for h in headers}) == 1
    for prev, cur, cur_desc in zip(headers, headers[1:], descs[1:], strict=False):
        assert cur.sequence == (prev.sequence + 1) & 0xFFFF, "sequence numbers are contiguous"
        step = (cur.timestamp - prev.timestamp) & 0xFFFFFFFF
        assert step < 0x80000000, "timestamps never go back"
        if cur_desc.start_of_partition:
            assert step > 0, "each new frame moves time forward"
    pics = present([d.picture_id for d in descs if d.start_of_partition], "every frame carries a PictureID")
    for prev_pic, cur_pic in itertools.pairwise(pics):
        assert cur_pic == (prev_pic + 1) & 0x7FFF, "PictureID advances by one per forwarded frame"
    # Every forwarded frame is decodable: a non-base frame never follows a gap in the base chain.
    tl0s = present([d.tl0picidx for d in descs if d.start_of_partition and d.tid == 0],
                   "every base-layer frame carries a TL0PICIDX")
    for prev_tl0, cur_tl0 in itertools.pairwise(tl0s):
        assert cur_tl0 == (prev_tl0 + 1) & 0xFF, "TL0PICIDX advances by one per base-layer frame"
    # A NACK is answered with the very bytes sent, across switches and drops, rebuilt from the layers'
    # shared history; a packet that history or the 512-slot map no longer holds is a miss, never a wrong one.
    recent = sent[-512:]
    sent_before = len(sent)
    lost = [h.sequence for h in headers[-512:]]
    for start in range(0, len(lost), MAX_LOST_PER_NACK):  # as a receiver would: NACKs of a bounded size
        sub.retransmit(lost[start : start + MAX_LOST_PER_NACK], 0.0)
    answers = sent[sent_before:]
    by_seq = {parse_rtp(p).sequence: p for p in recent}
    assert all(by_seq[parse_rtp(a).sequence] == a for a in answers)
    assert len(answers) + sub.nack_misses == len(recent)
    assert answers and answers[-1] == sent[sent_before - 1], "the newest packet is always still there"


def test_switch_waits_for_the_target_keyframe_and_asks_for_it() -> None:
    pub, sub, sent, plis = setup()
    source = SimulcastSource((1, 2, 3))
    sub.activate()
    for layer in range(3):
        for packet in source.frame_packets(layer, keyframe=True, packets=1):
            deliver(pub, packet, 0.0)
    assert sub.current_layer == 0 and len(sent) == 1
    sub.select(2, 2)
    assert plis[-1] == SSRCS[2], "a keyframe is requested on the target layer"
    source.frame += 1
    for layer in range(3):
        for packet in source.frame_packets(layer, keyframe=False, packets=1):
            deliver(pub, packet, 0.04)
    assert sub.current_layer == 0, "no switch on a delta frame"
    for layer in range(3):
        for packet in source.frame_packets(layer, keyframe=True, packets=1):
            deliver(pub, packet, 0.08)
    assert sub.current_layer == 2 and sub.layer_switches == 1
    assert parse_rtp(sent[-1]).sequence == (parse_rtp(sent[-2]).sequence + 1) & 0xFFFF
    assert sub not in pub.fanout[0], "the old layer no longer feeds this subscription"


def test_a_pending_spatial_step_never_adds_temporal_layers_to_the_layer_still_flowing() -> None:
    """(f, TL0-1) -> (h, all): until h's keyframe, f keeps dropping TL2; after it, h goes out with every layer."""
    pub, sub, sent, _ = setup()
    source = SimulcastSource((100, 2000, 30000))
    sub.select(2, 1)
    sub.activate()
    for packet in source.frame_packets(2, True, 2):
        deliver(pub, packet, 0.0)
    sub.select(1, 2)
    tids_on_f = []
    for frame in range(8):
        source.frame += 1
        for layer in (1, 2):
            for packet in source.frame_packets(layer, False, 1):
                before = len(sent)
                deliver(pub, packet, 0.01 * frame)
                if layer == 2 and len(sent) > before:
                    tids_on_f.append(sent[-1][12 + 5] >> 6)
    assert tids_on_f and max(tids_on_f) <= 1, tids_on_f
    source.frame += 1
    for packet in source.frame_packets(1, True, 1):
        deliver(pub, packet, 0.2)
    for _ in range(4):
        source.frame += 1
        for packet in source.frame_packets(1, False, 1):
            deliver(pub, packet, 0.3)
    assert sub.current_layer == 1 and sub.max_tid == 2

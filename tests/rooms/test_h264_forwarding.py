"""H.264 through the forwarding path: simulcast bound by rid, layer sizes from SPS, switches on IDR, no munging."""

from __future__ import annotations

import itertools
import struct
from typing import cast

import pytest

from mediaserver.rooms import publishing
from mediaserver.rooms.publication import Publication
from mediaserver.rooms.publishing import PublisherSide
from mediaserver.rooms.subscriptions import new_subscription
from mediaserver.rooms.video_subscription import VideoSubscription
from mediaserver.rtp.extensions import URI_MID, URI_RID
from mediaserver.rtp.h264 import packetize
from mediaserver.rtp.header import parse_rtp
from mediaserver.sdp.negotiation import NegotiatedMedia
from mediaserver.transport.peer import PeerTransport

from ..rtp.h264_samples import encode_h264
from .test_stream_gap import Clock, StubTransport

PT = 102
MID_EXT, RID_EXT = 4, 10
SIZES = {"q": (320, 180), "h": (640, 360), "f": (1280, 720)}
SSRCS = {"q": 0x1001, "h": 0x1002, "f": 0x1003}
P_SLICE = bytes([0x41, 0x9A]) + bytes(range(250)) * 3  # first_mb_in_slice 0: a picture's first slice


def _keyframe_units(size: tuple[int, int], cache: dict[tuple[int, int], list[bytes]] = {}) -> list[bytes]:  # noqa: B006
    if size not in cache:
        cache[size] = encode_h264(*size)[0]
    return cache[size]


class H264Simulcast:
    """Three encodings of one camera as Chrome sends them: own SSRC, numbering, mid and rid header extensions."""

    def __init__(self) -> None:
        self.seq = {"q": 100, "h": 20_000, "f": 65_530}
        self.ts = {"q": 1000, "h": 7_000_000, "f": 0xFFFF_F000}

    def frame(self, rid: str, keyframe: bool) -> list[bytes]:
        units = _keyframe_units(SIZES[rid]) if keyframe else [P_SLICE]
        payloads = packetize(units, mtu=400)
        ext = _sdes(MID_EXT, b"1") + _sdes(RID_EXT, rid.encode())
        ext += bytes(-len(ext) % 4)
        out = []
        for i, payload in enumerate(payloads):
            marker = 0x80 if i == len(payloads) - 1 else 0
            header = struct.pack("!BBHII", 0x90, marker | PT, self.seq[rid], self.ts[rid], SSRCS[rid])
            out.append(header + struct.pack("!HH", 0xBEDE, len(ext) // 4) + ext + payload)
            self.seq[rid] = (self.seq[rid] + 1) & 0xFFFF
        self.ts[rid] = (self.ts[rid] + 3000) & 0xFFFFFFFF
        return out


def _sdes(ext_id: int, value: bytes) -> bytes:
    return bytes([(ext_id << 4) | (len(value) - 1)]) + value


def h264_room(monkeypatch: pytest.MonkeyPatch) -> tuple[Clock, PublisherSide, Publication, VideoSubscription,
                                                        list[bytes]]:
    clock = Clock()
    monkeypatch.setattr(publishing, "time", clock)
    side = PublisherSide("alice", cast(PeerTransport, StubTransport()), rtcp_ssrc=1)
    pub = side.publish(NegotiatedMedia(mid="1", kind="video", payload_type=PT, rtx_payload_type=103,
                                       clock_rate=90000, codec="H264", offered_codecs=("VP8", "H264"),
                                       ext_ids={URI_MID: MID_EXT, URI_RID: RID_EXT}, rids=["q", "h", "f"]))
    pub.send_pli = lambda ssrc: None
    sent: list[bytes] = []
    sub = new_subscription(pub, "0", 102, sent.append)
    assert isinstance(sub, VideoSubscription)
    pub.subscribe(sub)
    sub.negotiated = True
    sub.activate()
    return clock, side, pub, sub, sent


def send(side: PublisherSide, clock: Clock, packets: list[bytes]) -> None:
    for packet in packets:
        clock.now += 0.001
        side.on_rtp(packet)


def payload(packet: bytes) -> bytes:
    return packet[parse_rtp(packet).payload_start :]


def test_layers_are_bound_by_rid_and_sized_from_their_sps(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, pub, _, _ = h264_room(monkeypatch)
    source = H264Simulcast()
    for rid in "qhf":
        send(side, clock, source.frame(rid, keyframe=True) + source.frame(rid, keyframe=False))
    assert [(layer.rid, layer.ssrc, layer.width, layer.height) for layer in pub.layers] == [
        (rid, SSRCS[rid], *SIZES[rid]) for rid in "qhf"]
    assert pub.codec_name == "H264" and side.rtp_errors == 0


def test_a_switch_waits_for_the_targets_idr_and_the_stream_stays_continuous(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, _, sub, sent = h264_room(monkeypatch)
    source = H264Simulcast()
    send(side, clock, source.frame("q", keyframe=False))
    assert sent == []  # a decoder cannot start on a P frame
    expected: list[bytes] = []
    for keyframe in (True, False, False):
        frame = source.frame("q", keyframe)
        expected += frame
        send(side, clock, frame + source.frame("f", keyframe=False))
    assert len(sent) == len(expected)

    sub.select(2, 2)  # the tile was pinned: the top layer, from its next IDR on
    q_frame = source.frame("q", keyframe=False)
    send(side, clock, source.frame("f", keyframe=False) + q_frame)
    before = len(sent)
    assert before == len(expected) + len(q_frame)  # still q: f has sent no IDR yet
    f_key = source.frame("f", keyframe=True)
    send(side, clock, f_key + source.frame("q", keyframe=False) + source.frame("f", keyframe=False))
    after_switch = sent[before:]
    assert [payload(p) for p in after_switch[: len(f_key)]] == [payload(p) for p in f_key]  # not one byte munged
    headers = [parse_rtp(p) for p in sent]
    assert all((b.sequence - a.sequence) & 0xFFFF == 1 for a, b in itertools.pairwise(headers))
    steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(headers)]
    assert all(step < 0x8000_0000 for step in steps) and steps[before - 1] > 0
    assert {h.ssrc for h in headers} == {sub.ssrc} and {h.payload_type for h in headers} == {102}
    assert sub.current_layer == 2 and sub.layer_switches == 1


def test_a_nack_is_answered_with_the_packet_as_it_was_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    clock, side, _, sub, sent = h264_room(monkeypatch)
    source = H264Simulcast()
    send(side, clock, source.frame("q", keyframe=True) + source.frame("q", keyframe=False))
    lost = parse_rtp(sent[3]).sequence
    sent_before = list(sent)
    sub.retransmit([lost], 0.0)
    assert sent[len(sent_before):] == [sent_before[3]] and sub.retransmits == 1


def test_a_track_recoded_to_vp8_keeps_its_ssrcs_without_the_rid_extensions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chrome stops sending mid/rid once its SSRCs are known, and keeps them across a codec change."""
    clock, side, h264, _, _ = h264_room(monkeypatch)
    source = H264Simulcast()
    for rid in "qhf":
        send(side, clock, source.frame(rid, keyframe=True))
    assert side.unpublish("1", same_ssrcs=True) is h264
    vp8 = side.publish(NegotiatedMedia(mid="1", kind="video", payload_type=96, rtx_payload_type=97,
                                       clock_rate=90000, codec="VP8", offered_codecs=("VP8", "H264"),
                                       ext_ids={URI_MID: MID_EXT, URI_RID: RID_EXT}, rids=["q", "h", "f"]))
    assert [layer.ssrc for layer in vp8.layers] == [SSRCS[rid] for rid in "qhf"]
    # A VP8 keyframe on q's SSRC, with no header extension at all, reaches the new publication's subscriber.
    sent: list[bytes] = []
    sub = new_subscription(vp8, "0", 96, sent.append)
    vp8.subscribe(sub)
    sub.negotiated = True
    sub.activate()
    keyframe = struct.pack("!BBHII", 0x80, 0x80 | 96, 7, 90_000, SSRCS["q"]) + bytes([0x10, 0, 0, 0, 0x9D, 1, 0x2A])
    side.on_rtp(keyframe)
    assert len(sent) == 1 and side.rtp_errors == 0

"""The bots' packets as the media server reads them: mid/rid extensions, VP8 descriptor, keyframes, the tag."""

from __future__ import annotations

import time

from benchmarks.loadtest.media import LAYERS, encode_layer, split_frame
from benchmarks.loadtest.packets import AUDIO_STREAM, EXT_MID, EXT_RID, TAG_SIZE, VP8_KEEP, read_tag, rtp_payload_offset
from benchmarks.loadtest.sender import SendRtp, audio_sender, video_sender
from mediaserver.rtp.extensions import decode_sdes_item, find_extension
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.vp8 import keyframe_size, parse_vp8


def collector(sent: list[bytes]) -> SendRtp:
    def send(packet: bytes) -> bool:
        sent.append(packet)
        return True

    return send


def test_split_frame_makes_even_chunks_with_room_for_the_tag() -> None:
    assert [len(c) for c in split_frame(bytes(2500), 1100)] == [834, 834, 832]
    assert [len(c) for c in split_frame(bytes(5), 1100, minimum=26)] == [26]


def test_video_packets_carry_mid_rid_descriptor_keyframe_and_tag() -> None:
    layer = encode_layer(LAYERS[0])
    sent: list[bytes] = []
    sender = video_sender(7, "1", "q", 0, layer, 96, collector(sent))
    before = time.time_ns()
    sender.emit_frame()  # frame 0 of the loop: the keyframe
    sender.emit_frame()
    first = sent[0]
    hdr = parse_rtp(first)
    assert decode_sdes_item(find_extension(first, hdr, EXT_MID) or b"") == "1"
    assert decode_sdes_item(find_extension(first, hdr, EXT_RID) or b"") == "q"
    desc = parse_vp8(first, hdr.payload_start)
    assert desc.keyframe and desc.start_of_partition and desc.picture_id is not None and desc.tid == 0
    assert keyframe_size(first, desc, hdr.payload_start) == (320, 180)  # the server learns the layer size
    tag = read_tag(first, rtp_payload_offset(first), video=True)
    assert tag is not None and tag.bot == 7 and tag.stream == 1 and tag.sent_ns >= before
    last_of_frame = [p for p in sent if parse_rtp(p).marker]
    assert len(last_of_frame) == 2  # one marker per frame
    second = parse_vp8(sent[-1], parse_rtp(sent[-1]).payload_start)
    assert not second.keyframe and second.tid == 2  # L1T3: the frame after a keyframe is TID 2
    assert all(len(p) - parse_rtp(p).payload_start >= 6 + VP8_KEEP + TAG_SIZE for p in sent)


def test_keyframe_request_restarts_the_loop_at_the_keyframe() -> None:
    layer = encode_layer(LAYERS[0])
    sent: list[bytes] = []
    sender = video_sender(1, "1", "q", 0, layer, 96, collector(sent))
    for _ in range(5):
        sender.emit_frame()
    sent.clear()
    sender.request_keyframe()
    sender.emit_frame()
    assert parse_vp8(sent[0], parse_rtp(sent[0]).payload_start).keyframe
    assert sender.keyframe_requests == 1 and sender.keyframes_sent == 2


def test_audio_packets_carry_mid_and_tag() -> None:
    sent: list[bytes] = []
    sender = audio_sender(3, "0", (bytes(80),), 111, collector(sent))
    sender.emit_frame()
    hdr = parse_rtp(sent[0])
    assert hdr.payload_type == 111 and hdr.marker
    assert decode_sdes_item(find_extension(sent[0], hdr, EXT_MID) or b"") == "0"
    tag = read_tag(sent[0], hdr.payload_start, video=False)
    assert tag is not None and tag.bot == 3 and tag.stream == AUDIO_STREAM and tag.counter == 1

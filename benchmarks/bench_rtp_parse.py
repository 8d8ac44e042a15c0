"""pytest-benchmark cases for the RTP/RTCP/VP8/H.264 parsers and rewriters on the per-packet hot path."""

from typing import Any

from mediaserver.rooms.codec import video_codec
from mediaserver.rtp.extensions import find_extension
from mediaserver.rtp.header import parse_rtp, rewrite_rtp
from mediaserver.rtp.rtcp import ReceiverReport, Remb, ReportBlock, build_compound, parse_rtcp
from mediaserver.rtp.vp8 import parse_vp8, rewrite_vp8

MID_ID = 4
RID_ID = 10

# Chrome-like 1200-byte VP8 simulcast packet: one-byte extensions transport-cc (3), abs-send-time (2),
# mid (4) = "1", rid (10) = "q"; VP8 descriptor with 15-bit PictureID, TL0PICIDX and TID.
_HEAD = bytes.fromhex(
    "9060 1a2b 5f3e2d1c 1234abcd"
    "bede 0003 310102 22abcdef 4031 a071 00"
    "90e0 9234 05 a0 100200 9d012a"
)
PACKET = _HEAD + bytes(1200 - len(_HEAD))
PAYLOAD_START = parse_rtp(PACKET).payload_start

RTCP_RR_REMB = build_compound(
    [
        ReceiverReport(1, [ReportBlock(0x1234ABCD, 12, 40, 0x11A2B, 30, 0x3E2D1C00, 0x8000)]),
        Remb(1, 2_500_000, [0x1234ABCD, 0x1234ABCE, 0x1234ABCF]),
    ]
)


def _parse_and_route(data: bytes) -> tuple[int, bytes | None, bytes | None]:
    h = parse_rtp(data)
    return h.ssrc, find_extension(data, h, MID_ID), find_extension(data, h, RID_ID)


def test_parse_rtp_mid_rid(benchmark: Any) -> None:
    assert benchmark(_parse_and_route, PACKET) == (0x1234ABCD, b"1", b"q")


def _copy_and_rewrite(data: bytes) -> bytearray:
    buf = bytearray(data)
    rewrite_rtp(buf, 0xCAFEBABE, 4242, 90000)
    return buf


def test_copy_and_rewrite_rtp(benchmark: Any) -> None:
    out = benchmark(_copy_and_rewrite, PACKET)
    assert parse_rtp(out)[2:5] == (4242, 90000, 0xCAFEBABE)


def _vp8_rewrite(buf: bytearray) -> None:
    desc = parse_vp8(buf, PAYLOAD_START)
    rewrite_vp8(buf, desc, 0x1235, 6)


def test_parse_and_rewrite_vp8(benchmark: Any) -> None:
    buf = bytearray(PACKET)
    benchmark(_vp8_rewrite, buf)
    desc = parse_vp8(buf, PAYLOAD_START)
    assert (desc.picture_id, desc.tl0picidx) == (0x1235, 6)


def test_parse_rtcp_rr_remb(benchmark: Any) -> None:
    packets = benchmark(parse_rtcp, RTCP_RR_REMB)
    assert isinstance(packets[1], Remb) and packets[1].bitrate <= 2_500_000


# The describe() call the inbound path makes per video packet, per codec (rooms/codec.py): VP8 reads its
# descriptor; H.264 reads the FU-A header of a fragment (most packets) or walks a STAP-A (keyframe starts).
_H264_FU_A = bytes.fromhex("8066 1a2b 5f3e2d1c 1234abcd") + bytes([0x7C, 0x85, 0x88]) + bytes(1185)
_H264_STAP_A = (bytes.fromhex("8066 1a2b 5f3e2d1c 1234abcd") + bytes([0x78, 0, 5, 0x67, 0x42, 0xE0, 0x1F, 0xDA,
                                                                       0, 4, 0x68, 0xCE, 0x3C, 0x80]))


def test_describe_vp8(benchmark: Any) -> None:
    codec = video_codec("VP8")
    assert benchmark(codec.describe, PACKET, PAYLOAD_START, len(PACKET)).picture_id == 0x1234


def test_describe_h264_fragment(benchmark: Any) -> None:
    codec = video_codec("H264")
    desc = benchmark(codec.describe, _H264_FU_A, 12, len(_H264_FU_A))
    assert desc.keyframe and desc.frame_start


def test_describe_h264_aggregate(benchmark: Any) -> None:
    codec = video_codec("H264")
    assert benchmark(codec.describe, _H264_STAP_A, 12, len(_H264_STAP_A)).keyframe

"""Tests for RTP fixed-header parsing, RFC 5761 demux and in-place header rewriting."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import RTP_MIN_HEADER, is_rtcp, parse_rtp, rewrite_rtp

# A Chrome-style VP8 packet: one-byte extensions transport-cc (id 3), abs-send-time (id 2),
# mid (id 4) = "1", rid (id 10) = "q", one padding byte; then a keyframe VP8 descriptor.
CHROME = bytes.fromhex(
    "9060 1a2b 5f3e2d1c 1234abcd"
    "bede 0003 310102 22abcdef 4031 a071 00"
    "90e0 9234 05 a0 100200 9d012a"
) + bytes(range(100))


def test_parse_chrome_packet() -> None:
    h = parse_rtp(CHROME)
    assert h.marker is False
    assert h.payload_type == 96
    assert h.sequence == 0x1A2B
    assert h.timestamp == 0x5F3E2D1C
    assert h.ssrc == 0x1234ABCD
    assert h.csrc_count == 0
    assert h.ext_profile == 0xBEDE
    assert (h.ext_start, h.ext_end) == (16, 28)
    assert h.payload_start == 28
    assert h.payload_end == len(CHROME)
    assert CHROME[h.payload_start : h.payload_start + 2] == b"\x90\xe0"


def test_parse_csrcs_marker_and_padding() -> None:
    data = bytes.fromhex("a2 ef 0001 00000002 00000003 11111111 22222222") + b"payload" + b"\x00\x00\x03"
    h = parse_rtp(data)
    assert h.marker is True
    assert h.payload_type == 111
    assert h.csrc_count == 2
    assert (h.ext_profile, h.ext_start, h.ext_end) == (0, 0, 0)
    assert h.payload_start == 20
    assert data[h.payload_start : h.payload_end] == b"payload"


def test_padding_may_consume_whole_payload() -> None:
    data = bytes.fromhex("a0 60 0001 00000000 00000001 00000004")
    h = parse_rtp(data)
    assert h.payload_start == h.payload_end == 12


def test_empty_extension_block() -> None:
    h = parse_rtp(bytes.fromhex("90 60 0001 00000000 00000001 1000 0000") + b"x")
    assert (h.ext_profile, h.ext_start, h.ext_end, h.payload_start) == (0x1000, 16, 16, 16)


@pytest.mark.parametrize(
    "hexdata",
    [
        "",
        "80 60 0001 00000000 000000",  # 11 bytes
        "40 60 0001 00000000 00000001 aa",  # version 1
        "c0 60 0001 00000000 00000001 aa",  # version 3
        "81 60 0001 00000000 00000001",  # CSRC missing
        "83 60 0001 00000000 00000001 00000001 00000002",  # CSRC list short by one
        "90 60 0001 00000000 00000001 bede",  # extension header cut
        "90 60 0001 00000000 00000001 bede 0002 00000000",  # extension body short
        "a0 60 0001 00000000 00000001 aa bb 00",  # padding count 0
        "a0 60 0001 00000000 00000001 aa bb 04",  # padding count > remaining
        "b0 60 0001 00000000 00000001 bede 0001 10aa0000 02",  # padding reaches into extension
    ],
)
def test_malformed_headers_raise_parse_error(hexdata: str) -> None:
    with pytest.raises(ParseError):
        parse_rtp(bytes.fromhex(hexdata))


def test_is_rtcp_demux() -> None:
    assert is_rtcp(bytes.fromhex("80c9 0001"))  # RR
    assert is_rtcp(bytes.fromhex("81cd 0003"))  # RTPFB
    assert not is_rtcp(CHROME)
    assert not is_rtcp(bytes.fromhex("80e0"))  # PT 96 with marker: 224
    assert not is_rtcp(bytes.fromhex("80bf"))
    assert not is_rtcp(b"\x80")


def test_rewrite_keeps_pt_and_marker_by_default() -> None:
    buf = bytearray(CHROME)
    rewrite_rtp(buf, ssrc=0xDEADBEEF, sequence=65536 + 7, timestamp=2**32 + 9)
    h = parse_rtp(buf)
    assert (h.ssrc, h.sequence, h.timestamp) == (0xDEADBEEF, 7, 9)
    assert (h.payload_type, h.marker) == (96, False)
    assert buf[0] == CHROME[0]
    assert buf[12:] == CHROME[12:]


def test_rewrite_pt_and_marker() -> None:
    buf = bytearray(CHROME)
    rewrite_rtp(buf, 1, 2, 3, payload_type=100, marker=True)
    h = parse_rtp(buf)
    assert (h.payload_type, h.marker) == (100, True)
    rewrite_rtp(buf, 1, 2, 3, marker=False)
    assert (parse_rtp(buf).payload_type, parse_rtp(buf).marker) == (100, False)
    rewrite_rtp(buf, 1, 2, 3, payload_type=98)
    assert buf[1] == 98


def test_rewrite_too_short() -> None:
    with pytest.raises(ParseError):
        rewrite_rtp(bytearray(RTP_MIN_HEADER - 1), 1, 2, 3)


@given(
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.none() | st.integers(0, 127),
    st.none() | st.booleans(),
)
def test_rewrite_then_parse(ssrc: int, seq: int, ts: int, pt: int | None, marker: bool | None) -> None:
    buf = bytearray(CHROME)
    rewrite_rtp(buf, ssrc, seq, ts, payload_type=pt, marker=marker)
    h = parse_rtp(buf)
    assert (h.ssrc, h.sequence, h.timestamp) == (ssrc, seq, ts)
    assert h.payload_type == (96 if pt is None else pt)
    assert h.marker == (False if marker is None else marker)
    assert struct.unpack_from("!HH", buf, 12) == (0xBEDE, 3)

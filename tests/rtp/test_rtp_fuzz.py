"""Robustness properties: arbitrary bytes either parse or raise ParseError, never anything else."""

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.extensions import find_extension, iter_extensions
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.packet import RtpPacket
from mediaserver.rtp.rtcp import build_compound, parse_rtcp, rtcp_packet_types
from mediaserver.rtp.vp8 import parse_vp8

CHROME = bytes.fromhex(
    "9060 1a2b 5f3e2d1c 1234abcd"
    "bede 0003 310102 22abcdef 4031 a071 00"
    "90e0 9234 05 a0 100200 9d012a"
)
TWO_BYTE = bytes.fromhex("b260 0001 00000002 00000003 00000004 00000005 1001 0002 0100 c803aabbcc 00 ff02")
COMPOUND = bytes.fromhex(
    "81c9 0007 00000001 1234abcd 40ffffff 00011a2b 00000020 3e2d1c00 00010000"
    "8fce 0005 00000001 00000000 52454d42 010bd090 1234abcd"
    "81ca 0004 00000001 0108 6162636465666768 0000"
    "81cb 0003 00000001 04 62796521 000000"
    "81cd 0003 00000001 1234abcd 0064 0005"
    "84ce 0004 00000001 00000000 00000007 05000000"
    "afcd 0005 00000001 1234abcd 0001 0002 2000 0101 0102 0002"
)


def version2(data: bytes) -> bytes:
    """Force the version bits to 2 so the fuzzer gets past the first check."""
    return bytes([(data[0] & 0x3F) | 0x80]) + data[1:] if data else data


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """A valid packet with a few bytes overwritten and possibly truncated or extended."""
    buf = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(buf)))
    return bytes(buf[:cut]) + draw(st.binary(max_size=8))


rtp_inputs = (
    st.binary(max_size=80)
    | st.binary(min_size=1, max_size=80).map(version2)
    | mutated(CHROME)
    | mutated(TWO_BYTE)
)
rtcp_inputs = st.binary(max_size=80) | st.binary(min_size=1, max_size=80).map(version2) | mutated(COMPOUND)


@settings(max_examples=1500, deadline=None)
@given(rtp_inputs)
def test_rtp_parsers_only_raise_parse_error(data: bytes) -> None:
    try:
        h = parse_rtp(data)
    except ParseError:
        return
    assert h.payload_start <= h.payload_end <= len(data)
    try:
        elements = list(iter_extensions(data, h))
    except ParseError:
        elements = None
    if elements is not None:
        for ext_id, start, end in elements:
            assert h.ext_start <= start <= end <= h.ext_end
            assert find_extension(data, h, ext_id) is not None
    for ext_id in (1, 4, 10, 200):
        with contextlib.suppress(ParseError):
            find_extension(data, h, ext_id)
    with contextlib.suppress(ParseError):
        d = parse_vp8(data[: h.payload_end], h.payload_start)
        assert h.payload_start + d.header_len <= h.payload_end


@settings(max_examples=1000, deadline=None)
@given(rtp_inputs)
def test_rtp_packet_parse_only_raises_parse_error(data: bytes) -> None:
    try:
        p = RtpPacket.parse(data)
    except ParseError:
        return
    # Whatever parsed must serialize and re-parse to the same model.
    assert RtpPacket.parse(p.serialize()) == p


@settings(max_examples=1500, deadline=None)
@given(rtcp_inputs)
def test_rtcp_parser_only_raises_parse_error(data: bytes) -> None:
    try:
        packets = parse_rtcp(data)
    except ParseError:
        return
    assert len(packets) == len(rtcp_packet_types(data))
    assert parse_rtcp(build_compound(packets)) == packets


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=12), st.integers(-2, 14))
def test_vp8_parser_only_raises_parse_error(data: bytes, offset: int) -> None:
    try:
        d = parse_vp8(data, offset)
    except ParseError:
        return
    assert 1 <= d.header_len <= 6
    assert offset + d.header_len <= len(data)

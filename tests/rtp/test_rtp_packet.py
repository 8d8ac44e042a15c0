"""Tests for the lossless RtpPacket model: hand-made vectors and serialize/parse round trips."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.packet import RtpPacket

CHROME = bytes.fromhex(
    "9060 1a2b 5f3e2d1c 1234abcd"
    "bede 0003 310102 22abcdef 4031 a071 00"
    "90e0 9234 05 a0 100200 9d012a"
) + bytes(range(100))


def test_parse_chrome_packet() -> None:
    p = RtpPacket.parse(CHROME)
    assert p == RtpPacket(
        padding_size=0,
        marker=False,
        payload_type=96,
        sequence=0x1A2B,
        timestamp=0x5F3E2D1C,
        ssrc=0x1234ABCD,
        csrcs=[],
        extensions=[(3, b"\x01\x02"), (2, b"\xab\xcd\xef"), (4, b"1"), (10, b"q")],
        extension_profile=0xBEDE,
        payload=CHROME[28:],
    )
    # The wire form had its padding byte in the same place serialize puts it.
    assert p.serialize() == CHROME


def test_parse_accepts_bytearray_and_memoryview() -> None:
    p = RtpPacket.parse(CHROME)
    assert RtpPacket.parse(bytearray(CHROME)) == p
    assert RtpPacket.parse(memoryview(b"pre" + CHROME)[3:]) == p
    assert type(RtpPacket.parse(memoryview(CHROME)).payload) is bytes


def test_unknown_ids_survive() -> None:
    p = RtpPacket(payload_type=111, extension_profile=0xBEDE, extensions=[(13, b"zz"), (4, b"0")])
    q = RtpPacket.parse(p.serialize())
    assert q.extensions == [(13, b"zz"), (4, b"0")]


def test_serialize_exact_bytes_with_csrcs_padding_two_byte() -> None:
    p = RtpPacket(
        padding_size=3,
        marker=True,
        payload_type=100,
        sequence=1,
        timestamp=2,
        ssrc=3,
        csrcs=[4],
        extensions=[(20, b"")],
        extension_profile=0x1002,
        payload=b"ab",
    )
    expected = bytes.fromhex("b1e4 0001 00000002 00000003 00000004 1002 0001 14000000 6162 0000 03")
    assert p.serialize() == expected
    assert RtpPacket.parse(expected) == p


def test_opaque_profile_kept_raw() -> None:
    data = bytes.fromhex("9060 0001 00000002 00000003 abcd 0002 11223344 55667788") + b"pl"
    p = RtpPacket.parse(data)
    assert p.extension_profile == 0xABCD
    assert p.extensions == [(0, bytes.fromhex("11223344 55667788"))]
    assert p.serialize() == data


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(csrcs=list(range(16))),
        RtpPacket(payload_type=128),
        RtpPacket(padding_size=256),
        RtpPacket(extension_profile=0xBEDE, extensions=[(15, b"a")]),
        RtpPacket(extension_profile=0xBEDE, extensions=[(1, b"")]),
        RtpPacket(extension_profile=0x1000, extensions=[(1, bytes(256))]),
        RtpPacket(extension_profile=0x1234, extensions=[(0, b"abc")]),
        RtpPacket(extension_profile=0x1234, extensions=[(1, b"abcd")]),
        RtpPacket(ssrc=2**32),
    ],
)
def test_unrepresentable_packets_raise_value_error(packet: RtpPacket) -> None:
    with pytest.raises(ValueError):
        packet.serialize()


def test_parse_rejects_bad_input() -> None:
    with pytest.raises(ParseError):
        RtpPacket.parse(b"\x80\x60")
    with pytest.raises(ParseError):
        RtpPacket.parse(CHROME[:20])


u32 = st.integers(0, 2**32 - 1)
one_byte_elements = st.lists(st.tuples(st.integers(1, 14), st.binary(min_size=1, max_size=16)), max_size=8)
two_byte_elements = st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=30)), max_size=8)


@st.composite
def extension_parts(draw: st.DrawFn) -> tuple[int | None, list[tuple[int, bytes]]]:
    kind = draw(st.sampled_from(["none", "one", "two", "raw"]))
    if kind == "none":
        return None, []
    if kind == "one":
        return 0xBEDE, draw(one_byte_elements)
    if kind == "two":
        return 0x1000 | draw(st.integers(0, 15)), draw(two_byte_elements)
    profile = draw(st.integers(0, 0xFFFF).filter(lambda p: p != 0xBEDE and p & 0xFFF0 != 0x1000))
    words = draw(st.integers(0, 4))
    return profile, ([(0, draw(st.binary(min_size=4 * words, max_size=4 * words)))] if words else [])


@st.composite
def rtp_packets(draw: st.DrawFn) -> RtpPacket:
    profile, elements = draw(extension_parts())
    return RtpPacket(
        padding_size=draw(st.sampled_from([0, 1, 4]) | st.integers(0, 255)),
        marker=draw(st.booleans()),
        payload_type=draw(st.integers(0, 127)),
        sequence=draw(st.integers(0, 0xFFFF)),
        timestamp=draw(u32),
        ssrc=draw(u32),
        csrcs=draw(st.lists(u32, max_size=15)),
        extensions=elements,
        extension_profile=profile,
        payload=draw(st.binary(max_size=200)),
    )


@settings(max_examples=300, deadline=None)
@given(rtp_packets())
def test_round_trip(p: RtpPacket) -> None:
    wire = p.serialize()
    q = RtpPacket.parse(wire)
    assert q == p
    assert q.serialize() == wire

"""Tests for RFC 8285 header extension iteration, lookup, building and value codecs."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.extensions import (
    build_extension_block,
    decode_abs_send_time,
    decode_audio_level,
    decode_sdes_item,
    decode_transport_cc,
    encode_abs_send_time,
    encode_audio_level,
    encode_transport_cc,
    find_extension,
    iter_extensions,
    parse_extensions,
)
from mediaserver.rtp.header import parse_rtp

CHROME = bytes.fromhex(
    "9060 1a2b 5f3e2d1c 1234abcd"
    "bede 0003 310102 22abcdef 4031 a071 00"
    "90e0 9234 05 a0 100200 9d012a"
) + bytes(range(100))

FIXED = bytes.fromhex("9060 0001 00000000 00000001")


def with_block(block: bytes, payload: bytes = b"\x01\x02") -> bytes:
    return FIXED + block + payload


def test_iter_chrome_one_byte() -> None:
    h = parse_rtp(CHROME)
    assert list(iter_extensions(CHROME, h)) == [(3, 17, 19), (2, 20, 23), (4, 24, 25), (10, 26, 27)]


def test_find_chrome_mid_rid_tcc() -> None:
    h = parse_rtp(CHROME)
    assert find_extension(CHROME, h, 4) == b"1"
    assert find_extension(CHROME, h, 10) == b"q"
    assert decode_sdes_item(find_extension(CHROME, h, 4) or b"") == "1"
    assert decode_transport_cc(find_extension(CHROME, h, 3) or b"") == 0x0102
    assert decode_abs_send_time(find_extension(CHROME, h, 2) or b"") == 0xABCDEF
    assert find_extension(CHROME, h, 5) is None
    assert parse_extensions(CHROME, h) == {3: b"\x01\x02", 2: b"\xab\xcd\xef", 4: b"1", 10: b"q"}


def test_find_works_on_bytearray_and_returns_bytes() -> None:
    buf = bytearray(CHROME)
    value = find_extension(buf, parse_rtp(buf), 10)
    assert value == b"q"
    assert type(value) is bytes
    view = memoryview(b"junk" + CHROME)[4:]
    assert find_extension(view, parse_rtp(view), 4) == b"1"
    assert parse_extensions(view, parse_rtp(view))[3] == b"\x01\x02"


def test_no_extension_block() -> None:
    data = bytes.fromhex("8060 0001 00000000 00000001 aa")
    h = parse_rtp(data)
    assert list(iter_extensions(data, h)) == []
    assert find_extension(data, h, 1) is None


def test_one_byte_id15_stops_and_zero_is_padding() -> None:
    data = with_block(bytes.fromhex("bede 0002 00 10aa 00 f0 20bb"))
    h = parse_rtp(data)
    assert list(iter_extensions(data, h)) == [(1, 18, 19)]
    assert find_extension(data, h, 2) is None


def test_one_byte_id0_with_length_stops() -> None:
    data = with_block(bytes.fromhex("bede 0001 10aa 0120"))
    h = parse_rtp(data)
    assert parse_extensions(data, h) == {1: b"\xaa"}


def test_two_byte_form() -> None:
    # id 1 empty, padding byte, id 200 = 3 bytes, id 2 = 1 byte, padding.
    data = with_block(bytes.fromhex("1003 0003 0100 00 c803aabbcc 0201dd 00"))
    h = parse_rtp(data)
    assert h.ext_profile == 0x1003
    assert [(i, data[s:e]) for i, s, e in iter_extensions(data, h)] == [
        (1, b""),
        (200, b"\xaa\xbb\xcc"),
        (2, b"\xdd"),
    ]
    assert find_extension(data, h, 200) == b"\xaa\xbb\xcc"
    assert find_extension(data, h, 1) == b""


def test_unknown_profile_is_opaque() -> None:
    data = with_block(bytes.fromhex("abcd 0001 11223344"))
    h = parse_rtp(data)
    assert list(iter_extensions(data, h)) == []
    assert find_extension(data, h, 1) is None


@pytest.mark.parametrize(
    "block",
    [
        "bede 0001 33aabb00",  # one-byte element of 4 bytes in a 4-byte block
        "bede 0001 10aa 12",  # length 3 overruns
        "1000 0001 0105aabb",  # two-byte value overruns
        "1000 0001 000000 05",  # two-byte element header cut at block end
    ],
)
def test_overruns_raise(block: str) -> None:
    data = with_block(bytes.fromhex(block))
    h = parse_rtp(data)
    with pytest.raises(ParseError):
        list(iter_extensions(data, h))
    with pytest.raises(ParseError):
        find_extension(data, h, 14)


def test_build_one_byte_exact_bytes() -> None:
    profile, block = build_extension_block({4: b"1", 10: b"q", 3: b"\x01\x02"})
    assert profile == 0xBEDE
    assert block == bytes.fromhex("bede 0002 4031 a071 310102 00")


def test_build_two_byte_when_needed() -> None:
    assert build_extension_block([(15, b"a")]) == (0x1000, bytes.fromhex("1000 0001 0f016100"))
    assert build_extension_block([(1, b"")])[0] == 0x1000
    assert build_extension_block([(1, bytes(17))])[0] == 0x1000
    assert build_extension_block([]) == (0xBEDE, bytes.fromhex("bede 0000"))


@pytest.mark.parametrize("elements", [[(0, b"")], [(256, b"a")], [(1, bytes(256))]])
def test_build_rejects_unrepresentable(elements: list[tuple[int, bytes]]) -> None:
    with pytest.raises(ValueError):
        build_extension_block(elements)


element_lists = st.lists(
    st.tuples(st.integers(1, 255), st.binary(max_size=40))
    | st.tuples(st.integers(1, 14), st.binary(min_size=1, max_size=16)),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(element_lists)
def test_build_then_iterate_round_trip(elements: list[tuple[int, bytes]]) -> None:
    profile, block = build_extension_block(elements)
    assert len(block) % 4 == 0
    assert struct.unpack_from("!HH", block) == (profile, len(block) // 4 - 1)
    data = with_block(block)
    h = parse_rtp(data)
    assert h.ext_profile == profile
    assert [(i, data[s:e]) for i, s, e in iter_extensions(data, h)] == elements
    for ext_id, _ in elements:
        first = next(v for i, v in elements if i == ext_id)
        assert find_extension(data, h, ext_id) == first
    one_byte_ok = all(1 <= i <= 14 and 1 <= len(v) <= 16 for i, v in elements)
    assert (profile == 0xBEDE) == one_byte_ok


def test_audio_level_codec() -> None:
    assert decode_audio_level(b"\xa5") == (True, 0x25)
    assert decode_audio_level(b"\x7f") == (False, 127)
    assert encode_audio_level(True, 0x25) == b"\xa5"
    assert encode_audio_level(False, 0) == b"\x00"
    with pytest.raises(ValueError):
        encode_audio_level(True, 128)
    with pytest.raises(ParseError):
        decode_audio_level(b"")


@given(st.booleans(), st.integers(0, 127))
def test_audio_level_round_trip(vad: bool, level: int) -> None:
    assert decode_audio_level(encode_audio_level(vad, level)) == (vad, level)


def test_abs_send_time_and_transport_cc_codecs() -> None:
    assert encode_abs_send_time(0x123456) == b"\x12\x34\x56"
    assert encode_abs_send_time(0x1_123456) == b"\x12\x34\x56"
    assert decode_abs_send_time(b"\x12\x34\x56") == 0x123456
    assert encode_transport_cc(65537) == b"\x00\x01"
    assert decode_transport_cc(b"\xff\xfe") == 65534
    with pytest.raises(ParseError):
        decode_abs_send_time(b"\x00\x00")
    with pytest.raises(ParseError):
        decode_transport_cc(b"\x00")


def test_sdes_item_decoding() -> None:
    assert decode_sdes_item(b"video0") == "video0"
    with pytest.raises(ParseError):
        decode_sdes_item(b"")
    with pytest.raises(ParseError):
        decode_sdes_item("é".encode())

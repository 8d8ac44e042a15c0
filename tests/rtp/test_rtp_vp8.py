"""Tests for the RFC 7741 VP8 payload descriptor parser and in-place rewriter."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.vp8 import Vp8Descriptor, parse_vp8, rewrite_vp8

CHROME = bytes.fromhex(
    "9060 1a2b 5f3e2d1c 1234abcd"
    "bede 0003 310102 22abcdef 4031 a071 00"
    "90e0 9234 05 a0 100200 9d012a"
) + bytes(range(100))


def test_chrome_keyframe_descriptor() -> None:
    start = parse_rtp(CHROME).payload_start
    d = parse_vp8(CHROME, start)
    assert d == Vp8Descriptor(
        start_of_partition=True,
        partition_id=0,
        picture_id=0x1234,
        picture_id_bits=15,
        picture_id_offset=start + 2,
        tl0picidx=5,
        tl0_offset=start + 4,
        tid=2,
        layer_sync=True,
        keyidx=None,
        header_len=6,
        keyframe=True,
        frame_start=True,
    )
    assert parse_vp8(memoryview(CHROME)[start:]) == d._replace(picture_id_offset=2, tl0_offset=4)


def test_minimal_descriptor_delta_frame() -> None:
    d = parse_vp8(b"\x10\x01\x00")
    assert (d.start_of_partition, d.partition_id, d.header_len, d.keyframe, d.frame_start) == (True, 0, 1, False, True)
    assert (d.picture_id, d.picture_id_bits, d.picture_id_offset) == (None, 0, -1)
    assert (d.tl0picidx, d.tl0_offset, d.tid, d.keyidx, d.layer_sync) == (None, -1, None, None, False)


def test_seven_bit_picture_id_and_keyidx() -> None:
    d = parse_vp8(bytes.fromhex("91 90 7f 35 00"))
    assert (d.partition_id, d.picture_id, d.picture_id_bits, d.picture_id_offset) == (1, 0x7F, 7, 2)
    assert (d.tid, d.layer_sync, d.keyidx, d.header_len) == (None, False, 0x15, 4)
    assert d.keyframe is False  # partition 1 is never the frame start


def test_keyframe_needs_start_and_payload_byte() -> None:
    assert parse_vp8(bytes.fromhex("10 00")).keyframe is True
    assert parse_vp8(bytes.fromhex("00 00")).keyframe is False
    assert parse_vp8(bytes.fromhex("10")).keyframe is False
    assert parse_vp8(bytes.fromhex("90 20 c0")).keyframe is False
    assert parse_vp8(bytes.fromhex("90 20 40 00")).tid == 1


@pytest.mark.parametrize("full", ["90e0923405a0", "90c07f05", "90 10 1f", "80 80 ff ff"])
def test_truncated_descriptors(full: str) -> None:
    data = bytes.fromhex(full)
    parse_vp8(data)
    for cut in range(len(data)):
        with pytest.raises(ParseError):
            parse_vp8(data[:cut])
    with pytest.raises(ParseError):
        parse_vp8(data, len(data))
    with pytest.raises(ParseError):
        parse_vp8(data, -1)


def test_rewrite_masks_and_keeps_m_bit() -> None:
    buf = bytearray(CHROME)
    start = parse_rtp(buf).payload_start
    d = parse_vp8(buf, start)
    rewrite_vp8(buf, d, 0x18001, 0x1FF)
    assert buf[start + 2 : start + 5] == b"\x80\x01\xff"
    assert buf[: start + 2] == CHROME[: start + 2]
    assert buf[start + 5 :] == CHROME[start + 5 :]
    rewrite_vp8(buf, d, None, 7)
    assert parse_vp8(buf, start)._replace(tl0picidx=5) == d._replace(picture_id=1)


def test_rewrite_ignores_absent_fields() -> None:
    buf = bytearray(bytes.fromhex("90 80 05 10"))
    d = parse_vp8(buf)
    rewrite_vp8(buf, d, 0x1234, 99)
    assert buf == bytearray(bytes.fromhex("90 80 34 10"))
    plain = bytearray(b"\x10\x00")
    rewrite_vp8(plain, parse_vp8(plain), 5, 6)
    assert plain == bytearray(b"\x10\x00")


@st.composite
def descriptors(draw: st.DrawFn) -> tuple[bytes, dict[str, object]]:
    """Encode a random descriptor independently of the parser, returning bytes and expected fields."""
    s = draw(st.booleans())
    pid = draw(st.integers(0, 7))
    pic_bits = draw(st.sampled_from([0, 7, 15]))
    pic = draw(st.integers(0, (1 << pic_bits) - 1)) if pic_bits else None
    tl0 = draw(st.none() | st.integers(0, 255))
    tid = draw(st.none() | st.integers(0, 3))
    y = draw(st.booleans()) if tid is not None else False
    keyidx = draw(st.none() | st.integers(0, 31))
    x = (0x80 if pic_bits else 0) | (0x40 if tl0 is not None else 0)
    x |= (0x20 if tid is not None else 0) | (0x10 if keyidx is not None else 0)
    out = bytearray([(0x80 if x else 0) | (0x10 if s else 0) | pid])
    if x:
        out.append(x)
    if pic is not None:
        out += bytes([pic]) if pic_bits == 7 else bytes([0x80 | (pic >> 8), pic & 0xFF])
    if tl0 is not None:
        out.append(tl0)
    if tid is not None or keyidx is not None:
        out.append(((tid or 0) << 6) | (0x20 if y else 0) | (keyidx or 0))
    header_len = len(out)
    vp8_header = draw(st.binary(max_size=3))
    expected: dict[str, object] = {
        "start_of_partition": s,
        "partition_id": pid,
        "picture_id": pic,
        "picture_id_bits": pic_bits,
        "tl0picidx": tl0,
        "tid": tid,
        "layer_sync": y,
        "keyidx": keyidx,
        "header_len": header_len,
        "keyframe": s and pid == 0 and bool(vp8_header) and not vp8_header[0] & 1,
    }
    return bytes(out) + vp8_header, expected


@settings(max_examples=300, deadline=None)
@given(descriptors(), st.binary(max_size=20), st.integers(0, 2**20), st.integers(0, 2**12))
def test_parse_then_rewrite_round_trip(
    case: tuple[bytes, dict[str, object]], prefix: bytes, new_pic: int, new_tl0: int
) -> None:
    data, expected = case
    buf = bytearray(prefix + data)
    d = parse_vp8(buf, len(prefix))
    assert {k: getattr(d, k) for k in expected} == expected
    rewrite_vp8(buf, d, new_pic, new_tl0)
    after = parse_vp8(buf, len(prefix))
    pic_mask = (1 << d.picture_id_bits) - 1
    assert after == d._replace(
        picture_id=None if d.picture_id is None else new_pic & pic_mask,
        tl0picidx=None if d.tl0picidx is None else new_tl0 & 0xFF,
    )
    assert buf[: len(prefix)] == prefix
    assert buf[len(prefix) + d.header_len :] == data[d.header_len :]

"""RTX (RFC 4588): an un-wrapped retransmission is the original packet, header extensions and all."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.packet import RtpPacket
from mediaserver.rtp.rtx import original_sequence, unwrap_rtx, wrap_rtx

u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
one_byte_ext = st.lists(st.tuples(st.integers(1, 14), st.binary(min_size=1, max_size=16)), max_size=4,
                        unique_by=lambda e: e[0])

packets = st.builds(
    RtpPacket,
    padding_size=st.integers(0, 40),
    marker=st.booleans(),
    payload_type=st.integers(96, 127),
    sequence=u16,
    timestamp=u32,
    ssrc=u32,
    csrcs=st.lists(u32, max_size=3),
    extensions=one_byte_ext,
    payload=st.binary(max_size=300),
)


def without_padding(packet: RtpPacket) -> bytes:
    packet.padding_size = 0
    return packet.serialize()


@given(packets, u32, st.integers(96, 127), u16, st.integers(0, 40))
def test_unwrap_gives_back_the_wrapped_packet(original: RtpPacket, rtx_ssrc: int, rtx_pt: int, rtx_seq: int,
                                              rtx_padding: int) -> None:
    data = original.serialize()
    hdr = parse_rtp(data)
    rtx = wrap_rtx(data, hdr, rtx_ssrc, rtx_pt, rtx_seq)
    if rtx_padding:  # the sender may pad its retransmission: that padding is not the original's
        rtx = bytes([rtx[0] | 0x20]) + rtx[1:] + bytes(rtx_padding - 1) + bytes([rtx_padding])
    rtx_hdr = parse_rtp(rtx)
    assert (rtx_hdr.ssrc, rtx_hdr.payload_type, rtx_hdr.sequence) == (rtx_ssrc, rtx_pt, rtx_seq)
    assert (rtx_hdr.marker, rtx_hdr.timestamp) == (original.marker, original.timestamp)
    assert original_sequence(rtx, rtx_hdr) == original.sequence

    restored = unwrap_rtx(rtx, rtx_hdr, original.ssrc, original.payload_type)
    # Byte for byte the original, except its padding: a retransmission carries only the payload.
    assert restored == without_padding(original)


def test_chrome_rtx_packet_becomes_the_vp8_packet_it_repeats() -> None:
    # PT 97 on the RTX SSRC, mid "1" and repaired-rid "h" (ids 4 and 11), OSN 0x1a2b, then the VP8 payload.
    rtx = bytes.fromhex("90e1 0007 5f3e2d1c cafebabe" "bede 0001 4031 b068" "1a2b" "90e09234a0") + b"frame"
    restored = unwrap_rtx(rtx, parse_rtp(rtx), media_ssrc=0x1234ABCD, media_pt=96)
    hdr = parse_rtp(restored)
    assert (hdr.marker, hdr.payload_type, hdr.sequence, hdr.timestamp, hdr.ssrc) == (
        True, 96, 0x1A2B, 0x5F3E2D1C, 0x1234ABCD)
    assert restored[hdr.ext_start : hdr.ext_end] == bytes.fromhex("4031 b068")
    assert restored[hdr.payload_start :] == bytes.fromhex("90e09234a0") + b"frame"


@pytest.mark.parametrize("payload", [b"", b"\x01"])
def test_a_retransmission_without_an_original_number_is_refused(payload: bytes) -> None:
    # Chrome's bandwidth probes on the RTX stream: padding only, no original sequence number.
    padded = bytes.fromhex("a061 0009 00000001 00000002") + payload + bytes(3) + b"\x04"
    for data in (padded, bytes.fromhex("8061 0009 00000001 00000002") + payload):
        hdr = parse_rtp(data)
        with pytest.raises(ParseError):
            original_sequence(data, hdr)
        with pytest.raises(ParseError):
            unwrap_rtx(data, hdr, 5, 96)


@given(st.binary(min_size=12, max_size=80))
def test_garbage_raises_only_parse_error(data: bytes) -> None:
    try:
        hdr = parse_rtp(data)
        unwrap_rtx(data, hdr, 1, 96)
    except ParseError:
        pass

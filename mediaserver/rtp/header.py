"""Zero-copy RTP fixed-header parsing (RFC 3550) and in-place rewriting for the forwarding hot path."""

import struct
from typing import NamedTuple

from .buffer import BytesLike, WritableBuffer
from .errors import ParseError

__all__ = [
    "RTP_MIN_HEADER",
    "RTP_VERSION",
    "RtpHeader",
    "is_rtcp",
    "parse_rtp",
    "rewrite_rtp",
]

RTP_VERSION = 2
RTP_MIN_HEADER = 12
RTP_EXT_HEADER = 4

VERSION_SHIFT = 6
PADDING_BIT = 0x20
EXTENSION_BIT = 0x10
CC_MASK = 0x0F
MARKER_BIT = 0x80
PT_MASK = 0x7F

# RFC 5761 section 4: RTCP packet types sit in 192..223, which as an RTP second byte would be the
# marker bit plus PT 64..95; those PTs are barred from RTP when muxing, so the byte is decisive.
RTCP_PT_MIN = 192
RTCP_PT_MAX = 223

# The parse reads first/second byte, seq, ts, ssrc in one call; rewrite writes second byte onwards
# in one call so V/P/X/CC are never touched.
FIXED_HEADER = struct.Struct("!BBHII")
REWRITE_HEADER = struct.Struct("!BHII")
EXT_HEADER = struct.Struct("!HH")
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")

_unpack_fixed = FIXED_HEADER.unpack_from
_unpack_ext = EXT_HEADER.unpack_from
_pack_rewrite = REWRITE_HEADER.pack_into
# Building the NamedTuple via tuple.__new__ skips its Python-level __new__, roughly halving the
# construction cost of the one object allocated per parsed packet.
_new_tuple = tuple.__new__


class RtpHeader(NamedTuple):
    """Decoded fixed header plus byte offsets of the variable parts within the same buffer."""

    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    csrc_count: int
    ext_profile: int
    ext_start: int
    ext_end: int
    payload_start: int
    payload_end: int


def is_rtcp(data: BytesLike) -> bool:
    """RFC 5761 demultiplexing: True if a 128..191 first-byte packet is RTCP rather than RTP."""
    return len(data) >= 2 and RTCP_PT_MIN <= data[1] <= RTCP_PT_MAX


def parse_rtp(data: BytesLike) -> RtpHeader:
    """Parse the RTP header of ``data`` without copying; raise ParseError if it is malformed."""
    size = len(data)
    if size < RTP_MIN_HEADER:
        raise ParseError(f"RTP packet too short: {size} bytes")
    b0, b1, sequence, timestamp, ssrc = _unpack_fixed(data)
    if b0 >> VERSION_SHIFT != RTP_VERSION:
        raise ParseError(f"RTP version {b0 >> VERSION_SHIFT} != 2")
    cc = b0 & CC_MASK
    offset = RTP_MIN_HEADER + 4 * cc
    if b0 & EXTENSION_BIT:
        if offset + RTP_EXT_HEADER > size:
            raise ParseError("RTP header extension header overruns packet")
        ext_profile, words = _unpack_ext(data, offset)
        ext_start = offset + RTP_EXT_HEADER
        offset = ext_start + 4 * words
        ext_end = offset
    else:
        ext_profile = ext_start = ext_end = 0
    if offset > size:
        raise ParseError("RTP CSRC list or header extension overruns packet")
    end = size
    if b0 & PADDING_BIT:
        pad = data[size - 1]
        if pad == 0 or pad > size - offset:
            raise ParseError(f"invalid RTP padding count {pad}")
        end = size - pad
    header: RtpHeader = _new_tuple(
        RtpHeader,
        (b1 >= MARKER_BIT, b1 & PT_MASK, sequence, timestamp, ssrc, cc,
         ext_profile, ext_start, ext_end, offset, end),
    )
    return header


def rewrite_rtp(
    buf: WritableBuffer,
    ssrc: int,
    sequence: int,
    timestamp: int,
    payload_type: int | None = None,
    marker: bool | None = None,
) -> None:
    """Overwrite SSRC, sequence, timestamp and optionally PT/marker of the header in ``buf``.

    Values are reduced modulo their field width so callers can pass offset arithmetic results
    (e.g. ``seq + offset``) directly.
    """
    if len(buf) < RTP_MIN_HEADER:
        raise ParseError(f"RTP packet too short: {len(buf)} bytes")
    b1 = buf[1]
    if payload_type is not None:
        b1 = (b1 & MARKER_BIT) | (payload_type & PT_MASK)
    if marker is not None:
        b1 = (b1 & PT_MASK) | (MARKER_BIT if marker else 0)
    _pack_rewrite(buf, 1, b1, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF)

"""RTX retransmission payload format (RFC 4588): un-wrap a retransmission into the packet it repeats, and wrap."""

import struct

from .buffer import BytesLike
from .errors import ParseError
from .header import MARKER_BIT, PADDING_BIT, PT_MASK, RTP_MIN_HEADER, RtpHeader

__all__ = ["OSN_SIZE", "original_sequence", "unwrap_rtx", "wrap_rtx"]

OSN_SIZE = 2  # the original sequence number heads an RTX payload (RFC 4588 section 4)
_FIXED = struct.Struct("!BBHII")
_U16 = struct.Struct("!H")


def original_sequence(data: BytesLike, hdr: RtpHeader) -> int:
    """The sequence number of the packet this RTX packet repeats; ParseError when it carries none (padding)."""
    if hdr.payload_end - hdr.payload_start < OSN_SIZE:
        raise ParseError("RTX packet without an original sequence number")
    value: int = _U16.unpack_from(data, hdr.payload_start)[0]
    return value


def unwrap_rtx(data: BytesLike, hdr: RtpHeader, media_ssrc: int, media_pt: int) -> bytes:
    """The original packet of the RTX packet `data` (parsed as `hdr`): its sequence number, payload type and SSRC.

    The marker, timestamp, CSRCs and header extensions are the RTX packet's (a sender copies them from the
    original; RFC 4588 section 4); the RTX packet's own padding goes, since the original payload follows the OSN.
    """
    osn = original_sequence(data, hdr)
    b0 = data[0] & ~PADDING_BIT
    b1 = (data[1] & MARKER_BIT) | (media_pt & PT_MASK)
    head = _FIXED.pack(b0, b1, osn, hdr.timestamp, media_ssrc & 0xFFFFFFFF)
    return head + bytes(data[RTP_MIN_HEADER : hdr.payload_start]) + bytes(
        data[hdr.payload_start + OSN_SIZE : hdr.payload_end])


def wrap_rtx(data: BytesLike, hdr: RtpHeader, rtx_ssrc: int, rtx_pt: int, rtx_seq: int) -> bytes:
    """The RTX packet repeating `data` on the RTX stream `rtx_ssrc` with its own number `rtx_seq` (as a sender)."""
    b0 = data[0] & ~PADDING_BIT
    b1 = (data[1] & MARKER_BIT) | (rtx_pt & PT_MASK)
    head = _FIXED.pack(b0, b1, rtx_seq & 0xFFFF, hdr.timestamp, rtx_ssrc & 0xFFFFFFFF)
    return (head + bytes(data[RTP_MIN_HEADER : hdr.payload_start]) + _U16.pack(hdr.sequence)
            + bytes(data[hdr.payload_start : hdr.payload_end]))

"""RFC 7741 VP8 RTP payload descriptor: parse offsets and rewrite PictureID/TL0PICIDX in place."""

from typing import NamedTuple

from .buffer import BytesLike, WritableBuffer
from .errors import ParseError

__all__ = ["Vp8Descriptor", "keyframe_size", "parse_vp8", "rewrite_vp8"]

_B0_EXTENDED = 0x80
_B0_START = 0x10
_B0_PID_MASK = 0x07
_X_PICTURE_ID = 0x80
_X_TL0PICIDX = 0x40
_X_TID = 0x20
_X_KEYIDX = 0x10
_PICID_LONG = 0x80
_TK_LAYER_SYNC = 0x20
_TK_KEYIDX_MASK = 0x1F
# Bit 0 of the VP8 frame tag (RFC 6386 9.1) is set for inter frames, so clear means key frame.
_TAG_INTER_FRAME = 0x01
# As in header.py: bypass the NamedTuple's Python-level __new__ on this per-packet result.
_new_tuple = tuple.__new__


class Vp8Descriptor(NamedTuple):
    """Decoded descriptor; ``*_offset`` fields are absolute buffer offsets (-1 when absent)."""

    start_of_partition: bool
    partition_id: int
    picture_id: int | None
    picture_id_bits: int
    picture_id_offset: int
    tl0picidx: int | None
    tl0_offset: int
    tid: int | None
    layer_sync: bool
    keyidx: int | None
    header_len: int
    keyframe: bool
    frame_start: bool  # the first packet of a frame (start of partition 0)


def parse_vp8(payload: BytesLike, offset: int = 0) -> Vp8Descriptor:
    """Parse the descriptor starting at ``payload[offset]`` (typically RtpHeader.payload_start).

    ``payload`` should end where the RTP payload ends (padding stripped) for ``keyframe`` to be
    reliable; it may be the whole packet buffer since all offsets are absolute.
    """
    size = len(payload)
    if offset < 0 or offset >= size:
        raise ParseError("empty VP8 payload")
    b = payload[offset]
    start = bool(b & _B0_START)
    partition_id = b & _B0_PID_MASK
    pos = offset + 1
    picture_id = tl0 = tid = keyidx = None
    pid_bits = 0
    pid_offset = tl0_offset = -1
    layer_sync = False
    if b & _B0_EXTENDED:
        if pos >= size:
            raise ParseError("truncated VP8 extension octet")
        x = payload[pos]
        pos += 1
        if x & _X_PICTURE_ID:
            if pos >= size:
                raise ParseError("truncated VP8 PictureID")
            pid_offset = pos
            p0 = payload[pos]
            if p0 & _PICID_LONG:
                if pos + 2 > size:
                    raise ParseError("truncated VP8 15-bit PictureID")
                picture_id = ((p0 & 0x7F) << 8) | payload[pos + 1]
                pid_bits = 15
                pos += 2
            else:
                picture_id = p0
                pid_bits = 7
                pos += 1
        if x & _X_TL0PICIDX:
            if pos >= size:
                raise ParseError("truncated VP8 TL0PICIDX")
            tl0_offset = pos
            tl0 = payload[pos]
            pos += 1
        if x & (_X_TID | _X_KEYIDX):
            if pos >= size:
                raise ParseError("truncated VP8 TID/KEYIDX")
            tk = payload[pos]
            pos += 1
            if x & _X_TID:
                tid = tk >> 6
                layer_sync = bool(tk & _TK_LAYER_SYNC)
            if x & _X_KEYIDX:
                keyidx = tk & _TK_KEYIDX_MASK
    keyframe = start and partition_id == 0 and pos < size and not payload[pos] & _TAG_INTER_FRAME
    desc: Vp8Descriptor = _new_tuple(
        Vp8Descriptor,
        (start, partition_id, picture_id, pid_bits, pid_offset, tl0, tl0_offset,
         tid, layer_sync, keyidx, pos - offset, keyframe, start and partition_id == 0),
    )
    return desc


def rewrite_vp8(
    buf: WritableBuffer, desc: Vp8Descriptor, picture_id: int | None, tl0picidx: int | None
) -> None:
    """Overwrite PictureID and/or TL0PICIDX in place; None leaves a field unchanged.

    Fields the descriptor does not carry are left alone rather than inserted, since that would
    shift the payload; an SFU that needs them must negotiate senders that include them. Values are
    reduced to the field width, so callers can pass running counters.
    """
    if picture_id is not None:
        off = desc.picture_id_offset
        if desc.picture_id_bits == 15:
            value = picture_id & 0x7FFF
            buf[off] = _PICID_LONG | (value >> 8)
            buf[off + 1] = value & 0xFF
        elif desc.picture_id_bits == 7:
            buf[off] = picture_id & 0x7F
    if tl0picidx is not None and desc.tl0_offset >= 0:
        buf[desc.tl0_offset] = tl0picidx & 0xFF


def keyframe_size(payload: BytesLike, desc: Vp8Descriptor, offset: int) -> tuple[int, int] | None:
    """Width and height from a keyframe's VP8 header (RFC 6386 §9.1), or None if absent or truncated.

    ``offset`` is where the descriptor starts (the RTP payload start); the frame header follows it.
    """
    start = offset + desc.header_len
    if not desc.keyframe or start + 10 > len(payload):
        return None
    if payload[start + 3] != 0x9D or payload[start + 4] != 0x01 or payload[start + 5] != 0x2A:
        return None
    width = (payload[start + 6] | (payload[start + 7] << 8)) & 0x3FFF
    height = (payload[start + 8] | (payload[start + 9] << 8)) & 0x3FFF
    return width, height

"""Wire formats of the bots' synthetic media: RTP headers with mid/rid extensions, VP8 descriptors and the tag.

The tag (send time, bot, stream, temporal layer, per-stream counter) sits in the media payload, which an SFU
forwards without reading: VP8 packets carry it right after the first 10 bytes following the descriptor (the
frame tag and keyframe start code the server does read), Opus packets at the start of the payload.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from mediaserver.rtp.extensions import build_extension_block

RTP_HEADER: Final = struct.Struct("!BBHII")
# send time (CLOCK_REALTIME ns, compared with the kernel's receive timestamp), bot, stream, tid, counter.
TAG: Final = struct.Struct("!QHBBI")
TAG_SIZE: Final = TAG.size
# The VP8 frame tag and, on keyframes, the start code and size: the server reads these bytes.
VP8_KEEP: Final = 10
VP8_DESCRIPTOR_SIZE: Final = 6  # X, I (15-bit PictureID), L, T: what Chrome sends with simulcast
AUDIO_STREAM: Final = 0  # tag stream ids: 0 audio, 1 + layer index for video
# L1T3, the temporal pattern Chrome uses with VP8 simulcast: TID of frame n after a keyframe.
TEMPORAL_PATTERN: Final = (0, 2, 1, 2)

EXT_AUDIO_LEVEL: Final = 1
EXT_MID: Final = 4
EXT_RID: Final = 10
EXT_REPAIRED_RID: Final = 11

_pack_tag_into = TAG.pack_into
_unpack_tag_from = TAG.unpack_from


def extension_block(mid: str, rid: str | None, audio_level: int | None = None) -> bytes:
    """The one-byte-profile header extension block (with its 4-byte header) for every packet of a stream."""
    elements: list[tuple[int, bytes]] = []
    if audio_level is not None:
        elements.append((EXT_AUDIO_LEVEL, bytes((0x80 | audio_level,))))
    elements.append((EXT_MID, mid.encode()))
    if rid is not None:
        elements.append((EXT_RID, rid.encode()))
    _, block = build_extension_block(elements)
    return block


def vp8_descriptor(start: bool, picture_id: int, tl0picidx: int, tid: int, layer_sync: bool) -> bytes:
    """RFC 7741 descriptor with a 15-bit PictureID, TL0PICIDX and TID, partition 0."""
    return bytes((
        0x80 | (0x10 if start else 0),
        0xE0,  # I, L, T present
        0x80 | ((picture_id >> 8) & 0x7F),
        picture_id & 0xFF,
        tl0picidx & 0xFF,
        (tid << 6) | (0x20 if layer_sync else 0),
    ))


class Tag(NamedTuple):
    sent_ns: int
    bot: int
    stream: int
    tid: int
    counter: int


def write_tag(buf: bytearray, offset: int, sent_ns: int, bot: int, stream: int, tid: int, counter: int) -> None:
    _pack_tag_into(buf, offset, sent_ns, bot, stream, tid, counter & 0xFFFFFFFF)


def vp8_descriptor_length(data: bytes, offset: int) -> int:
    """Length of the VP8 payload descriptor at `offset`, or -1 if it is truncated."""
    size = len(data)
    if offset >= size:
        return -1
    pos = offset + 1
    if data[offset] & 0x80:
        if pos >= size:
            return -1
        x = data[pos]
        pos += 1
        if x & 0x80:
            if pos >= size:
                return -1
            pos += 2 if data[pos] & 0x80 else 1
        if x & 0x40:
            pos += 1
        if x & 0x30:
            pos += 1
    return pos - offset if pos <= size else -1


def rtp_payload_offset(data: bytes) -> int:
    """Where the payload of a plain RTP packet starts (after CSRCs and extensions), or -1 if malformed."""
    size = len(data)
    if size < 12:
        return -1
    b0 = data[0]
    offset = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if offset + 4 > size:
            return -1
        offset += 4 + 4 * ((data[offset + 2] << 8) | data[offset + 3])
    return offset if offset <= size else -1


def read_tag(data: bytes, payload_offset: int, video: bool) -> Tag | None:
    """The tag of a received packet (plain RTP), or None when the payload is too short to hold one."""
    at = payload_offset
    if video:
        length = vp8_descriptor_length(data, payload_offset)
        if length < 0:
            return None
        at += length + VP8_KEEP
    if at + TAG_SIZE > len(data):
        return None
    return Tag(*_unpack_tag_from(data, at))

"""Codec munging: a copy of a VP8 packet with its PictureID and TL0PICIDX moved by a subscription's offsets."""

from __future__ import annotations

from mediaserver.rtp.vp8 import Vp8Descriptor


def munge_vp8(header: bytes, payload: bytes, payload_start: int, desc: Vp8Descriptor, pic_offset: int,
              tl0_offset: int) -> tuple[bytes, int, int]:
    """`header` + `payload` with the ids moved; returns the packet and the PictureID and TL0PICIDX (-1) it carries.

    `desc` holds absolute offsets into the source packet, whose payload began at `payload_start`.
    """
    assert desc.picture_id is not None
    mask = 0x7FFF if desc.picture_id_bits == 15 else 0x7F
    pic = (desc.picture_id + pic_offset) & mask
    buf = bytearray(header)
    buf += payload
    shift = len(header) - payload_start
    at = desc.picture_id_offset + shift
    if desc.picture_id_bits == 15:
        buf[at] = 0x80 | (pic >> 8)
        buf[at + 1] = pic & 0xFF
    else:
        buf[at] = pic
    tl0 = -1
    if desc.tl0picidx is not None:
        tl0 = (desc.tl0picidx + tl0_offset) & 0xFF
        buf[desc.tl0_offset + shift] = tl0
    return bytes(buf), pic, tl0

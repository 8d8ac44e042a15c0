"""What forwarding needs to know of a video codec, behind one small interface: a VP8 and an H.264 implementation.

The forwarder reads a packet's frame descriptor (keyframe, temporal layer, picture ids), asks a keyframe for
the picture size, and rewrites picture ids after a simulcast switch. VP8 carries PictureID and TL0PICIDX
that must stay continuous across a switch; H.264 as browsers send it carries neither, so it is never munged.
"""

from __future__ import annotations

from typing import Final, Protocol

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.h264 import find_sps, parse_h264
from mediaserver.rtp.h264_sps import sps_size
from mediaserver.rtp.vp8 import Vp8Descriptor, keyframe_size, parse_vp8

from .munging import munge_vp8


class FrameDescriptor(Protocol):
    """The per-packet facts every codec's payload parser returns under the same names."""

    @property
    def keyframe(self) -> bool: ...

    @property
    def frame_start(self) -> bool: ...

    @property
    def tid(self) -> int | None: ...

    @property
    def picture_id(self) -> int | None: ...

    @property
    def tl0picidx(self) -> int | None: ...


class VideoCodec(Protocol):
    name: str

    def describe(self, packet: bytes, payload_start: int, payload_end: int) -> FrameDescriptor:
        """The payload's descriptor; raises ParseError for a malformed payload."""
        ...

    def frame_size(self, packet: bytes, desc: FrameDescriptor, payload_start: int) -> tuple[int, int] | None:
        """Width and height a keyframe packet declares, or None when this packet does not say."""
        ...

    def munge(self, header: bytes, payload: bytes, payload_start: int, desc: FrameDescriptor, pic_offset: int,
              tl0_offset: int) -> tuple[bytes, int, int]:
        """`header` + `payload` with picture ids moved; the packet, and the PictureID and TL0PICIDX (-1) it carries."""
        ...


class Vp8Codec:
    name = "VP8"

    def describe(self, packet: bytes, payload_start: int, payload_end: int) -> FrameDescriptor:
        return parse_vp8(packet, payload_start)

    def frame_size(self, packet: bytes, desc: FrameDescriptor, payload_start: int) -> tuple[int, int] | None:
        if not desc.keyframe or not isinstance(desc, Vp8Descriptor):
            return None
        return keyframe_size(packet, desc, payload_start)

    def munge(self, header: bytes, payload: bytes, payload_start: int, desc: FrameDescriptor, pic_offset: int,
              tl0_offset: int) -> tuple[bytes, int, int]:
        if not isinstance(desc, Vp8Descriptor) or desc.picture_id is None:
            return header + payload, -1, -1
        return munge_vp8(header, payload, payload_start, desc, pic_offset, tl0_offset)


class H264Codec:
    name = "H264"

    def describe(self, packet: bytes, payload_start: int, payload_end: int) -> FrameDescriptor:
        # Padding would read as NAL data (a STAP-A unit size, say): parse only up to the payload's end.
        return parse_h264(packet if payload_end >= len(packet) else packet[:payload_end], payload_start)

    def frame_size(self, packet: bytes, desc: FrameDescriptor, payload_start: int) -> tuple[int, int] | None:
        if not desc.keyframe:
            return None
        try:
            sps = find_sps(packet, payload_start)
            return None if sps is None else sps_size(sps)
        except ParseError:
            return None  # a size we cannot read leaves the layer's estimate as it was

    def munge(self, header: bytes, payload: bytes, payload_start: int, desc: FrameDescriptor, pic_offset: int,
              tl0_offset: int) -> tuple[bytes, int, int]:
        return header + payload, -1, -1


VIDEO_CODECS: Final[dict[str, VideoCodec]] = {"VP8": Vp8Codec(), "H264": H264Codec()}


def video_codec(name: str) -> VideoCodec:
    """The implementation for an SDP codec name (case-insensitive); KeyError for one we do not forward."""
    return VIDEO_CODECS[name.upper()]

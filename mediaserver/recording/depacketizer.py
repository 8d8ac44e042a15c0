"""Turn a track's RTP packets back into codec frames (VP8 per RFC 7741, Opus one per packet), no decoding."""

from __future__ import annotations

from typing import NamedTuple

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.seq import TsUnwrapper
from mediaserver.rtp.vp8 import parse_vp8


class Frame(NamedTuple):
    data: bytes
    timestamp: int  # unwrapped RTP timestamp
    keyframe: bool


class OpusDepacketizer:
    def __init__(self) -> None:
        self._ts = TsUnwrapper()

    def push(self, packet: bytes) -> Frame | None:
        try:
            hdr = parse_rtp(packet)
        except ParseError:
            return None
        payload = packet[hdr.payload_start : hdr.payload_end]
        if not payload:
            return None
        return Frame(payload, self._ts.unwrap(hdr.timestamp), True)


class Vp8Depacketizer:
    """Reassembles frames; a frame with a missing packet is dropped, and output resumes at a keyframe."""

    def __init__(self) -> None:
        self._ts = TsUnwrapper()
        self._parts: list[bytes] = []
        self._frame_ts = -1
        self._keyframe = False
        self._expected_seq = -1
        self._broken = False
        self._need_keyframe = True
        self.frames_dropped = 0

    def push(self, packet: bytes) -> Frame | None:
        try:
            hdr = parse_rtp(packet)
            desc = parse_vp8(packet[: hdr.payload_end], hdr.payload_start)
        except ParseError:
            self._broken = True
            return None
        gap = self._expected_seq >= 0 and hdr.sequence != self._expected_seq
        self._expected_seq = (hdr.sequence + 1) & 0xFFFF
        if desc.start_of_partition and desc.partition_id == 0:
            if self._parts:
                self.frames_dropped += 1  # the previous frame never saw its marker
                self._need_keyframe = True
            self._parts = []
            self._frame_ts = hdr.timestamp
            self._keyframe = desc.keyframe
            self._broken = False
        elif gap or hdr.timestamp != self._frame_ts:
            self._broken = True
        if self._broken:
            if self._parts:
                self.frames_dropped += 1
            self._parts = []
            self._need_keyframe = True  # later frames may reference the lost one
            return None
        self._parts.append(packet[hdr.payload_start + desc.header_len : hdr.payload_end])
        if not hdr.marker:
            return None
        data, self._parts = b"".join(self._parts), []
        if self._need_keyframe and not self._keyframe:
            self.frames_dropped += 1
            return None
        self._need_keyframe = False
        return Frame(data, self._ts.unwrap(self._frame_ts), self._keyframe)

"""Turn a track's RTP packets back into codec frames (VP8 per RFC 7741, H.264 per RFC 6184, Opus one per packet).

No decoding: frames are only reassembled. H.264 frames come out in Annex B (start codes), as Matroska's muxer
takes them; the SPS and PPS of the first keyframe are kept for the file header.
"""

from __future__ import annotations

from typing import NamedTuple

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.h264 import NAL_IDR, NAL_PPS, NAL_SPS, H264Depacketizer
from mediaserver.rtp.h264_sps import sps_size
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


START_CODE = b"\x00\x00\x00\x01"


class H264FrameDepacketizer:
    """Access units out, one per RTP timestamp; a unit with a lost packet is dropped, output resumes at an IDR."""

    def __init__(self) -> None:
        self._ts = TsUnwrapper()
        self._units = H264Depacketizer()
        self._nals: list[bytes] = []
        self._frame_ts = -1
        self._expected_seq = -1
        self._broken = False
        self._need_keyframe = True
        self.frames_dropped = 0
        self.parameter_sets = b""  # the first keyframe's SPS and PPS in Annex B: Matroska's codec private data
        self.size = (0, 0)

    def push(self, packet: bytes) -> Frame | None:
        try:
            hdr = parse_rtp(packet)
        except ParseError:
            self._broken = True
            return None
        gap = self._expected_seq >= 0 and hdr.sequence != self._expected_seq
        self._expected_seq = (hdr.sequence + 1) & 0xFFFF
        if hdr.timestamp != self._frame_ts:
            if self._nals or self._broken:
                self.frames_dropped += 1  # the previous unit never saw its marker
                self._need_keyframe = True
            self._nals, self._frame_ts, self._broken = [], hdr.timestamp, gap
        elif gap:
            self._broken = True
        if not self._broken:
            try:
                self._nals += self._units.push(packet[hdr.payload_start : hdr.payload_end])
            except ParseError:
                self._broken = True
        if not hdr.marker:
            return None
        nals, broken = self._nals, self._broken
        self._nals, self._broken, self._frame_ts = [], False, -1
        if broken:
            self.frames_dropped += 1
            self._need_keyframe = True  # later frames reference the lost one
            return None
        types = [nal[0] & 0x1F for nal in nals]
        keyframe = NAL_IDR in types
        if (self._need_keyframe and not keyframe) or not nals:
            self.frames_dropped += bool(nals)
            return None
        self._need_keyframe = False
        if keyframe and not self.parameter_sets:
            self._note_parameter_sets(nals)
        return Frame(b"".join(START_CODE + nal for nal in nals), self._ts.unwrap(hdr.timestamp), keyframe)

    def _note_parameter_sets(self, nals: list[bytes]) -> None:
        sps = [nal for nal in nals if nal[0] & 0x1F == NAL_SPS]
        pps = [nal for nal in nals if nal[0] & 0x1F == NAL_PPS]
        if sps and pps:
            try:
                self.size = sps_size(sps[0])
            except ParseError:
                return
            self.parameter_sets = START_CODE + sps[0] + START_CODE + pps[0]

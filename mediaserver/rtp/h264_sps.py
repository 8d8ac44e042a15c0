"""The picture size an H.264 sequence parameter set declares (ITU-T H.264 7.3.2.1.1), read without a decoder."""

from __future__ import annotations

from .buffer import BytesLike
from .errors import ParseError

__all__ = ["sps_size", "unescape_rbsp"]

# Profiles whose SPS carries chroma format, bit depths and scaling matrices before the frame fields.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
# A ue(v) with more leading zeros than this does not fit any field of an SPS.
_MAX_LEADING_ZEROS = 31


def unescape_rbsp(nal: BytesLike) -> bytes:
    """The NAL unit's payload with emulation-prevention bytes (00 00 03) removed."""
    out = bytearray()
    zeros = 0
    for byte in bytes(nal):
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class _Bits:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def bit(self) -> int:
        index = self._pos >> 3
        if index >= len(self._data):
            raise ParseError("H.264 SPS ends early")
        value = (self._data[index] >> (7 - (self._pos & 7))) & 1
        self._pos += 1
        return value

    def bits(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = (value << 1) | self.bit()
        return value

    def ue(self) -> int:
        zeros = 0
        while self.bit() == 0:
            zeros += 1
            if zeros > _MAX_LEADING_ZEROS:
                raise ParseError("H.264 SPS has an over-long Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def _skip_scaling_lists(bits: _Bits, count: int) -> None:
    for index in range(count):
        if not bits.bit():
            continue
        size = 16 if index < 6 else 64
        last = following = 8
        for _ in range(size):
            if following:
                following = (last + bits.se() + 256) % 256
            last = following or last


def sps_size(nal: BytesLike) -> tuple[int, int]:
    """Width and height in pixels (after cropping) of the SPS NAL unit `nal` (its header byte first)."""
    if not nal or nal[0] & 0x1F != 7:
        raise ParseError("not an H.264 sequence parameter set")
    bits = _Bits(unescape_rbsp(nal[1:]))
    profile = bits.bits(8)
    bits.bits(16)  # constraint flags, reserved bits, level
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            bits.bit()  # separate_colour_plane_flag
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.bit()  # qpprime_y_zero_transform_bypass_flag
        if bits.bit():
            _skip_scaling_lists(bits, 8 if chroma_format != 3 else 12)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.bit()
        bits.se()
        bits.se()
        for _ in range(min(bits.ue(), 255)):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.bit()
    if not frame_mbs_only:
        bits.bit()  # mb_adaptive_frame_field_flag
    bits.bit()  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_units * 16
    if bits.bit():  # frame_cropping_flag
        # Crop units in luma samples (Table 6-1): 4:2:0 crops in pairs; 4:2:2 pairs horizontally only.
        unit_x = 2 if chroma_format in (1, 2) else 1
        unit_y = (2 if chroma_format == 1 else 1) * (2 - frame_mbs_only)
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0 or width > 16384 or height > 16384:
        raise ParseError(f"H.264 SPS declares an impossible size {width}x{height}")
    return width, height

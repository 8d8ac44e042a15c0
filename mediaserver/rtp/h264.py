"""RFC 6184 H.264 RTP payloads (packetization-mode 1): NAL unit types, keyframe starts, FU-A reassembly.

Only the non-interleaved mode browsers use is accepted: single NAL unit packets (types 1-23), STAP-A (24) and
FU-A (28). Everything else (STAP-B, MTAP, FU-B, reserved types, truncated aggregates) is a ParseError.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from .buffer import BytesLike
from .errors import ParseError

__all__ = ["NAL_IDR", "NAL_PPS", "NAL_SPS", "H264Depacketizer", "H264Payload", "find_sps", "packetize", "parse_h264"]

NAL_SLICE = 1
NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
STAP_A = 24
FU_A = 28
_TYPE_MASK = 0x1F
_FORBIDDEN = 0x80
_FU_START = 0x80
_FU_END = 0x40
_FIRST_MB_ZERO = 0x80


class H264Payload(NamedTuple):
    """What one RTP payload carries. For FU-A, `nal_types` is the fragmented unit's type.

    The last three fields are always None: H.264 as browsers send it has no temporal-layer id or picture id
    in the payload, and the forwarder reads those names from every codec's descriptor alike.
    """

    nal_types: tuple[int, ...]
    fragment_start: bool  # a whole NAL unit, an aggregate, or the first fragment of one
    fragment_end: bool
    keyframe: bool  # an SPS, or the start of an IDR slice: a decoder can start here
    frame_start: bool  # begins a picture: an SPS or access unit delimiter, or a slice starting at macroblock 0
    tid: int | None = None
    picture_id: int | None = None
    tl0picidx: int | None = None


def _nal_type(byte: int) -> int:
    if byte & _FORBIDDEN:
        raise ParseError("H.264 NAL header with the forbidden bit set")
    return byte & _TYPE_MASK


def parse_h264(payload: BytesLike, offset: int = 0) -> H264Payload:
    """Parse the RTP payload starting at `payload[offset]`; raises ParseError for anything malformed."""
    end = len(payload)
    if offset < 0 or offset >= end:
        raise ParseError("empty H.264 payload")
    kind = _nal_type(payload[offset])
    if 1 <= kind <= 23:
        return H264Payload((kind,), True, True, kind in (NAL_SPS, NAL_IDR), _starts_picture(payload, offset, end))
    if kind == STAP_A:
        units = _stap_units(payload, offset + 1, end)
        types = tuple(_nal_type(payload[start]) for start, _ in units)
        first, size = units[0]
        return H264Payload(types, True, True, NAL_SPS in types or NAL_IDR in types,
                           _starts_picture(payload, first, first + size))
    if kind == FU_A:
        if offset + 2 >= end:
            raise ParseError("FU-A without a fragment")
        header = payload[offset + 1]
        inner = header & _TYPE_MASK
        if not 1 <= inner <= 23:
            raise ParseError(f"FU-A fragmenting NAL type {inner}")
        start, last = bool(header & _FU_START), bool(header & _FU_END)
        if start and last:
            raise ParseError("FU-A fragment marked both start and end")
        # The fragmented unit's body starts after the FU indicator and FU header.
        begins = start and inner in (NAL_SLICE, NAL_IDR) and bool(payload[offset + 2] & _FIRST_MB_ZERO)
        return H264Payload((inner,), start, last, start and inner in (NAL_SPS, NAL_IDR), begins)
    raise ParseError(f"H.264 payload type {kind} is not allowed in packetization-mode 1")


def _starts_picture(payload: BytesLike, start: int, end: int) -> bool:
    """Whether the NAL unit at `start` begins a picture (ITU-T H.264 7.4.1.2.3 order of units)."""
    kind = payload[start] & _TYPE_MASK
    if kind in (NAL_SPS, NAL_AUD):
        return True
    # first_mb_in_slice is the slice header's first ue(v): a leading 1 bit codes 0, the picture's first slice.
    return kind in (NAL_SLICE, NAL_IDR) and start + 1 < end and bool(payload[start + 1] & _FIRST_MB_ZERO)


def _stap_units(payload: BytesLike, pos: int, end: int) -> list[tuple[int, int]]:
    """(start, length) of each NAL unit of a STAP-A, after its header byte."""
    units = []
    while pos < end:
        if pos + 2 > end:
            raise ParseError("STAP-A truncated in a NAL unit size")
        size = (payload[pos] << 8) | payload[pos + 1]
        pos += 2
        if size == 0 or pos + size > end:
            raise ParseError(f"STAP-A NAL unit of {size} bytes does not fit")
        units.append((pos, size))
        pos += size
    if not units:
        raise ParseError("STAP-A without NAL units")
    return units


def find_sps(payload: BytesLike, offset: int = 0) -> bytes | None:
    """The SPS NAL unit a single-NAL or STAP-A payload carries (Chrome sends it with each keyframe), or None."""
    end = len(payload)
    if offset >= end:
        return None
    kind = payload[offset] & _TYPE_MASK
    if kind == NAL_SPS:
        return bytes(payload[offset:end])
    if kind == STAP_A:
        for start, size in _stap_units(payload, offset + 1, end):
            if payload[start] & _TYPE_MASK == NAL_SPS:
                return bytes(payload[start : start + size])
    return None


class H264Depacketizer:
    """Payloads in, in sequence order, complete NAL units out (without start codes); for the recorder."""

    def __init__(self) -> None:
        self._fragments: list[bytes] | None = None

    def push(self, payload: bytes) -> list[bytes]:
        info = parse_h264(payload)  # raises ParseError; a broken fragment run is dropped below
        kind = payload[0] & _TYPE_MASK
        if kind == STAP_A:
            self._fragments = None
            return [payload[start : start + size] for start, size in _stap_units(payload, 1, len(payload))]
        if kind != FU_A:
            self._fragments = None
            return [payload]
        if info.fragment_start:
            # The unit's own header: F and NRI from the FU indicator, the type from the FU header.
            self._fragments = [bytes([(payload[0] & 0xE0) | info.nal_types[0]]), payload[2:]]
        elif self._fragments is None:
            raise ParseError("FU-A fragment without its start (a packet was lost)")
        else:
            self._fragments.append(payload[2:])
        if not info.fragment_end:
            return []
        unit, self._fragments = b"".join(self._fragments), None
        return [unit]


def packetize(nal_units: Iterable[bytes], mtu: int = 1200) -> list[bytes]:
    """NAL units to RTP payloads of at most `mtu` bytes: small neighbours share a STAP-A, large ones split in FU-As."""
    if mtu < 3:
        raise ValueError("mtu must leave room for an FU-A header and a fragment byte")
    payloads: list[bytes] = []
    pending: list[bytes] = []

    def flush() -> None:
        if len(pending) == 1:
            payloads.append(pending[0])
        elif pending:
            nri = max(unit[0] & 0x60 for unit in pending)
            payloads.append(bytes([nri | STAP_A]) + b"".join(len(u).to_bytes(2, "big") + u for u in pending))
        pending.clear()

    for unit in nal_units:
        if not unit or unit[0] & _FORBIDDEN or not 1 <= unit[0] & _TYPE_MASK <= 23:
            raise ValueError("each NAL unit needs a valid header byte (type 1-23)")
        if len(unit) > mtu:
            flush()
            payloads.extend(_fragment(unit, mtu))
            continue
        size = 1 + sum(2 + len(u) for u in pending) + 2 + len(unit)
        if pending and size > mtu:
            flush()
        pending.append(unit)
    flush()
    return payloads


def _fragment(unit: bytes, mtu: int) -> list[bytes]:
    indicator = bytes([(unit[0] & 0xE0) | FU_A])
    kind = unit[0] & _TYPE_MASK
    body, room = unit[1:], mtu - 2
    pieces = [body[i : i + room] for i in range(0, len(body), room)]
    out = []
    for index, piece in enumerate(pieces):
        header = kind | (_FU_START if index == 0 else 0) | (_FU_END if index == len(pieces) - 1 else 0)
        out.append(indicator + bytes([header]) + piece)
    return out

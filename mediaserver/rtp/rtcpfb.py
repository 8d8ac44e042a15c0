"""RTCP feedback messages: generic NACK and PLI (RFC 4585), FIR (RFC 5104), REMB, transport-cc."""

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from .buffer import BytesLike
from .errors import ParseError
from .rtcp_base import (
    FB_HEADER,
    FMT_AFB,
    FMT_FIR,
    FMT_NACK,
    FMT_PLI,
    FMT_TRANSPORT_CC,
    PSFB,
    RTPFB,
    U32,
    UnknownRtcp,
    frame,
    need,
)
from .twcc import TwccFeedback, decode_feedback

__all__ = [
    "REMB_ID",
    "Fir",
    "Nack",
    "Pli",
    "Remb",
    "TransportCC",
    "nack_pairs",
    "parse_afb",
    "parse_fir",
    "parse_nack",
    "parse_pli",
    "parse_transport_cc",
    "remb_encode",
]

REMB_ID = b"REMB"
_NACK_ITEM = struct.Struct("!HH")
_FIR_ITEM = struct.Struct("!IB3x")
_REMB_HEAD = struct.Struct("!4sBBH")
_MANTISSA_BITS = 18
_MANTISSA_MAX = (1 << _MANTISSA_BITS) - 1
_EXP_MAX = 63


@dataclass(slots=True)
class Nack:
    """Generic NACK (RFC 4585 6.2.1); ``lost`` lists 16-bit sequence numbers.

    Parsing returns ``lost`` numerically sorted without duplicates, whatever the wire order.
    """

    sender_ssrc: int = 0
    media_ssrc: int = 0
    lost: list[int] = field(default_factory=list)

    def serialize(self) -> bytes:
        body = bytearray(FB_HEADER.pack(self.sender_ssrc, self.media_ssrc))
        for pid, blp in nack_pairs(self.lost):
            body += _NACK_ITEM.pack(pid, blp)
        return frame(RTPFB, FMT_NACK, bytes(body))


def nack_pairs(lost: Iterable[int]) -> list[tuple[int, int]]:
    """Pack sequence numbers into the fewest ``(PID, BLP)`` pairs, in sequence order."""
    seqs = sorted({s & 0xFFFF for s in lost})
    if len(seqs) > 1:
        # Start after the widest circular gap so a loss burst spanning 65535 -> 0 is packed in
        # sequence order into as few pairs as when it does not wrap.
        gaps = [seqs[i + 1] - seqs[i] for i in range(len(seqs) - 1)]
        gaps.append(seqs[0] + 0x10000 - seqs[-1])
        start = (max(range(len(gaps)), key=gaps.__getitem__) + 1) % len(seqs)
        seqs = seqs[start:] + seqs[:start]
    pairs: list[tuple[int, int]] = []
    pid = -1
    blp = 0
    for s in seqs:
        d = (s - pid) & 0xFFFF
        if pid >= 0 and d <= 16:
            blp |= 1 << (d - 1)
            continue
        if pid >= 0:
            pairs.append((pid, blp))
        pid, blp = s, 0
    if pid >= 0:
        pairs.append((pid, blp))
    return pairs


@dataclass(slots=True)
class Pli:
    """Picture Loss Indication (RFC 4585 6.3.1)."""

    sender_ssrc: int = 0
    media_ssrc: int = 0

    def serialize(self) -> bytes:
        return frame(PSFB, FMT_PLI, FB_HEADER.pack(self.sender_ssrc, self.media_ssrc))


@dataclass(slots=True)
class Fir:
    """Full Intra Request (RFC 5104 4.3.1); ``entries`` are ``(media_ssrc, command_seq)``."""

    sender_ssrc: int = 0
    entries: list[tuple[int, int]] = field(default_factory=list)

    def serialize(self) -> bytes:
        # RFC 5104: the common "media source" field is unused for FIR and must be 0.
        body = FB_HEADER.pack(self.sender_ssrc, 0)
        body += b"".join(_FIR_ITEM.pack(ssrc, seq) for ssrc, seq in self.entries)
        return frame(PSFB, FMT_FIR, body)


@dataclass(slots=True)
class Remb:
    """Receiver Estimated Max Bitrate; ``bitrate`` in bit/s, sent as 6-bit exp + 18-bit mantissa.

    Serializing truncates the bitrate to the nearest representable value at or below it.
    """

    sender_ssrc: int = 0
    bitrate: int = 0
    ssrcs: list[int] = field(default_factory=list)

    def serialize(self) -> bytes:
        if self.bitrate < 0:
            raise ValueError("REMB bitrate must be non-negative")
        if len(self.ssrcs) > 0xFF:
            raise ValueError("REMB carries at most 255 SSRCs")
        mantissa, exp = remb_encode(self.bitrate)
        body = FB_HEADER.pack(self.sender_ssrc, 0)
        body += _REMB_HEAD.pack(REMB_ID, len(self.ssrcs), (exp << 2) | (mantissa >> 16), mantissa & 0xFFFF)
        body += b"".join(U32.pack(s) for s in self.ssrcs)
        return frame(PSFB, FMT_AFB, body)


def remb_encode(bitrate: int) -> tuple[int, int]:
    """Return ``(mantissa, exponent)`` with ``mantissa << exponent`` the largest value <= bitrate.

    Truncating (never rounding up) keeps the advertised rate a limit the sender can trust;
    rates beyond the format's range saturate at its maximum.
    """
    exp = max(0, bitrate.bit_length() - _MANTISSA_BITS)
    if exp > _EXP_MAX:
        return _MANTISSA_MAX, _EXP_MAX
    return bitrate >> exp, exp


@dataclass(slots=True)
class TransportCC:
    """Transport-wide congestion control feedback (RTPFB fmt 15); the FCI is kept as bytes, decoded on demand.

    Parsing a compound packet leaves the FCI opaque (a malformed one must not cost the reports beside it);
    :meth:`decode` reads it (mediaserver/rtp/twcc.py).
    """

    sender_ssrc: int = 0
    media_ssrc: int = 0
    fci: bytes = b""

    def serialize(self) -> bytes:
        return frame(RTPFB, FMT_TRANSPORT_CC, FB_HEADER.pack(self.sender_ssrc, self.media_ssrc) + self.fci)

    def decode(self) -> TwccFeedback:
        """The FCI's statuses and arrival times; ParseError when it is malformed."""
        return decode_feedback(self.fci)


def parse_nack(data: BytesLike, start: int, end: int, count: int) -> Nack:
    """Parse the body ``data[start:end]`` of a generic NACK."""
    need(start, end, 8, "NACK")
    sender, media = FB_HEADER.unpack_from(data, start)
    if (end - start - 8) % 4:
        raise ParseError("NACK FCI is not a whole number of PID+BLP pairs")
    lost: set[int] = set()
    for pos in range(start + 8, end, 4):
        pid, blp = _NACK_ITEM.unpack_from(data, pos)
        lost.add(pid)
        bit = 1
        while blp:
            if blp & 1:
                lost.add((pid + bit) & 0xFFFF)
            blp >>= 1
            bit += 1
    return Nack(sender, media, sorted(lost))


def parse_transport_cc(data: BytesLike, start: int, end: int, count: int) -> TransportCC:
    """Parse the body of a transport-cc feedback packet, keeping the FCI as bytes."""
    need(start, end, 8, "transport-cc feedback")
    sender, media = FB_HEADER.unpack_from(data, start)
    return TransportCC(sender, media, bytes(data[start + 8 : end]))


def parse_pli(data: BytesLike, start: int, end: int, count: int) -> Pli:
    """Parse the body of a PLI."""
    need(start, end, 8, "PLI")
    sender, media = FB_HEADER.unpack_from(data, start)
    return Pli(sender, media)


def parse_fir(data: BytesLike, start: int, end: int, count: int) -> Fir:
    """Parse the body of a FIR."""
    need(start, end, 8, "FIR")
    if (end - start - 8) % 8:
        raise ParseError("FIR FCI is not a whole number of entries")
    sender = U32.unpack_from(data, start)[0]
    return Fir(sender, [_FIR_ITEM.unpack_from(data, pos) for pos in range(start + 8, end, 8)])


def parse_afb(data: BytesLike, start: int, end: int, count: int) -> Remb | UnknownRtcp:
    """Parse an application-layer feedback body: REMB if tagged so, otherwise left opaque."""
    if end - start < 16 or data[start + 8 : start + 12] != REMB_ID:
        return UnknownRtcp(PSFB, count, bytes(data[start:end]))
    sender = U32.unpack_from(data, start)[0]
    _, num, hi, lo = _REMB_HEAD.unpack_from(data, start + 8)
    need(start + 16, end, 4 * num, "REMB SSRC list")
    bitrate = (((hi & 0x03) << 16) | lo) << (hi >> 2)
    return Remb(sender, bitrate, list(struct.unpack_from(f"!{num}I", data, start + 16)))

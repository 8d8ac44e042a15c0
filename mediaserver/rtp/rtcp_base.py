"""RTCP common framing shared by the report and feedback modules: constants, header, padding."""

import struct
from dataclasses import dataclass

from .errors import ParseError

__all__ = [
    "FMT_AFB",
    "FMT_FIR",
    "FMT_NACK",
    "FMT_PLI",
    "FMT_TRANSPORT_CC",
    "MAX_COUNT",
    "PSFB",
    "RTCP_APP",
    "RTCP_BYE",
    "RTCP_RR",
    "RTCP_SDES",
    "RTCP_SR",
    "RTCP_XR",
    "RTPFB",
    "UnknownRtcp",
    "frame",
    "need",
]

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
RTPFB = 205
PSFB = 206
RTCP_XR = 207

FMT_NACK = 1
FMT_TRANSPORT_CC = 15
FMT_PLI = 1
FMT_FIR = 4
FMT_AFB = 15

MAX_COUNT = 31
VERSION_BITS = 0x80
PADDING_BIT = 0x20

HEADER = struct.Struct("!BBH")
FB_HEADER = struct.Struct("!II")
U32 = struct.Struct("!I")


def frame(packet_type: int, count: int, body: bytes) -> bytes:
    """Prefix ``body`` with an RTCP header whose length field matches, padding it if unaligned.

    Unaligned bodies (opaque FCI, unknown types) get RTCP padding via the P bit, as libwebrtc
    does for transport-cc, so the parser can strip it and return the body byte for byte.
    """
    pad = -len(body) % 4
    words = (len(body) + pad) // 4
    if words > 0xFFFF:
        raise ValueError("RTCP packet too long")
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"RTCP count/fmt {count} out of range 0..31")
    if not 0 <= packet_type <= 0xFF:
        raise ValueError(f"RTCP packet type {packet_type} out of range 0..255")
    head = HEADER.pack(VERSION_BITS | count | (PADDING_BIT if pad else 0), packet_type, words)
    if pad:
        return head + body + bytes(pad - 1) + bytes((pad,))
    return head + body


def need(start: int, end: int, size: int, what: str) -> None:
    """Raise ParseError unless ``end - start >= size``."""
    if end - start < size:
        raise ParseError(f"truncated RTCP {what}")


@dataclass(slots=True)
class UnknownRtcp:
    """Any other packet; ``body`` is everything after the 4-byte header, without RTCP padding."""

    packet_type: int = 0
    fmt: int = 0
    body: bytes = b""

    def serialize(self) -> bytes:
        return frame(self.packet_type, self.fmt, self.body)

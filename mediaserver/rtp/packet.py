"""Lossless object model of a whole RTP packet for tests, bots and tools (not the forwarding path)."""

import struct
from dataclasses import dataclass, field

from .buffer import BytesLike
from .extensions import (
    ONE_BYTE_MAX_ID,
    ONE_BYTE_MAX_LEN,
    PROFILE_ONE_BYTE,
    TWO_BYTE_MAX_ID,
    TWO_BYTE_MAX_LEN,
    is_two_byte_profile,
    iter_extensions,
)
from .header import EXTENSION_BIT, FIXED_HEADER, MARKER_BIT, PADDING_BIT, RTP_VERSION, parse_rtp

__all__ = ["RtpPacket"]

# Marks the single element carrying the raw block of a non-RFC 8285 profile. ID 0 is reserved
# for padding in both RFC 8285 forms, so it can never collide with a real element.
RAW_EXTENSION_ID = 0
MAX_CSRCS = 15


@dataclass
class RtpPacket:
    """A version-2 RTP packet.

    ``extensions`` keeps elements in wire order, including ids nobody negotiated, so tools can
    re-serialize a captured packet unchanged. ``extension_profile`` is None when the X bit is
    clear. For a profile that is not RFC 8285 (neither 0xBEDE nor 0x100X), the block is opaque and
    kept as one ``(0, raw_block_bytes)`` element. ``padding_size`` counts the RTP padding bytes
    including the trailing count byte (0 = P bit clear); padding bytes are written as zeros.
    """

    padding_size: int = 0
    marker: bool = False
    payload_type: int = 0
    sequence: int = 0
    timestamp: int = 0
    ssrc: int = 0
    csrcs: list[int] = field(default_factory=list)
    extensions: list[tuple[int, bytes]] = field(default_factory=list)
    extension_profile: int | None = None
    payload: bytes = b""

    @classmethod
    def parse(cls, data: BytesLike) -> "RtpPacket":
        """Decode ``data``; raise :class:`~.errors.ParseError` if it is not a well-formed RTP packet."""
        h = parse_rtp(data)
        csrcs = list(struct.unpack_from(f"!{h.csrc_count}I", data, 12)) if h.csrc_count else []
        extensions: list[tuple[int, bytes]] = []
        profile: int | None = None
        if h.ext_start:
            profile = h.ext_profile
            if profile == PROFILE_ONE_BYTE or is_two_byte_profile(profile):
                extensions = [(i, bytes(data[s:e])) for i, s, e in iter_extensions(data, h)]
            elif h.ext_end > h.ext_start:
                extensions = [(RAW_EXTENSION_ID, bytes(data[h.ext_start : h.ext_end]))]
        return cls(
            padding_size=len(data) - h.payload_end,
            marker=h.marker,
            payload_type=h.payload_type,
            sequence=h.sequence,
            timestamp=h.timestamp,
            ssrc=h.ssrc,
            csrcs=csrcs,
            extensions=extensions,
            extension_profile=profile,
            payload=bytes(data[h.payload_start : h.payload_end]),
        )

    def serialize(self) -> bytes:
        """Encode to wire format; raise ValueError if a field cannot be represented."""
        if len(self.csrcs) > MAX_CSRCS:
            raise ValueError(f"at most {MAX_CSRCS} CSRCs, got {len(self.csrcs)}")
        if not 0 <= self.payload_type <= 0x7F:
            raise ValueError(f"payload type {self.payload_type} out of range 0..127")
        if not 0 <= self.padding_size <= 0xFF:
            raise ValueError(f"padding size {self.padding_size} out of range 0..255")
        b0 = (RTP_VERSION << 6) | len(self.csrcs)
        if self.padding_size:
            b0 |= PADDING_BIT
        ext = b""
        if self.extension_profile is not None:
            b0 |= EXTENSION_BIT
            ext = self._extension_block(self.extension_profile)
        b1 = (MARKER_BIT if self.marker else 0) | self.payload_type
        out = bytearray(FIXED_HEADER.size + 4 * len(self.csrcs))
        try:
            FIXED_HEADER.pack_into(out, 0, b0, b1, self.sequence, self.timestamp, self.ssrc)
            struct.pack_into(f"!{len(self.csrcs)}I", out, FIXED_HEADER.size, *self.csrcs)
        except struct.error as exc:
            raise ValueError(str(exc)) from None
        out += ext
        out += self.payload
        if self.padding_size:
            out += bytes(self.padding_size - 1)
            out.append(self.padding_size)
        return bytes(out)

    def _extension_block(self, profile: int) -> bytes:
        # Encodes in the form named by the stored profile, rather than choosing one like
        # build_extension_block does, so the round trip preserves the profile (and its appbits).
        body = bytearray()
        if profile == PROFILE_ONE_BYTE:
            for ext_id, value in self.extensions:
                if not 1 <= ext_id <= ONE_BYTE_MAX_ID or not 1 <= len(value) <= ONE_BYTE_MAX_LEN:
                    raise ValueError(f"element {ext_id} ({len(value)} bytes) does not fit one-byte form")
                body.append((ext_id << 4) | (len(value) - 1))
                body += value
        elif is_two_byte_profile(profile):
            for ext_id, value in self.extensions:
                if not 1 <= ext_id <= TWO_BYTE_MAX_ID or len(value) > TWO_BYTE_MAX_LEN:
                    raise ValueError(f"element {ext_id} ({len(value)} bytes) does not fit two-byte form")
                body.append(ext_id)
                body.append(len(value))
                body += value
        elif not 0 <= profile <= 0xFFFF:
            raise ValueError(f"extension profile {profile:#x} out of range")
        elif self.extensions:
            if len(self.extensions) != 1 or self.extensions[0][0] != RAW_EXTENSION_ID:
                raise ValueError("a non-RFC 8285 profile carries one (0, raw_block) element")
            body += self.extensions[0][1]
            if len(body) % 4:
                raise ValueError("raw extension block must be a multiple of 4 bytes")
        body += bytes(-len(body) % 4)
        words = len(body) // 4
        if words > 0xFFFF:
            raise ValueError("extension block too long")
        return struct.pack("!HH", profile, words) + bytes(body)


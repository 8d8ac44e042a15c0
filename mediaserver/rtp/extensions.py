"""RFC 8285 RTP header extension elements: locating, building, and decoding common values."""

from collections.abc import Iterator

from .buffer import BytesLike
from .errors import ParseError
from .header import RtpHeader

__all__ = [
    "PROFILE_ONE_BYTE",
    "PROFILE_TWO_BYTE",
    "URI_ABS_SEND_TIME",
    "URI_AUDIO_LEVEL",
    "URI_MID",
    "URI_REPAIRED_RID",
    "URI_RID",
    "URI_TRANSPORT_CC",
    "build_extension_block",
    "decode_abs_send_time",
    "decode_audio_level",
    "decode_sdes_item",
    "decode_transport_cc",
    "encode_abs_send_time",
    "encode_audio_level",
    "encode_transport_cc",
    "find_extension",
    "is_two_byte_profile",
    "iter_extensions",
    "parse_extensions",
]

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
URI_REPAIRED_RID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_TRANSPORT_CC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

PROFILE_ONE_BYTE = 0xBEDE
# The low 4 bits of the two-byte profile are "appbits", free for the application.
PROFILE_TWO_BYTE = 0x1000
_TWO_BYTE_MASK = 0xFFF0

ONE_BYTE_MAX_ID = 14
ONE_BYTE_MAX_LEN = 16
# RFC 8285 4.2: ID 15 is reserved; on seeing it the rest of the block must be ignored.
_ONE_BYTE_STOP_ID = 15
TWO_BYTE_MAX_ID = 255
TWO_BYTE_MAX_LEN = 255


def is_two_byte_profile(profile: int) -> bool:
    """True for the RFC 8285 two-byte profiles 0x1000..0x100F."""
    return profile & _TWO_BYTE_MASK == PROFILE_TWO_BYTE


def iter_extensions(data: BytesLike, header: RtpHeader) -> Iterator[tuple[int, int, int]]:
    """Yield ``(id, value_start, value_end)`` offsets for each element of the extension block.

    Blocks with a profile other than RFC 8285's yield nothing: their content is opaque to us.
    """
    pos = header.ext_start
    end = header.ext_end
    if pos == 0:
        return
    if end > len(data):
        raise ParseError("header does not match buffer")
    profile = header.ext_profile
    if profile == PROFILE_ONE_BYTE:
        while pos < end:
            b = data[pos]
            ext_id = b >> 4
            if 0 < ext_id < _ONE_BYTE_STOP_ID:
                start = pos + 1
                pos = start + (b & 0x0F) + 1
                if pos > end:
                    raise ParseError(f"one-byte extension {ext_id} overruns the extension block")
                yield ext_id, start, pos
            elif b == 0:
                pos += 1
            else:
                # ID 15 ends the block by definition; ID 0 with a non-zero length is neither
                # padding nor an element, and like libwebrtc we stop rather than guess its size.
                return
    elif profile & _TWO_BYTE_MASK == PROFILE_TWO_BYTE:
        while pos < end:
            ext_id = data[pos]
            if ext_id == 0:
                pos += 1
                continue
            start = pos + 2
            if start > end:
                raise ParseError(f"two-byte extension {ext_id} header overruns the extension block")
            pos = start + data[pos + 1]
            if pos > end:
                raise ParseError(f"two-byte extension {ext_id} overruns the extension block")
            yield ext_id, start, pos


def find_extension(data: BytesLike, header: RtpHeader, ext_id: int) -> bytes | None:
    """Return the value of the first element with ``ext_id``, or None if absent.

    Duplicates the iterator's loop inline because this runs for several ids on every packet and
    generator resumption costs more than the scan itself for typical 3-6 element blocks.
    """
    pos = header.ext_start
    if pos == 0:
        return None
    end = header.ext_end
    if end > len(data):
        raise ParseError("header does not match buffer")
    profile = header.ext_profile
    if profile == PROFILE_ONE_BYTE:
        while pos < end:
            b = data[pos]
            found = b >> 4
            if 0 < found < _ONE_BYTE_STOP_ID:
                start = pos + 1
                pos = start + (b & 0x0F) + 1
                if pos > end:
                    raise ParseError(f"one-byte extension {found} overruns the extension block")
                if found == ext_id:
                    return bytes(data[start:pos])
            elif b == 0:
                pos += 1
            else:
                return None
    elif profile & _TWO_BYTE_MASK == PROFILE_TWO_BYTE:
        while pos < end:
            found = data[pos]
            if found == 0:
                pos += 1
                continue
            start = pos + 2
            if start > end:
                raise ParseError(f"two-byte extension {found} header overruns the extension block")
            pos = start + data[pos + 1]
            if pos > end:
                raise ParseError(f"two-byte extension {found} overruns the extension block")
            if found == ext_id:
                return bytes(data[start:pos])
    return None


def parse_extensions(data: BytesLike, header: RtpHeader) -> dict[int, bytes]:
    """Return all elements as ``{id: value}``; for a repeated id the last occurrence wins."""
    return {ext_id: bytes(data[start:end]) for ext_id, start, end in iter_extensions(data, header)}


def build_extension_block(elements: dict[int, bytes] | list[tuple[int, bytes]]) -> tuple[int, bytes]:
    """Encode elements as a complete extension block (4-byte header included, 32-bit padded).

    Returns ``(profile, block)``. The one-byte form is chosen whenever every element fits it since
    it is what every browser negotiates by default; otherwise the two-byte form is used.
    """
    items = list(elements.items()) if isinstance(elements, dict) else list(elements)
    one_byte = all(
        1 <= ext_id <= ONE_BYTE_MAX_ID and 1 <= len(value) <= ONE_BYTE_MAX_LEN for ext_id, value in items
    )
    body = bytearray()
    if one_byte:
        profile = PROFILE_ONE_BYTE
        for ext_id, value in items:
            body.append((ext_id << 4) | (len(value) - 1))
            body += value
    else:
        profile = PROFILE_TWO_BYTE
        for ext_id, value in items:
            if not 1 <= ext_id <= TWO_BYTE_MAX_ID:
                raise ValueError(f"extension id {ext_id} out of range 1..255")
            if len(value) > TWO_BYTE_MAX_LEN:
                raise ValueError(f"extension {ext_id} value longer than 255 bytes")
            body.append(ext_id)
            body.append(len(value))
            body += value
    body += bytes(-len(body) % 4)
    words = len(body) // 4
    if words > 0xFFFF:
        raise ValueError("extension block too long")
    return profile, bytes((profile >> 8, profile & 0xFF, words >> 8, words & 0xFF)) + body


def decode_audio_level(v: BytesLike) -> tuple[bool, int]:
    """RFC 6464: return ``(voice_activity, level)`` with level in -dBov (0 loudest, 127 silence)."""
    if len(v) != 1:
        raise ParseError(f"audio level value must be 1 byte, got {len(v)}")
    b = v[0]
    return b >= 0x80, b & 0x7F


def encode_audio_level(vad: bool, level: int) -> bytes:
    """Inverse of :func:`decode_audio_level`."""
    if not 0 <= level <= 127:
        raise ValueError(f"audio level {level} out of range 0..127")
    return bytes(((0x80 if vad else 0) | level,))


def decode_abs_send_time(v: BytesLike) -> int:
    """Return the 24-bit 6.18 fixed-point seconds value of abs-send-time."""
    if len(v) != 3:
        raise ParseError(f"abs-send-time value must be 3 bytes, got {len(v)}")
    return (v[0] << 16) | (v[1] << 8) | v[2]


def encode_abs_send_time(value: int) -> bytes:
    """Encode a 6.18 fixed-point time; higher bits are dropped since the field wraps every 64 s."""
    return (value & 0xFFFFFF).to_bytes(3, "big")


def decode_transport_cc(v: BytesLike) -> int:
    """Return the 16-bit transport-wide sequence number."""
    if len(v) != 2:
        raise ParseError(f"transport-cc value must be 2 bytes, got {len(v)}")
    return (v[0] << 8) | v[1]


def encode_transport_cc(seq: int) -> bytes:
    """Encode a transport-wide sequence number (reduced modulo 2**16)."""
    return (seq & 0xFFFF).to_bytes(2, "big")


def decode_sdes_item(v: BytesLike) -> str:
    """Decode a MID / RID / repaired-RID value, which must be non-empty ASCII."""
    if not v:
        raise ParseError("empty SDES item value")
    try:
        return bytes(v).decode("ascii")
    except UnicodeDecodeError:
        raise ParseError("non-ASCII SDES item value") from None

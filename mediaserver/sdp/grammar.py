"""Low-level SDP grammar: the SdpError type, token checks and field parsers (numbers, rtpmap, simulcast)."""

from __future__ import annotations

import re
from typing import Final


class SdpError(ValueError):
    """Malformed or unacceptable SDP; the only exception the SDP package raises for bad input."""


# RFC 4566 token-char; used for attribute names, mids, msid ids and codec names.
TOKEN_RE: Final = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
# RFC 4566 proto = token *("/" token)
PROTO_RE: Final = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+(?:/[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+)*")
# RFC 8851 rid-syntax
RID_RE: Final = re.compile(r"[A-Za-z0-9_\-]+")
# RFC 8839 ice-char = ALPHA / DIGIT / "+" / "/"
ICE_CHARS_RE: Final = re.compile(r"[A-Za-z0-9+/]+")
# Bounded so that absurd digit strings fail here rather than in int() (which limits str length).
_UINT_RE: Final = re.compile(r"[0-9]{1,10}")
# SHA-256 fingerprint: 32 hex octets separated by colons, either case.
SHA256_HEX_RE: Final = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}")

DIRECTIONS: Final = ("sendrecv", "sendonly", "recvonly", "inactive")
SETUP_ROLES: Final = ("actpass", "active", "passive", "holdconn")


def is_token(text: str) -> bool:
    return TOKEN_RE.fullmatch(text) is not None


def parse_uint(text: str, what: str, maximum: int) -> int:
    """Parse an ASCII decimal in [0, maximum]; int() alone would accept '+1', '1_0' and non-ASCII digits."""
    if _UINT_RE.fullmatch(text) is None:
        raise SdpError(f"{what}: expected a decimal number, got {shorten(text)}")
    value = int(text)
    if value > maximum:
        raise SdpError(f"{what}: {value} is out of range (max {maximum})")
    return value


def shorten(text: str, limit: int = 60) -> str:
    """repr() of text, cut so error messages stay readable whatever the input."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def parse_rtpmap(value: str) -> tuple[int, str, int, int | None]:
    """`<pt> <name>/<clock>[/<channels>]` -> (pt, name, clock rate, channels)."""
    parts = value.split(None, 1)
    if len(parts) != 2:
        raise SdpError(f"a=rtpmap {shorten(value)}: expected '<payload type> <name>/<clock rate>'")
    pt = parse_uint(parts[0], "a=rtpmap payload type", 127)
    enc = parts[1].strip().split("/")
    if len(enc) not in (2, 3) or not is_token(enc[0]):
        raise SdpError(f"a=rtpmap {shorten(value)}: expected '<name>/<clock rate>[/<channels>]'")
    clock = parse_uint(enc[1], f"a=rtpmap:{pt} clock rate", 10_000_000)
    if clock == 0:
        raise SdpError(f"a=rtpmap:{pt}: clock rate must not be 0")
    channels = parse_uint(enc[2], f"a=rtpmap:{pt} channels", 255) if len(enc) == 3 else None
    return pt, enc[0], clock, channels


def parse_fmtp_params(fmtp: str | None) -> dict[str, str]:
    """`a=b;c=d;flag` -> {'a': 'b', 'c': 'd', 'flag': ''}; keys lower-cased (RFC 4855 parameter names)."""
    params: dict[str, str] = {}
    if not fmtp:
        return params
    for item in fmtp.split(";"):
        item = item.strip()
        if not item:
            continue
        key, _, val = item.partition("=")
        params[key.strip().lower()] = val.strip()
    return params


SimulcastStreams = list[list[tuple[str, bool]]]
"""Simulcast streams: one entry per stream, each a list of (rid, paused) alternatives in preference order."""


def parse_simulcast(value: str) -> dict[str, SimulcastStreams]:
    """Parse an RFC 8853 `a=simulcast` value into {'send'|'recv': streams}.

    The draft-03 form `send rid=a;b` that older browsers emitted is accepted too.
    """
    words = value.split()
    if len(words) not in (2, 4):
        raise SdpError(f"a=simulcast:{shorten(value)}: expected 'send|recv <streams> [recv|send <streams>]'")
    result: dict[str, SimulcastStreams] = {}
    for i in range(0, len(words), 2):
        direction, streams_text = words[i], words[i + 1]
        if direction not in ("send", "recv"):
            raise SdpError(f"a=simulcast: direction must be 'send' or 'recv', got {shorten(direction)}")
        if direction in result:
            raise SdpError(f"a=simulcast: direction {direction!r} given twice")
        if streams_text.startswith("rid="):
            streams_text = streams_text[4:]
        streams: SimulcastStreams = []
        seen: set[str] = set()
        for stream_text in streams_text.split(";"):
            alternatives: list[tuple[str, bool]] = []
            for alt in stream_text.split(","):
                paused = alt.startswith("~")
                rid = alt[1:] if paused else alt
                if RID_RE.fullmatch(rid) is None:
                    raise SdpError(f"a=simulcast: invalid rid {shorten(alt)}")
                if rid in seen:
                    raise SdpError(f"a=simulcast: rid {rid!r} listed twice")
                seen.add(rid)
                alternatives.append((rid, paused))
            streams.append(alternatives)
        result[direction] = streams
    return result


def format_simulcast_streams(streams: SimulcastStreams, keep_paused: bool = True) -> str:
    return ";".join(",".join(("~" if paused and keep_paused else "") + rid for rid, paused in alts) for alts in streams)


def normalize_fingerprint(hex_value: str) -> str:
    """Validate a SHA-256 fingerprint value and return it upper-cased."""
    if SHA256_HEX_RE.fullmatch(hex_value) is None:
        raise SdpError(f"a=fingerprint: sha-256 value is not 32 colon-separated hex octets: {shorten(hex_value)}")
    return hex_value.upper()

"""SDP model API in one import: the description dataclasses, parse_sdp and SdpError."""

from mediaserver.sdp.description import Codec, MediaSection, Rid, SessionDescription
from mediaserver.sdp.grammar import SdpError
from mediaserver.sdp.parser import MAX_SDP_CHARS, MAX_SDP_LINES, parse_sdp

__all__ = [
    "MAX_SDP_CHARS",
    "MAX_SDP_LINES",
    "Codec",
    "MediaSection",
    "Rid",
    "SdpError",
    "SessionDescription",
    "parse_sdp",
]

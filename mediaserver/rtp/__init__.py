"""RTP/RTCP packet formats on raw bytes: headers, extensions, RTCP, VP8 descriptor, sequence arithmetic."""

from .errors import ParseError
from .extensions import find_extension, iter_extensions
from .header import RTP_MIN_HEADER, RtpHeader, is_rtcp, parse_rtp, rewrite_rtp
from .packet import RtpPacket
from .rtcp import RtcpPacket, build_compound, parse_rtcp
from .seq import SeqUnwrapper, seq_add, seq_diff, seq_newer, ts_add, ts_diff
from .vp8 import Vp8Descriptor, parse_vp8, rewrite_vp8

__all__ = [
    "RTP_MIN_HEADER",
    "ParseError",
    "RtcpPacket",
    "RtpHeader",
    "RtpPacket",
    "SeqUnwrapper",
    "Vp8Descriptor",
    "build_compound",
    "find_extension",
    "is_rtcp",
    "iter_extensions",
    "parse_rtcp",
    "parse_rtp",
    "parse_vp8",
    "rewrite_rtp",
    "rewrite_vp8",
    "seq_add",
    "seq_diff",
    "seq_newer",
    "ts_add",
    "ts_diff",
]

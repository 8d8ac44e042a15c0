"""Session descriptions: parse offers and answers, build answers for publishers and offers for subscribers."""

from mediaserver.sdp.model import SdpError, SessionDescription, parse_sdp
from mediaserver.sdp.negotiation import (
    InactiveSlot,
    NegotiatedMedia,
    OutboundTrack,
    PeerIdentity,
    ServerIdentity,
    answer_publisher_offer,
    build_subscriber_offer,
    parse_subscriber_answer,
    sha256_fingerprint,
)

__all__ = [
    "InactiveSlot",
    "NegotiatedMedia",
    "OutboundTrack",
    "PeerIdentity",
    "SdpError",
    "ServerIdentity",
    "SessionDescription",
    "answer_publisher_offer",
    "build_subscriber_offer",
    "parse_sdp",
    "parse_subscriber_answer",
    "sha256_fingerprint",
]

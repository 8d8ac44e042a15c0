"""Offer/answer negotiation API: one import point for the publisher answer and subscriber offer code."""

from __future__ import annotations

from mediaserver.sdp.grammar import SdpError
from mediaserver.sdp.identity import (
    PeerIdentity,
    ServerIdentity,
    random_ice_credentials,
    sha256_fingerprint,
)
from mediaserver.sdp.publisher import (
    ACCEPTED_EXTENSIONS,
    ACCEPTED_FEEDBACK,
    VIDEO_CODECS,
    NegotiatedMedia,
    answer_publisher_offer,
)
from mediaserver.sdp.subscriber import (
    SUBSCRIBER_PAYLOAD_TYPES,
    SUBSCRIBER_RTX_PAYLOAD_TYPES,
    TRANSPORT_CC_ID,
    InactiveSlot,
    OutboundTrack,
    Slot,
    SubscriberAnswer,
    build_subscriber_offer,
    check_slot_order,
    parse_subscriber_answer,
    read_subscriber_answer,
)

__all__ = [
    "ACCEPTED_EXTENSIONS",
    "ACCEPTED_FEEDBACK",
    "SUBSCRIBER_PAYLOAD_TYPES",
    "SUBSCRIBER_RTX_PAYLOAD_TYPES",
    "TRANSPORT_CC_ID",
    "VIDEO_CODECS",
    "InactiveSlot",
    "NegotiatedMedia",
    "OutboundTrack",
    "PeerIdentity",
    "SdpError",
    "ServerIdentity",
    "Slot",
    "SubscriberAnswer",
    "answer_publisher_offer",
    "build_subscriber_offer",
    "check_slot_order",
    "parse_subscriber_answer",
    "random_ice_credentials",
    "read_subscriber_answer",
    "sha256_fingerprint",
]

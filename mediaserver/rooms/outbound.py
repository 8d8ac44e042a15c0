"""The RTP header in front of every packet sent to one subscriber, with the transport-wide sequence number its
browser's feedback acknowledges (the downlink estimate's input)."""

from __future__ import annotations

import struct
from typing import Protocol

_plain = struct.Struct("!BBHII").pack
# RFC 8285 one-byte form: profile, one word of elements, then id/len, the 16-bit number and a pad byte.
_with_transport_seq = struct.Struct("!BBHIIHHBHB").pack
HEADER_SIZE = 12
HEADER_WITH_SEQ_SIZE = 20
_ONE_BYTE_PROFILE = 0xBEDE
_X_BIT = 0x10
# SRTP's 10-byte tag and IPv4 + UDP: the estimate is compared with what links carry, headers and all.
WIRE_OVERHEAD = 10 + 28


class SendRecorder(Protocol):
    """The estimator's side of sending: hands out the next transport-wide number and notes size and time."""

    def sent(self, size: int, now: float) -> int: ...


def plain_header(b0: int, b1: int, seq: int, ts: int, ssrc: int, payload_len: int, now: float) -> bytes:
    """A header without extensions (a subscriber that gives no transport-wide feedback)."""
    return _plain(b0, b1, seq, ts, ssrc)


class OutboundHeaders:
    """Builds each outgoing header; once the subscriber's answer kept the extension, numbers every packet."""

    __slots__ = ("_element", "_recorder", "numbering")

    def __init__(self, ext_id: int, recorder: SendRecorder) -> None:
        self._element = (ext_id << 4) | 1  # the id and a length of two bytes (written minus one)
        self._recorder = recorder
        self.numbering = False

    def pack(self, b0: int, b1: int, seq: int, ts: int, ssrc: int, payload_len: int, now: float) -> bytes:
        if not self.numbering:
            return _plain(b0, b1, seq, ts, ssrc)
        transport_seq = self._recorder.sent(HEADER_WITH_SEQ_SIZE + payload_len + WIRE_OVERHEAD, now)
        return _with_transport_seq(b0 | _X_BIT, b1, seq, ts, ssrc, _ONE_BYTE_PROFILE, 1, self._element,
                                   transport_seq, 0)

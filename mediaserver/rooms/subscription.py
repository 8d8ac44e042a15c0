"""Subscription: one publication forwarded to one subscriber, with its own SSRC, sequence and timestamp space."""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import RtpHeader
from mediaserver.rtp.ntp import ntp_middle32, rtt_seconds
from mediaserver.rtp.rtcp import ReportBlock, SenderReport
from mediaserver.rtp.vp8 import parse_vp8

from .packet_cache import PacketCache

if TYPE_CHECKING:
    from .publication import Publication

_pack_header = struct.Struct("!BBHII").pack


class Subscription:
    """Forwards packets of the publication's chosen layer, rewritten into this subscriber's stream."""

    __slots__ = (
        "_started",
        "active",
        "cache",
        "fraction_lost",
        "jitter",
        "keyframe_requests",
        "kind",
        "last_seq",
        "last_sr_middle",
        "last_ts",
        "last_ts_at",
        "mid",
        "nack_misses",
        "nacks_received",
        "negotiated",
        "octets_sent",
        "packets_lost",
        "packets_sent",
        "payload_type",
        "publication",
        "request_keyframe",
        "retransmits",
        "rtt",
        "send",
        "seq_offset",
        "ssrc",
        "ts_offset",
        "waiting_keyframe",
    )

    def __init__(
        self,
        publication: Publication,
        mid: str,
        payload_type: int,
        send: Callable[[bytes], None],
        request_keyframe: Callable[[], None],
    ) -> None:
        self.publication = publication
        self.kind = publication.kind
        self.mid = mid
        self.ssrc = secrets.randbits(32) or 1
        self.payload_type = payload_type
        self.send = send
        self.request_keyframe = request_keyframe
        self.negotiated = False  # the subscriber's answer for this m-line has been applied
        self.active = False  # negotiated and the subscriber transport is connected
        # A video decoder that starts mid-GOP shows garbage or freezes: begin on a keyframe.
        self.waiting_keyframe = publication.is_video
        self._started = False
        self.seq_offset = 0
        self.ts_offset = 0
        self.last_ts = secrets.randbits(32)
        self.last_seq = secrets.randbits(16)
        self.last_ts_at = 0.0
        self.cache = PacketCache()
        self.packets_sent = 0
        self.octets_sent = 0
        self.retransmits = 0
        self.nacks_received = 0
        self.nack_misses = 0
        self.keyframe_requests = 0
        self.last_sr_middle = 0
        self.fraction_lost = 0.0
        self.packets_lost = 0
        self.jitter = 0
        self.rtt: float | None = None

    def activate(self) -> None:
        if self.active:
            return
        self.active = True
        if self.publication.is_video:
            self.waiting_keyframe = True
            self.request_keyframe()

    def deactivate(self) -> None:
        self.active = False

    # --- the hot path ------------------------------------------------------------------------

    def forward(self, data: bytes, hdr: RtpHeader, payload: bytes, now: float) -> None:
        if not self.active:
            return
        if self.waiting_keyframe:
            try:
                keyframe = parse_vp8(data, hdr.payload_start).keyframe
            except ParseError:
                keyframe = False
            if not keyframe:
                return
            self.waiting_keyframe = False
            self._rebase(hdr, now)
        elif not self._started:
            self._rebase(hdr, now)
        seq = (hdr.sequence + self.seq_offset) & 0xFFFF
        ts = (hdr.timestamp + self.ts_offset) & 0xFFFFFFFF
        out = (
            _pack_header(0x80 | (data[0] & 0x20), (data[1] & 0x80) | self.payload_type, seq, ts, self.ssrc)
            + payload
        )
        self.cache.put(seq, out)
        self.packets_sent += 1
        self.octets_sent += len(payload)
        self.last_seq = seq
        self.last_ts = ts
        self.last_ts_at = now
        self.send(out)

    def _rebase(self, hdr: RtpHeader, now: float) -> None:
        """Map the source's numbering into ours so our stream stays contiguous and monotonic."""
        next_seq = (self.last_seq + 1) & 0xFFFF
        self.seq_offset = (next_seq - hdr.sequence) & 0xFFFF
        # Advance our timestamp by the wall time since the last packet (at least one 90 kHz frame step).
        if self._started:
            elapsed = int((now - self.last_ts_at) * self.publication.clock_rate)
            target = (self.last_ts + max(elapsed, 1)) & 0xFFFFFFFF
        else:
            target = self.last_ts
        self.ts_offset = (target - hdr.timestamp) & 0xFFFFFFFF
        self._started = True

    # --- feedback from the subscriber ----------------------------------------------------------

    def retransmit(self, lost: list[int]) -> None:
        self.nacks_received += 1
        for seq in lost:
            packet = self.cache.get(seq)
            if packet is None:
                self.nack_misses += 1
            else:
                self.retransmits += 1
                self.send(packet)

    def on_report_block(self, block: ReportBlock, now_ntp: int) -> None:
        self.fraction_lost = block.fraction_lost / 256.0
        self.packets_lost = block.packets_lost
        self.jitter = block.jitter
        rtt = rtt_seconds(block.lsr, block.dlsr, now_ntp)
        if rtt is not None:
            self.rtt = rtt

    def sender_report(self, now_ntp: int, now: float) -> SenderReport | None:
        if not self._started:
            return None
        elapsed = max(now - self.last_ts_at, 0.0)
        rtp_ts = (self.last_ts + int(elapsed * self.publication.clock_rate)) & 0xFFFFFFFF
        self.last_sr_middle = ntp_middle32(now_ntp)
        return SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=now_ntp,
            rtp_timestamp=rtp_ts,
            packet_count=self.packets_sent & 0xFFFFFFFF,
            octet_count=self.octets_sent & 0xFFFFFFFF,
            reports=[],
        )

    def stats(self) -> dict[str, object]:
        return {
            "publication": self.publication.id,
            "kind": self.kind,
            "mid": self.mid,
            "ssrc": self.ssrc,
            "active": self.active,
            "packets_sent": self.packets_sent,
            "octets_sent": self.octets_sent,
            "retransmits": self.retransmits,
            "nack_misses": self.nack_misses,
            "fraction_lost": self.fraction_lost,
            "packets_lost": self.packets_lost,
            "jitter": self.jitter,
            "rtt_ms": None if self.rtt is None else round(self.rtt * 1000, 1),
        }

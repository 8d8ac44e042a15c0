"""Subscription: one publication forwarded to one subscriber, in its own SSRC, sequence and timestamp space.

This module holds what every subscription shares (numbering, reports, statistics) and the audio one, which
forwards every packet of its single stream (mediasoup's SimpleConsumer); video_subscription.py holds the
simulcast one. A subscription (re)starts its numbering where it left off, so the subscriber sees one
continuous stream across restarts and layer switches.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable

from mediaserver.rtp.header import RtpHeader
from mediaserver.rtp.ntp import ntp_middle32, rtt_seconds
from mediaserver.rtp.rtcp import ReportBlock, SenderReport

from .codec import FrameDescriptor
from .publication import Publication
from .retransmit_budget import MAX_LOST_PER_NACK, RetransmitBudget

pack_header = struct.Struct("!BBHII").pack
NO_LAYER = -1
# A re-base moves our timestamps forward by at least one frame at 30 fps, so they stay strictly monotonic.
MIN_FRAME_STEP_S = 1 / 30
# Packets arriving up to this far behind the newest are still forwarded; later ones are useless anyway.
REORDER_WINDOW = 0x1000
BASE_TRAIL = 2 * REORDER_WINDOW


class Subscription:
    """The shared part: identity, the outgoing numbering and its re-basing, RTCP both ways, statistics."""

    __slots__ = (
        "_base_seq",
        "_started",
        "active",
        "current_layer",
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
        "nacked_packets",
        "nacks_received",
        "negotiated",
        "octets_sent",
        "packets_lost",
        "packets_sent",
        "paused",
        "payload_type",
        "publication",
        "resend_budget",
        "retransmits",
        "rtt",
        "send",
        "seq_offset",
        "ssrc",
        "subscriber_id",
        "target_layer",
        "ts_offset",
        "wanted_layer",
    )

    def __init__(self, publication: Publication, mid: str, payload_type: int, send: Callable[[bytes], None],
                 subscriber_id: str = "") -> None:
        self.publication = publication
        self.subscriber_id = subscriber_id
        self.kind = publication.kind
        self.mid = mid
        self.ssrc = secrets.randbits(32) or 1
        self.payload_type = payload_type
        self.send = send
        self.negotiated = False  # the subscriber's answer for this m-line has been applied
        self.active = False  # negotiated and the subscriber transport is connected
        self.paused = False  # the subscriber's tile is hidden: no video at all
        self.current_layer = NO_LAYER
        self.target_layer = 0
        # The layer this subscriber would take if the publisher sent them all (tile and downlink, before the
        # clamp to live layers): dynacast keeps it running, or a paused layer could never be asked back.
        self.wanted_layer = 0
        self._started = False
        self._base_seq = 0
        self.seq_offset = 0
        self.ts_offset = 0
        self.last_seq = secrets.randbits(16)
        self.last_ts = secrets.randbits(32)
        self.last_ts_at = 0.0
        self.packets_sent = 0
        self.octets_sent = 0
        self.retransmits = 0
        self.resend_budget = RetransmitBudget()
        self.nacks_received = 0
        self.nacked_packets = 0
        self.nack_misses = 0
        self.keyframe_requests = 0
        self.last_sr_middle = 0
        self.fraction_lost = 0.0
        self.packets_lost = 0
        self.jitter = 0
        self.rtt: float | None = None

    # --- control ---------------------------------------------------------------------------

    def activate(self) -> None:
        if self.active:
            return
        self.active = True
        self.publication.attach(self, self.target_layer)
        self.current_layer = NO_LAYER

    def deactivate(self) -> None:
        self.active = False
        self.publication.detach(self)

    def restart(self) -> None:
        """Start over on the next packet we can begin with, keeping our numbering continuous."""
        if not self.active:
            return
        self.publication.detach(self)
        self.current_layer = NO_LAYER
        self.publication.attach(self, self.target_layer)

    def select(self, layer: int, max_tid: int) -> None:
        """Aim at a layer: only video has more than one."""

    # --- numbering ---------------------------------------------------------------------------

    def _rebase(self, hdr: RtpHeader, now: float) -> None:
        """Continue our numbering from this packet of a (new) source: contiguous, strictly later timestamps."""
        self.seq_offset = (self.last_seq + 1 - hdr.sequence) & 0xFFFF
        self._base_seq = hdr.sequence
        if self._started:
            step = max(now - self.last_ts_at, MIN_FRAME_STEP_S)
            target_ts = self.last_ts + int(step * self.publication.clock_rate)
        else:
            target_ts = self.last_ts
        self.ts_offset = (target_ts - hdr.timestamp) & 0xFFFFFFFF

    def _too_old(self, sequence: int) -> bool:
        """Older than our re-base point: its outgoing number is already taken by what came before."""
        behind = (sequence - self._base_seq) & 0xFFFF
        if behind >= 0x8000:
            return True
        if behind > BASE_TRAIL:
            # Keep the reference close behind the stream: compared with a fixed switch point, every packet
            # would look "older" once 32768 had passed, and the stream would stop.
            self._base_seq = (sequence - REORDER_WINDOW) & 0xFFFF
        return False

    # --- the hot path ------------------------------------------------------------------------

    def forward(self, data: bytes, hdr: RtpHeader, payload: bytes, desc: FrameDescriptor | None,
                layer: int, now: float) -> None:
        raise NotImplementedError

    def skip(self, hdr: RtpHeader, layer: int) -> None:
        """A packet of our stream that is not forwarded: later numbers move down to close the gap."""
        if layer == self.current_layer and not self._too_old(hdr.sequence):
            self.seq_offset = (self.seq_offset - 1) & 0xFFFF

    # --- feedback from the subscriber ----------------------------------------------------------

    def retransmit(self, lost: list[int], now: float) -> None:
        self.nacks_received += 1
        self.nacked_packets += len(lost)
        self.resend_budget.refused += max(len(lost) - MAX_LOST_PER_NACK, 0)
        budget = self.resend_budget
        if len(lost) > MAX_LOST_PER_NACK:
            # The newest first: they can still arrive in time to be played, and the history still holds them.
            last = self.last_seq
            lost = sorted(lost, key=lambda seq: (last - seq) & 0xFFFF)[:MAX_LOST_PER_NACK]
        for seq in lost:
            packet = self._resent(seq)
            if packet is None:
                self.nack_misses += 1
            elif budget.allows(seq, len(packet), self.octets_sent, self.rtt, now):
                self.retransmits += 1
                self.send(packet)

    def _resent(self, seq: int) -> bytes | None:
        return None  # only video keeps what it sent (our offers negotiate NACK on video alone)

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
        return SenderReport(ssrc=self.ssrc, ntp_timestamp=now_ntp, rtp_timestamp=rtp_ts,
                            packet_count=self.packets_sent & 0xFFFFFFFF, octet_count=self.octets_sent & 0xFFFFFFFF,
                            reports=[])

    def stats(self) -> dict[str, object]:
        return {
            "publication": self.publication.id,
            "publisher": self.publication.participant_id,
            "kind": self.kind,
            "codec": self.publication.codec_name,
            "mid": self.mid,
            "ssrc": self.ssrc,
            "active": self.active,
            "paused": self.paused,
            "layer": self.current_layer,
            "target_layer": self.target_layer,
            "wanted_layer": self.wanted_layer,
            "packets_sent": self.packets_sent,
            "octets_sent": self.octets_sent,
            "retransmits": self.retransmits,
            "nacked_packets": self.nacked_packets,
            "nack_misses": self.nack_misses,
            "retransmits_refused": self.resend_budget.refused,
            "retransmitted_octets": self.resend_budget.resent_octets,
            "fraction_lost": self.fraction_lost,
            "packets_lost": self.packets_lost,
            "jitter": self.jitter,
            "rtt_ms": None if self.rtt is None else round(self.rtt * 1000, 1),
        }


class AudioSubscription(Subscription):
    """Every packet of the publication's one stream, re-numbered; no layers, no history, no codec rewriting."""

    __slots__ = ()

    def forward(self, data: bytes, hdr: RtpHeader, payload: bytes, desc: FrameDescriptor | None,
                layer: int, now: float) -> None:
        if layer != self.current_layer:
            self._rebase(hdr, now)  # the first packet, or the first after a restart (an unmute, say)
            self.current_layer = layer
            self._started = True
        else:
            behind = (hdr.sequence - self._base_seq) & 0xFFFF  # _too_old, inlined on the per-copy path
            if behind >= 0x8000:
                return
            if behind > BASE_TRAIL:
                self._base_seq = (hdr.sequence - REORDER_WINDOW) & 0xFFFF
        seq = (hdr.sequence + self.seq_offset) & 0xFFFF
        ts = (hdr.timestamp + self.ts_offset) & 0xFFFFFFFF
        self.packets_sent += 1
        self.octets_sent += len(payload)
        self.last_seq = seq
        self.last_ts = ts
        self.last_ts_at = now
        self.send(pack_header(0x80 | (data[0] & 0x20), (data[1] & 0x80) | self.payload_type, seq, ts, self.ssrc)
                  + payload)

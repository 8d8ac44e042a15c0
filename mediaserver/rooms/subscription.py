"""Subscription: one publication forwarded to one subscriber, in its own SSRC, sequence and timestamp space.

This module holds what every subscription shares (numbering, reports, statistics) and the audio one, which
forwards every packet of its single stream (mediasoup's SimpleConsumer); video_subscription.py holds the
simulcast one. A subscription (re)starts its numbering where it left off, so the subscriber sees one
continuous stream across restarts and layer switches.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable

from mediaserver.rtp.header import RtpHeader
from mediaserver.rtp.ntp import ntp_middle32, rtt_seconds
from mediaserver.rtp.rtcp import ReportBlock, SenderReport

from .codec import FrameDescriptor
from .outbound import plain_header
from .publication import Publication
from .retransmit_budget import MAX_LOST_PER_NACK, RetransmitBudget

PackHeader = Callable[[int, int, int, int, int, int, float], bytes]
NO_LAYER = -1
# A re-base moves our timestamps forward by at least one frame at 30 fps, so they stay strictly monotonic.
MIN_FRAME_STEP_S = 1 / 30
# Packets arriving up to this far behind the newest are still forwarded; later ones are useless anyway.
REORDER_WINDOW = 0x1000
_HALF = 0x8000
# Packets this many in a row far behind the newest are not late: the source jumped (a restart we did not
# see), and the numbering starts over at them.
JUMP_AFTER_STRAYS = 32
# Offset changes remembered for late packets (a dropped temporal frame is one per packet: ~1-2 s of them).
MAX_CHANGES = 256
# An extended sequence number's start after a re-base: any value works, this one keeps them positive.
_EXT_BASE = 1 << 20

# (first extended source number it applies from, sequence offset before it, PictureID offset before it)
OffsetChange = tuple[int, int, int]


class Subscription:
    """The shared part: identity, the outgoing numbering and its re-basing, RTCP both ways, statistics."""

    __slots__ = (
        "_base_ext",
        "_changes",
        "_high",
        "_high_ext",
        "_started",
        "_strays",
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
        "pack",
        "packets_lost",
        "packets_sent",
        "paused",
        "payload_type",
        "pic_offset",
        "publication",
        "resend_budget",
        "retransmits",
        "rtt",
        "rtx_seq",
        "rtx_ssrc",
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
        # Video's RTX stream: offered with it, it carries the downlink probes' padding (retransmissions keep
        # the media SSRC, RFC 4585 style). Audio has none.
        self.rtx_ssrc = 0
        self.rtx_seq = secrets.randbits(16)
        self.payload_type = payload_type
        self.send = send
        # Builds each header (first two bytes, sequence, timestamp, SSRC, payload length, now): the subscriber
        # side's, which numbers every packet for transport-wide feedback once the browser takes it.
        self.pack: PackHeader = plain_header
        self.negotiated = False  # the subscriber's answer for this m-line has been applied
        self.active = False  # negotiated and the subscriber transport is connected
        self.paused = False  # the subscriber's tile is hidden: no video at all
        self.current_layer = NO_LAYER
        self.target_layer = 0
        # The layer this subscriber would take if the publisher sent them all (tile and downlink, before the
        # clamp to live layers): dynacast keeps it running, or a paused layer could never be asked back.
        self.wanted_layer = 0
        self._started = False
        # The newest source number handled (forwarded or skipped) since the last re-base, also extended past
        # wrap-arounds; a packet behind it is late and takes the offsets that were in force at its number.
        self._high = 0
        self._high_ext = _EXT_BASE - 1
        self._base_ext = _EXT_BASE
        self._changes: deque[OffsetChange] = deque(maxlen=MAX_CHANGES)
        self._strays = 0
        self.seq_offset = 0
        self.pic_offset = 0  # moved by VP8 subscriptions only, kept here so late packets find theirs
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
        self._high = (hdr.sequence - 1) & 0xFFFF
        self._high_ext = _EXT_BASE - 1
        self._base_ext = _EXT_BASE
        self._changes.clear()
        self._strays = 0
        if self._started:
            step = max(now - self.last_ts_at, MIN_FRAME_STEP_S)
            target_ts = self.last_ts + int(step * self.publication.clock_rate)
        else:
            target_ts = self.last_ts
        self.ts_offset = (target_ts - hdr.timestamp) & 0xFFFFFFFF

    def _late_offsets(self, sequence: int) -> tuple[int, int] | None:
        """The sequence and PictureID offsets a packet behind the newest takes; None to drop it.

        Offsets only change at packets newer than all before (a skip, a dropped frame, inserted padding), so the
        offsets in force at a late packet's number give it the number it would have had in order: no two
        packets share a number and numbers rise with the source's. Dropped: the newest again (a duplicate),
        packets from before the re-base, and those later than the remembered changes reach.
        """
        behind = (self._high - sequence) & 0xFFFF
        if behind == 0 or behind > REORDER_WINDOW:
            return None
        ext = self._high_ext - behind
        changes = self._changes
        if ext < self._base_ext or (len(changes) == MAX_CHANGES and ext < changes[0][0]):
            return None
        seq_offset, pic_offset = self.seq_offset, self.pic_offset
        for start, seq_before, pic_before in reversed(changes):
            if ext >= start:
                break
            seq_offset, pic_offset = seq_before, pic_before
        return seq_offset, pic_offset

    def _is_newest(self, hdr: RtpHeader, now: float) -> bool:
        """Advance the newest number if this packet is ahead of it (the usual case); a far jump re-bases."""
        ahead = (hdr.sequence - self._high) & 0xFFFF
        if ahead == 0 or ahead >= _HALF:
            if (self._high - hdr.sequence) & 0xFFFF <= REORDER_WINDOW:
                return False  # late
            self._strays += 1
            if self._strays < JUMP_AFTER_STRAYS:
                return False  # far too late to be of use, or the first packets after a jump
            self._rebase(hdr, now)  # the source jumped: our numbers continue from here
            ahead = 1
        self._strays = 0
        self._high = hdr.sequence
        self._high_ext += ahead
        return True

    def _close_gap(self) -> None:
        """The newest packet is not forwarded: later numbers move down by one (after noting the old offsets)."""
        self._changes.append((self._high_ext + 1, self.seq_offset, self.pic_offset))
        self.seq_offset = (self.seq_offset - 1) & 0xFFFF

    # --- the hot path ------------------------------------------------------------------------

    def forward(self, data: bytes, hdr: RtpHeader, payload: bytes, desc: FrameDescriptor | None,
                layer: int, now: float) -> None:
        raise NotImplementedError

    def skip(self, hdr: RtpHeader, layer: int, now: float = 0.0) -> None:
        """A packet of our stream that is not forwarded: later numbers move down to close the gap.

        A late one leaves its gap: the numbers after it are already out.
        """
        if layer == self.current_layer and self._is_newest(hdr, now):
            self._close_gap()

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
            packet = self._resent(seq, now)
            if packet is None:
                self.nack_misses += 1
            elif budget.allows(seq, len(packet), self.octets_sent, self.rtt, now):
                self.retransmits += 1
                self.send(packet)

    def _resent(self, seq: int, now: float) -> bytes | None:
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
        ts = (hdr.timestamp + self.ts_offset) & 0xFFFFFFFF
        ahead = (hdr.sequence - self._high) & 0xFFFF  # _is_newest's usual case, inlined on the per-copy path
        if 0 < ahead < REORDER_WINDOW:
            self._high = hdr.sequence
            self._high_ext += ahead
            seq = (hdr.sequence + self.seq_offset) & 0xFFFF
            self.last_seq = seq
            self.last_ts = ts
            self.last_ts_at = now
        elif self._is_newest(hdr, now):
            seq = (hdr.sequence + self.seq_offset) & 0xFFFF
            ts = (hdr.timestamp + self.ts_offset) & 0xFFFFFFFF
            self.last_seq, self.last_ts, self.last_ts_at = seq, ts, now
        elif (offsets := self._late_offsets(hdr.sequence)) is not None:
            seq = (hdr.sequence + offsets[0]) & 0xFFFF
        else:
            return
        self.packets_sent += 1
        self.octets_sent += len(payload)
        self.send(self.pack(0x80 | (data[0] & 0x20), (data[1] & 0x80) | self.payload_type, seq, ts, self.ssrc,
                            len(payload), now) + payload)

"""Subscription: one publication forwarded to one subscriber, with its own SSRC, sequence and timestamp space.

Video subscriptions follow one simulcast layer at a time. A switch happens only on a keyframe of the
target layer; at a switch the outgoing sequence numbers, timestamps, VP8 PictureID and TL0PICIDX are
re-based so the subscriber sees one continuous stream. Temporal layers above `max_tid` are dropped and the
gap is absorbed into the offsets.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import RtpHeader, parse_rtp
from mediaserver.rtp.ntp import ntp_middle32, rtt_seconds
from mediaserver.rtp.rtcp import ReportBlock, SenderReport
from mediaserver.rtp.vp8 import Vp8Descriptor, parse_vp8

from .munging import munge_vp8
from .packet_cache import CACHE_SIZE

if TYPE_CHECKING:
    from .publication import Publication

_pack_header = struct.Struct("!BBHII").pack
NO_LAYER = -1
ALL_TEMPORAL = 2
# A switch moves our timestamps forward by at least one frame at 30 fps, so they stay strictly monotonic.
MIN_FRAME_STEP_S = 1 / 30
# Packets arriving up to this far behind the newest are still forwarded; later ones are useless anyway.
REORDER_WINDOW = 0x1000
BASE_TRAIL = 2 * REORDER_WINDOW
_SENT_MASK = CACHE_SIZE - 1
# Every switch forwards at least one packet, so more epochs than map slots can never alias a live record.
_EPOCHS = 2 * CACHE_SIZE
# A rebuilt packet must be this recent (in its timestamp) or it is some older packet with the same number.
_RESEND_HORIZON_S = 10


class Subscription:
    """Forwards packets of the chosen layer, rewritten into this subscriber's stream."""

    __slots__ = (
        "_base_seq",
        "_epoch",
        "_last_dropped_pic",
        "_pending_tid",
        "_sent",
        "_started",
        "_switch_log",
        "active",
        "current_layer",
        "fraction_lost",
        "frames_dropped_temporal",
        "jitter",
        "keyframe_requests",
        "kind",
        "last_pic",
        "last_seq",
        "last_sr_middle",
        "last_tl0",
        "last_ts",
        "last_ts_at",
        "layer_switches",
        "max_tid",
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
        "pic_offset",
        "publication",
        "retransmits",
        "rtt",
        "send",
        "seq_offset",
        "ssrc",
        "subscriber_id",
        "target_layer",
        "tl0_offset",
        "ts_offset",
        "wanted_layer",
    )

    def __init__(
        self,
        publication: Publication,
        mid: str,
        payload_type: int,
        send: Callable[[bytes], None],
        subscriber_id: str = "",
    ) -> None:
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
        self.max_tid = ALL_TEMPORAL
        self._pending_tid = ALL_TEMPORAL
        self._started = False
        self._base_seq = 0
        self.seq_offset = 0
        self.ts_offset = 0
        self.pic_offset = 0
        self.tl0_offset = 0
        self._last_dropped_pic = -1
        self.last_seq = secrets.randbits(16)
        self.last_ts = secrets.randbits(32)
        self.last_ts_at = 0.0
        self.last_pic = -1
        self.last_tl0 = -1
        # NACK answers (video only: our offers, like Chrome's, negotiate nack on VP8 alone). The packets stay
        # in the publication layer's history, shared by every subscriber, as LiveKit's sequencer does; per
        # outgoing sequence number (mod 512) we keep one int: that number, the source's, the PictureID offset
        # then, and the switch epoch whose layer, timestamp and TL0PICIDX offsets `_switch_log` holds.
        # A copy of every packet per subscription had cost 113 MB of RSS at 20 participants (RESULTS.md).
        self._sent: list[int] | None = [-1] * CACHE_SIZE if publication.is_video else None
        self._epoch = 0
        self._switch_log: list[tuple[int, int, int] | None] | None = [None] * _EPOCHS if self._sent else None
        self.packets_sent = 0
        self.octets_sent = 0
        self.retransmits = 0
        self.nacks_received = 0
        self.nacked_packets = 0
        self.nack_misses = 0
        self.keyframe_requests = 0
        self.layer_switches = 0
        self.frames_dropped_temporal = 0
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
        if self.publication.is_video:
            # A decoder that starts mid-GOP shows garbage or freezes: begin on a fresh keyframe.
            self.current_layer = NO_LAYER
            self.publication.request_keyframe(self.target_layer)

    def deactivate(self) -> None:
        self.active = False
        self.publication.detach(self)

    def restart(self) -> None:
        """Start over on the next keyframe (or next audio packet), keeping our numbering continuous."""
        if not self.active:
            return
        self.publication.detach(self)
        self.current_layer = NO_LAYER
        self.publication.attach(self, self.target_layer)
        self.publication.request_keyframe(self.target_layer)

    def select(self, layer: int, max_tid: int) -> None:
        """Aim at `layer` (switched on its next keyframe) with temporal layers up to `max_tid`."""
        self._pending_tid = max_tid
        if layer == self.target_layer:
            return
        old_target = self.target_layer
        self.target_layer = layer
        if not self.active:
            return
        if old_target != self.current_layer:
            self.publication.detach_layer(self, old_target)
        if layer != self.current_layer:
            self.publication.attach_layer(self, layer)
            self.publication.request_keyframe(layer)

    # --- the hot path ------------------------------------------------------------------------

    def forward(self, data: bytes, hdr: RtpHeader, payload: bytes, desc: Vp8Descriptor | None,
                layer: int, now: float) -> None:
        if layer != self.current_layer:
            if desc is not None and not (layer == self.target_layer and desc.keyframe):
                return  # still on another layer, or waiting for the target's keyframe
            self._switch(layer, hdr, desc, now)
        else:
            behind = (hdr.sequence - self._base_seq) & 0xFFFF
            if behind >= 0x8000:
                return  # older than our switch point: its number is already taken by the previous layer
            if behind > BASE_TRAIL:
                # Keep the reference close behind the stream: compared with a fixed switch point, every packet
                # would look "older" once 32768 had passed, and the stream would stop.
                self._base_seq = (hdr.sequence - REORDER_WINDOW) & 0xFFFF
        if desc is not None:
            if self._pending_tid != self.max_tid and desc.start_of_partition and desc.partition_id == 0:
                self._apply_pending_tid(desc)
            tid = desc.tid
            if tid is not None and tid > self.max_tid:
                self._drop_temporal(desc)
                return
        seq = (hdr.sequence + self.seq_offset) & 0xFFFF
        ts = (hdr.timestamp + self.ts_offset) & 0xFFFFFFFF
        out = _pack_header(0x80 | (data[0] & 0x20), (data[1] & 0x80) | self.payload_type, seq, ts, self.ssrc)
        if desc is None or desc.picture_id is None:
            out += payload
        elif self.pic_offset or self.tl0_offset:
            out, self.last_pic, tl0 = munge_vp8(out, payload, hdr.payload_start, desc, self.pic_offset,
                                                self.tl0_offset)
            if tl0 >= 0:
                self.last_tl0 = tl0
        else:
            # No offsets yet (no switch since the start): the descriptor goes out as it came in.
            self.last_pic = desc.picture_id
            if desc.tl0picidx is not None:
                self.last_tl0 = desc.tl0picidx
            out += payload
        sent = self._sent
        if sent is not None:
            sent[seq & _SENT_MASK] = ((seq << 42) | (hdr.sequence << 26) | ((self.pic_offset & 0x7FFF) << 10)
                                      | self._epoch)
        self.packets_sent += 1
        self.octets_sent += len(payload)
        self.last_seq = seq
        self.last_ts = ts
        self.last_ts_at = now
        self.send(out)

    def skip(self, hdr: RtpHeader, layer: int) -> None:
        """A packet of our layer that is not forwarded: later numbers move down to close the gap."""
        if layer == self.current_layer and (hdr.sequence - self._base_seq) & 0xFFFF < 0x8000:
            if (hdr.sequence - self._base_seq) & 0xFFFF > BASE_TRAIL:
                self._base_seq = (hdr.sequence - REORDER_WINDOW) & 0xFFFF
            self.seq_offset = (self.seq_offset - 1) & 0xFFFF

    def _apply_pending_tid(self, desc: Vp8Descriptor) -> None:
        pending = self._pending_tid
        if pending == self.max_tid:
            return
        # Down: at any frame start. Up: only at a base-layer frame, whose references we have forwarded.
        if pending < self.max_tid or desc.tid in (None, 0):
            self.max_tid = pending

    def _drop_temporal(self, desc: Vp8Descriptor) -> None:
        # Close the gaps the dropped frame leaves, so the subscriber sees neither loss nor a missing picture.
        self.seq_offset = (self.seq_offset - 1) & 0xFFFF
        if desc.picture_id is not None and desc.picture_id != self._last_dropped_pic:
            self._last_dropped_pic = desc.picture_id
            self.pic_offset -= 1
            self.frames_dropped_temporal += 1

    def _switch(self, layer: int, hdr: RtpHeader, desc: Vp8Descriptor | None, now: float) -> None:
        """Re-base our numbering on the new source so the outgoing stream stays contiguous and monotonic."""
        old = self.current_layer
        self.seq_offset = (self.last_seq + 1 - hdr.sequence) & 0xFFFF
        self._base_seq = hdr.sequence
        if self._started:
            step = max(now - self.last_ts_at, MIN_FRAME_STEP_S)
            target_ts = self.last_ts + int(step * self.publication.clock_rate)
        else:
            target_ts = self.last_ts
        self.ts_offset = (target_ts - hdr.timestamp) & 0xFFFFFFFF
        if desc is not None and desc.picture_id is not None:
            if self.last_pic >= 0:
                self.pic_offset = self.last_pic + 1 - desc.picture_id
            if desc.tl0picidx is not None and self.last_tl0 >= 0:
                self.tl0_offset = (self.last_tl0 + 1 - desc.tl0picidx) & 0xFF
        self._last_dropped_pic = -1
        self.max_tid = self._pending_tid
        self.current_layer = layer
        if self._started and old != layer:
            self.layer_switches += 1
        self._started = True
        if self._switch_log is not None:
            self._epoch = (self._epoch + 1) % _EPOCHS
            self._switch_log[self._epoch] = (layer, self.ts_offset, self.tl0_offset)
        if old != NO_LAYER and old != layer:
            self.publication.detach_layer(self, old)

    # --- feedback from the subscriber ----------------------------------------------------------

    def retransmit(self, lost: list[int]) -> None:
        self.nacks_received += 1
        self.nacked_packets += len(lost)
        for seq in lost:
            packet = self._resent(seq)
            if packet is None:
                self.nack_misses += 1
            else:
                self.retransmits += 1
                self.send(packet)

    def _resent(self, seq: int) -> bytes | None:
        """The packet once sent as `seq`, rebuilt from the layer's history with the offsets of that time."""
        if self._sent is None or self._switch_log is None:
            return None
        record = self._sent[seq & _SENT_MASK]
        if record < 0 or record >> 42 != seq:
            return None  # never sent, or its slot was reused 512 packets later
        switch = self._switch_log[record & (_EPOCHS - 1)]
        if switch is None:
            return None
        layer, ts_offset, tl0_offset = switch
        source = self.publication.layers[layer].history.get((record >> 26) & 0xFFFF)
        if source is None:
            return None  # the publisher's layer has moved on more than 512 packets
        try:
            hdr = parse_rtp(source)
            desc = parse_vp8(source, hdr.payload_start)
        except ParseError:
            return None
        ts = (hdr.timestamp + ts_offset) & 0xFFFFFFFF
        if (self.last_ts - ts) & 0xFFFFFFFF > _RESEND_HORIZON_S * self.publication.clock_rate:
            return None  # the layer's numbers wrapped while we were paused: this is not the packet we sent
        header = _pack_header(0x80 | (source[0] & 0x20), (source[1] & 0x80) | self.payload_type, seq, ts,
                              self.ssrc)
        payload = source[hdr.payload_start :]
        pic_offset = (record >> 10) & 0x7FFF
        if desc.picture_id is None or not (pic_offset or tl0_offset):
            return header + payload
        return munge_vp8(header, payload, hdr.payload_start, desc, pic_offset, tl0_offset)[0]

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
            "publisher": self.publication.participant_id,
            "kind": self.kind,
            "mid": self.mid,
            "ssrc": self.ssrc,
            "active": self.active,
            "paused": self.paused,
            "layer": self.current_layer,
            "target_layer": self.target_layer,
            "wanted_layer": self.wanted_layer,
            "max_tid": self.max_tid,
            "layer_switches": self.layer_switches,
            "packets_sent": self.packets_sent,
            "octets_sent": self.octets_sent,
            "retransmits": self.retransmits,
            "nacked_packets": self.nacked_packets,
            "nack_misses": self.nack_misses,
            "fraction_lost": self.fraction_lost,
            "packets_lost": self.packets_lost,
            "jitter": self.jitter,
            "rtt_ms": None if self.rtt is None else round(self.rtt * 1000, 1),
        }

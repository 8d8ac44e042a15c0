"""Video subscription: one simulcast layer at a time, switched on keyframes, with its own NACK answers.

A switch happens only on a keyframe of the target layer; at a switch the outgoing sequence numbers,
timestamps and (for codecs that carry them, VP8) PictureID and TL0PICIDX are re-based so the subscriber sees
one continuous stream. Temporal layers above `max_tid` are dropped and the gap is absorbed into the offsets.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import RtpHeader, parse_rtp

from .codec import FrameDescriptor, VideoCodec
from .packet_cache import CACHE_SIZE
from .publication import Publication
from .subscription import NO_LAYER, REORDER_WINDOW, Subscription

ALL_TEMPORAL = 2
_SENT_MASK = CACHE_SIZE - 1
# Every switch forwards at least one packet, so more epochs than map slots can never alias a live record.
_EPOCHS = 2 * CACHE_SIZE
# A rebuilt packet must be this recent (in its timestamp) or it is some older packet with the same number.
_RESEND_HORIZON_S = 10


class VideoSubscription(Subscription):
    """Forwards packets of the chosen layer, rewritten into this subscriber's stream."""

    __slots__ = (
        "_codec",
        "_epoch",
        "_last_dropped_pic",
        "_pending_tid",
        "_sent",
        "_switch_log",
        "_target_tid",
        "frames_dropped_temporal",
        "last_pic",
        "last_tl0",
        "layer_switches",
        "max_tid",
        "tl0_offset",
    )

    def __init__(self, publication: Publication, mid: str, payload_type: int, send: Callable[[bytes], None],
                 subscriber_id: str = "") -> None:
        super().__init__(publication, mid, payload_type, send, subscriber_id)
        self.rtx_ssrc = secrets.randbits(32) or 1
        assert publication.codec is not None, "a video publication has a codec"
        self._codec: VideoCodec = publication.codec
        self.max_tid = ALL_TEMPORAL
        self._pending_tid = ALL_TEMPORAL
        self._target_tid = ALL_TEMPORAL  # the temporal depth of the target layer, applied at the switch
        self.tl0_offset = 0
        self._last_dropped_pic = -1
        self.last_pic = -1
        self.last_tl0 = -1
        # NACK answers: the packets stay in the publication layer's history, shared by every subscriber, as
        # LiveKit's sequencer does; per outgoing sequence number (mod 512) we keep one int: that number, the
        # source's, the PictureID offset then, and the switch epoch whose layer, timestamp and TL0PICIDX offsets
        # `_switch_log` holds. A copy of every packet per subscription had cost 113 MB of RSS at 20 participants.
        self._sent: list[int] = [-1] * CACHE_SIZE
        self._epoch = 0
        self._switch_log: list[tuple[int, int, int] | None] = [None] * _EPOCHS
        self.layer_switches = 0
        self.frames_dropped_temporal = 0

    # --- control ---------------------------------------------------------------------------

    def activate(self) -> None:
        if self.active:
            return
        super().activate()
        # A decoder that starts mid-GOP shows garbage or freezes: begin on a fresh keyframe.
        self.publication.request_keyframe(self.target_layer)

    def restart(self) -> None:
        if self.active:
            super().restart()
            self.publication.request_keyframe(self.target_layer)

    def select(self, layer: int, max_tid: int) -> None:
        """Aim at `layer` (switched on its next keyframe) with temporal layers up to `max_tid`.

        While a spatial switch waits for its keyframe, the layer still flowing never gets more temporal layers:
        a step from 1280 at half the frames to 640 at all of them would otherwise send 1280 at all of them, on a
        link that was just found too thin, until the keyframe came.
        """
        self._target_tid = max_tid
        self._pending_tid = max_tid if layer == self.current_layer else min(max_tid, self.max_tid)
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

    def forward(self, data: bytes, hdr: RtpHeader, payload: bytes, desc: FrameDescriptor | None,
                layer: int, now: float) -> None:
        if desc is None:
            return  # video always comes with its descriptor
        if layer != self.current_layer:
            if not (layer == self.target_layer and desc.keyframe):
                return  # still on another layer, or waiting for the target's keyframe
            self._switch(layer, hdr, desc, now)
        ahead = (hdr.sequence - self._high) & 0xFFFF  # Subscription._is_newest's usual case, inlined: every copy
        if 0 < ahead < REORDER_WINDOW:
            self._high = hdr.sequence
            self._high_ext += ahead
            newest = True
        else:
            newest = self._is_newest(hdr, now)
        if newest:
            seq_offset, pic_offset = self.seq_offset, self.pic_offset
            if self._pending_tid != self.max_tid and desc.frame_start:
                self._apply_pending_tid(desc)
            tid = desc.tid
            if tid is not None and tid > self.max_tid:
                self._drop_temporal(desc)
                return
        else:
            tid = desc.tid
            if tid is not None and tid > self.max_tid:
                return  # a late packet of a layer we drop: its gap stays (the numbers after it are out)
            offsets = self._late_offsets(hdr.sequence)
            if offsets is None:
                return
            seq_offset, pic_offset = offsets
        seq = (hdr.sequence + seq_offset) & 0xFFFF
        ts = (hdr.timestamp + self.ts_offset) & 0xFFFFFFFF
        out = self.pack(0x80 | (data[0] & 0x20), (data[1] & 0x80) | self.payload_type, seq, ts, self.ssrc,
                        len(payload), now)
        if desc.picture_id is None:
            out += payload  # H.264: nothing in the payload to keep continuous
        elif pic_offset or self.tl0_offset:
            out, pic, tl0 = self._codec.munge(out, payload, hdr.payload_start, desc, pic_offset, self.tl0_offset)
            if newest:
                self.last_pic = pic
                if tl0 >= 0:
                    self.last_tl0 = tl0
        else:
            # No offsets yet (no switch since the start): the descriptor goes out as it came in.
            if newest:
                self.last_pic = desc.picture_id
                if desc.tl0picidx is not None:
                    self.last_tl0 = desc.tl0picidx
            out += payload
        self._sent[seq & _SENT_MASK] = ((seq << 42) | (hdr.sequence << 26) | ((pic_offset & 0x7FFF) << 10)
                                        | self._epoch)
        self.packets_sent += 1
        self.octets_sent += len(payload)
        if newest:
            self.last_seq = seq
            self.last_ts = ts
            self.last_ts_at = now
        self.send(out)

    def _apply_pending_tid(self, desc: FrameDescriptor) -> None:
        # Down: at any frame start. Up: only at a base-layer frame, whose references we have forwarded.
        if self._pending_tid < self.max_tid or desc.tid in (None, 0):
            self.max_tid = self._pending_tid

    def _drop_temporal(self, desc: FrameDescriptor) -> None:
        # Close the gaps the dropped frame leaves, so the subscriber sees neither loss nor a missing picture.
        self._close_gap()
        if desc.picture_id is not None and desc.picture_id != self._last_dropped_pic:
            self._last_dropped_pic = desc.picture_id
            self.pic_offset -= 1
            self.frames_dropped_temporal += 1

    def _switch(self, layer: int, hdr: RtpHeader, desc: FrameDescriptor, now: float) -> None:
        old = self.current_layer
        self._rebase(hdr, now)
        if desc.picture_id is not None:
            if self.last_pic >= 0:
                self.pic_offset = self.last_pic + 1 - desc.picture_id
            if desc.tl0picidx is not None and self.last_tl0 >= 0:
                self.tl0_offset = (self.last_tl0 + 1 - desc.tl0picidx) & 0xFF
        self._last_dropped_pic = -1
        self.max_tid = self._pending_tid = self._target_tid
        self.current_layer = layer
        if self._started and old != layer:
            self.layer_switches += 1
        self._started = True
        self._epoch = (self._epoch + 1) % _EPOCHS
        self._switch_log[self._epoch] = (layer, self.ts_offset, self.tl0_offset)
        if old != NO_LAYER and old != layer:
            self.publication.detach_layer(self, old)

    # --- feedback from the subscriber ----------------------------------------------------------

    def _resent(self, seq: int, now: float) -> bytes | None:
        """The packet once sent as `seq`, rebuilt from the layer's history with the offsets of that time."""
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
            desc = self._codec.describe(source, hdr.payload_start, hdr.payload_end)
        except ParseError:
            return None
        ts = (hdr.timestamp + ts_offset) & 0xFFFFFFFF
        if (self.last_ts - ts) & 0xFFFFFFFF > _RESEND_HORIZON_S * self.publication.clock_rate:
            return None  # the layer's numbers wrapped while we were paused: this is not the packet we sent
        payload = source[hdr.payload_start :]
        header = self.pack(0x80 | (source[0] & 0x20), (source[1] & 0x80) | self.payload_type, seq, ts, self.ssrc,
                           len(payload), now)
        pic_offset = (record >> 10) & 0x7FFF
        if desc.picture_id is None or not (pic_offset or tl0_offset):
            return header + payload
        return self._codec.munge(header, payload, hdr.payload_start, desc, pic_offset, tl0_offset)[0]

    def stats(self) -> dict[str, object]:
        return {**super().stats(), "max_tid": self.max_tid, "layer_switches": self.layer_switches}

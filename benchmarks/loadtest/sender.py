"""A bot's outbound streams: pre-encoded frames looped in real time, packetized and tagged as they are sent."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from functools import lru_cache

from mediaserver.rtp.ntp import ntp_now
from mediaserver.rtp.rtcp import SenderReport

from .media import AUDIO_CLOCK, AUDIO_PTIME_S, FPS, MAX_PAYLOAD, VIDEO_CLOCK, EncodedLayer, split_frame
from .packets import (
    AUDIO_STREAM,
    RTP_HEADER,
    TAG,
    TAG_SIZE,
    TEMPORAL_PATTERN,
    VP8_DESCRIPTOR_SIZE,
    VP8_KEEP,
    extension_block,
    vp8_descriptor,
)

SendRtp = Callable[[bytes], bool]
# A stream this many intervals behind (the bot process stalled) skips ahead instead of bursting to catch up.
MAX_CATCH_UP = 3
_pack_header = RTP_HEADER.pack
_pack_tag_into = TAG.pack_into
_time_ns = time.time_ns


@lru_cache(maxsize=8)
def packetized(layer: EncodedLayer, limit: int, minimum: int) -> tuple[tuple[bytes, ...], ...]:
    """Each frame of a layer cut into payload chunks, once for all bots."""
    return tuple(split_frame(frame, limit, minimum=minimum) for frame in layer.frames)


class StreamSender:
    """One RTP stream (Opus, or one VP8 simulcast layer) of one bot, driven by its own loop timer."""

    def __init__(self, bot: int, stream: int, kind: str, payload_type: int, ext_block: bytes,
                 frames: tuple[tuple[bytes, ...], ...], send: SendRtp, tagged: bool = True) -> None:
        self.bot = bot
        self.tagged = tagged  # False keeps the media decodable, for peers that decode (the aiortc relay)
        self.stream = stream
        self.kind = kind
        self.video = kind == "video"
        self.payload_type = payload_type
        self.ssrc = secrets.randbits(32) or 1
        self.clock_rate = VIDEO_CLOCK if self.video else AUDIO_CLOCK
        self.interval = 1 / FPS if self.video else AUDIO_PTIME_S
        self.ts_step = VIDEO_CLOCK // FPS if self.video else int(AUDIO_CLOCK * AUDIO_PTIME_S)
        self._prefix_ext = ext_block
        self._frames = frames
        self._send = send
        self._index = 0  # position in the loop of frames; 0 is the keyframe
        self._since_key = 0
        self.seq = secrets.randbits(16)
        self.timestamp = secrets.randbits(32)
        self.picture_id = secrets.randbits(15)
        self.tl0 = secrets.randbits(8)
        self.counter = 0
        self.packets_sent = 0
        self.octets_sent = 0
        self.frames_sent = 0
        self.keyframes_sent = 0
        self.keyframe_requests = 0
        self.late_skips = 0
        self.active = True  # dynacast: the server may ask for this layer to be paused
        self.rid: str | None = None
        self._started_at = 0.0
        self._next_due = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- scheduling ------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop, first_due: float) -> None:
        self._loop = loop
        self._next_due = first_due
        self._started_at = first_due
        self._timer = loop.call_at(first_due, self._fire)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        loop = self._loop
        assert loop is not None
        if self.active:
            self.emit_frame()
        else:
            self.timestamp = (self.timestamp + self.ts_step) & 0xFFFFFFFF  # the capture clock runs on
        due = self._next_due + self.interval
        now = loop.time()
        if due < now - MAX_CATCH_UP * self.interval:
            self.late_skips += 1
            due = now
        self._next_due = due
        self._timer = loop.call_at(due, self._fire)

    def set_active(self, active: bool) -> None:
        """Pause or resume the layer, as a browser does with `active` in setParameters."""
        if active and not self.active:
            self._restart_gop()  # an encoder resuming a layer starts it with a keyframe
        self.active = active

    def request_keyframe(self) -> None:
        """A PLI/FIR from the server: the next frame restarts the loop, whose first frame is a keyframe."""
        self.keyframe_requests += 1
        self._restart_gop()

    def _restart_gop(self) -> None:
        if self.video and self._index != 0:
            self._index = 0
            self._since_key = 0

    # --- packets ---------------------------------------------------------------------------------

    def emit_frame(self) -> None:
        frames = self._frames
        chunks = frames[self._index]
        self._index = (self._index + 1) % len(frames)
        if self.video:
            self._emit_video(chunks)
        else:
            self._emit_audio(chunks[0])
        self.frames_sent += 1
        self.timestamp = (self.timestamp + self.ts_step) & 0xFFFFFFFF

    def _emit_audio(self, payload: bytes) -> None:
        head = _pack_header(0x90, self.payload_type | (0x80 if self.frames_sent == 0 else 0), self.seq,
                            self.timestamp, self.ssrc) + self._prefix_ext
        buf = bytearray(head)
        buf += payload
        self.counter += 1
        if self.tagged:
            if len(payload) < TAG_SIZE:
                buf += bytes(TAG_SIZE - len(payload))
            _pack_tag_into(buf, len(head), _time_ns(), self.bot, AUDIO_STREAM, 0, self.counter & 0xFFFFFFFF)
        if self._send(bytes(buf)):
            self.packets_sent += 1
            self.octets_sent += len(buf) - len(head)
        self.seq = (self.seq + 1) & 0xFFFF

    def _emit_video(self, chunks: tuple[bytes, ...]) -> None:
        keyframe = not chunks[0][0] & 0x01
        if keyframe:
            self._since_key = 0
            self.keyframes_sent += 1
        position = self._since_key % len(TEMPORAL_PATTERN)
        tid = TEMPORAL_PATTERN[position]
        if tid == 0 and self._since_key:
            self.tl0 = (self.tl0 + 1) & 0xFF
        sync = position in (1, 2)  # frames that reference only the base layer
        self._since_key += 1
        self.picture_id = (self.picture_id + 1) & 0x7FFF
        last = len(chunks) - 1
        ext = self._prefix_ext
        send = self._send
        for i, chunk in enumerate(chunks):
            head = _pack_header(0x90, self.payload_type | (0x80 if i == last else 0), self.seq, self.timestamp,
                                self.ssrc) + ext + vp8_descriptor(i == 0, self.picture_id, self.tl0, tid, sync)
            buf = bytearray(head)
            buf += chunk
            self.counter += 1
            if self.tagged:
                _pack_tag_into(buf, len(head) + VP8_KEEP, _time_ns(), self.bot, self.stream, tid,
                               self.counter & 0xFFFFFFFF)
            if send(bytes(buf)):
                self.packets_sent += 1
                self.octets_sent += len(buf) - 12 - len(ext)
            self.seq = (self.seq + 1) & 0xFFFF

    def sender_report(self) -> SenderReport:
        # The RTP time of "now": frames are sent on schedule, so extrapolate from the stream's start.
        loop = self._loop
        elapsed = 0.0 if loop is None else max(loop.time() - self._next_due, -self.interval)
        rtp_ts = (self.timestamp + int(elapsed * self.clock_rate)) & 0xFFFFFFFF
        return SenderReport(ssrc=self.ssrc, ntp_timestamp=ntp_now(), rtp_timestamp=rtp_ts,
                            packet_count=self.packets_sent & 0xFFFFFFFF, octet_count=self.octets_sent & 0xFFFFFFFF)


def audio_sender(bot: int, mid: str, opus: tuple[bytes, ...], payload_type: int, send: SendRtp,
                 tagged: bool = True) -> StreamSender:
    frames = tuple((p,) for p in opus)
    return StreamSender(bot, AUDIO_STREAM, "audio", payload_type, extension_block(mid, None, audio_level=30),
                        frames, send, tagged)


def video_sender(bot: int, mid: str, rid: str | None, index: int, layer: EncodedLayer, payload_type: int,
                 send: SendRtp, tagged: bool = True) -> StreamSender:
    ext = extension_block(mid, rid)
    limit = MAX_PAYLOAD - VP8_DESCRIPTOR_SIZE
    chunks = packetized(layer, limit, VP8_KEEP + TAG_SIZE if tagged else 0)
    sender = StreamSender(bot, 1 + index, "video", payload_type, ext, chunks, send, tagged)
    sender.rid = rid
    return sender

"""Pre-encoded VP8, H.264 and Opus (made once with av) and aiortc tracks that replay them without re-encoding."""

from __future__ import annotations

import asyncio
import fractions
import time
from functools import lru_cache

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

VIDEO_CLOCK = 90000
FPS = 30


@lru_cache(maxsize=4)
def vp8_packets(count: int = 90, width: int = 320, height: int = 240, gop: int = 30) -> tuple[bytes, ...]:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.bit_rate = 400_000
    codec.gop_size = gop
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[bytes] = []
    for i in range(count):
        image = np.zeros((height, width, 3), dtype=np.uint8)
        image[:, :, 0] = (i * 7) % 255  # moving content so every frame carries data
        image[(i * 3) % height :, : (i * 5) % width, 1] = 200
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        out.extend(bytes(p) for p in codec.encode(frame))
    out.extend(bytes(p) for p in codec.encode(None))
    return tuple(out)


@lru_cache(maxsize=2)
def h264_packets(count: int = 90, width: int = 320, height: int = 240, gop: int = 30) -> tuple[bytes, ...]:
    """Annex B access units from libx264 (constrained baseline, as a browser sends), an IDR every `gop`."""
    from tests.rtp.h264_samples import encode_h264

    frames = encode_h264(width, height, count, "baseline", gop)
    return tuple(b"".join(b"\x00\x00\x00\x01" + unit for unit in units) for units in frames)


@lru_cache(maxsize=2)
def opus_packets(count: int = 50) -> tuple[bytes, ...]:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    codec.bit_rate = 32000
    out: list[bytes] = []
    t = np.arange(960 * count) / 48000.0
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    for i in range(count):
        chunk = np.repeat(tone[i * 960 : (i + 1) * 960], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = i * 960
        out.extend(bytes(p) for p in codec.encode(frame))
    return tuple(out)


class ReplayTrack(MediaStreamTrack):
    """Loops pre-encoded packets in real time; aiortc packetizes av.Packet data without encoding it."""

    def __init__(self, kind: str, packets: tuple[bytes, ...], clock: int, step: int, interval: float) -> None:
        super().__init__()
        self.kind = kind
        self._packets = packets
        self._clock = clock
        self._step = step
        self._interval = interval
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> av.Packet:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * self._interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing a real-time source, not waiting for a result
        packet = av.Packet(self._packets[self._index % len(self._packets)])
        packet.pts = self._index * self._step
        packet.time_base = fractions.Fraction(1, self._clock)
        self._index += 1
        return packet


def video_track(codec: str = "VP8") -> ReplayTrack:
    packets = h264_packets() if codec == "H264" else vp8_packets()
    return ReplayTrack("video", packets, VIDEO_CLOCK, VIDEO_CLOCK // FPS, 1 / FPS)


def audio_track() -> ReplayTrack:
    return ReplayTrack("audio", opus_packets(), 48000, 960, 0.02)

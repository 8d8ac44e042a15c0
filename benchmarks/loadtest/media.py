"""Pre-encoded media for the bots: three VP8 simulcast layers and Opus, encoded once with av and looped."""

from __future__ import annotations

import fractions
from dataclasses import dataclass
from functools import lru_cache

import av
import numpy as np

FPS = 30
VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
AUDIO_PTIME_S = 0.02
KEYFRAME_INTERVAL_S = 3.0
# Chrome's packetizer stays well under the path MTU; the SRTP trailer and header extensions follow.
MAX_PAYLOAD = 1100


@dataclass(frozen=True)
class LayerSpec:
    rid: str
    width: int
    height: int
    bitrate: int


# What Chrome sends for a 720p camera with three simulcast encodings.
LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec("q", 320, 180, 150_000),
    LayerSpec("h", 640, 360, 500_000),
    LayerSpec("f", 1280, 720, 1_700_000),
)


@dataclass(frozen=True)
class EncodedLayer:
    """One loop of encoded frames; frame 0 is the only keyframe, so restarting the loop gives a keyframe."""

    spec: LayerSpec
    frames: tuple[bytes, ...]

    @property
    def bitrate(self) -> float:
        return sum(len(f) for f in self.frames) * 8 * FPS / len(self.frames)


def _picture(index: int, width: int, height: int, noise: np.ndarray) -> av.VideoFrame:
    """Smooth moving waves with a noisy centre: enough detail for the encoder to reach its target rate."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    waves = (np.sin(xx / width * 6 + index * 0.15) + np.cos(yy / height * 5 - index * 0.1)) * 60 + 128
    luma = waves.astype(np.uint8)
    h3, w3 = height // 3, width // 3
    luma[h3 : 2 * h3, w3 : 2 * w3] += np.roll(noise, index * 3, 1)[h3 : 2 * h3, w3 : 2 * w3] // 2
    rgb = np.stack([luma, np.roll(luma, index, 1), luma[::-1]], -1)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


@lru_cache(maxsize=8)
def encode_layer(spec: LayerSpec, seconds: float = KEYFRAME_INTERVAL_S) -> EncodedLayer:
    """Encode one GOP of `seconds` with libvpx in real-time CBR mode, as a browser's encoder runs."""
    count = round(seconds * FPS)
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = spec.width, spec.height, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.bit_rate = spec.bitrate
    codec.gop_size = count
    rate = str(spec.bitrate)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "keyint_min": str(count),
                     "minrate": rate, "maxrate": rate, "bufsize": rate}
    noise = np.random.default_rng(7).integers(0, 60, (spec.height, spec.width), dtype=np.uint8)
    frames: list[bytes] = []
    for index in range(count):
        picture = _picture(index, spec.width, spec.height, noise)
        picture.pts = index
        frames.extend(bytes(p) for p in codec.encode(picture))
    frames.extend(bytes(p) for p in codec.encode(None))
    if not frames or frames[0][0] & 0x01:
        raise RuntimeError(f"libvpx did not start layer {spec.rid} with a keyframe")
    return EncodedLayer(spec, tuple(frames[:count]))


@lru_cache(maxsize=2)
def encode_opus(seconds: float = 1.0) -> tuple[bytes, ...]:
    """20 ms Opus packets of a tone at 32 kbit/s (a talking participant's typical size)."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = AUDIO_CLOCK, "stereo", "s16"
    codec.bit_rate = 32_000
    samples = int(AUDIO_CLOCK * AUDIO_PTIME_S)
    count = round(seconds / AUDIO_PTIME_S)
    t = np.arange(samples * count) / AUDIO_CLOCK
    tone = (np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 0.5 * t) * 8000).astype(np.int16)
    out: list[bytes] = []
    for i in range(count):
        chunk = np.repeat(tone[i * samples : (i + 1) * samples], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate = AUDIO_CLOCK
        frame.pts = i * samples
        out.extend(bytes(p) for p in codec.encode(frame))
    return tuple(out)


def split_frame(frame: bytes, limit: int = MAX_PAYLOAD, minimum: int = 0) -> tuple[bytes, ...]:
    """Cut one encoded frame into near-equal chunks of at most `limit` bytes, each at least `minimum`.

    Equal sizes (as libwebrtc's packetizer makes them) rather than full packets plus a runt. A chunk
    shorter than `minimum` is padded with zeros: the bots never decode, and the tag must fit.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    count = max(1, -(-len(frame) // limit))
    size = -(-len(frame) // count) if frame else 0
    chunks = [frame[i * size : (i + 1) * size] for i in range(count)]
    return tuple(c.ljust(minimum, b"\x00") for c in chunks)


@dataclass(frozen=True)
class MediaSet:
    """Everything a bot sends, shared by all bots (read-only)."""

    layers: tuple[EncodedLayer, ...]
    opus: tuple[bytes, ...]


def load_media(layers: tuple[LayerSpec, ...] = LAYERS) -> MediaSet:
    return MediaSet(tuple(encode_layer(spec) for spec in layers), encode_opus())

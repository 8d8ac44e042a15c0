"""Pre-encoded media for the bots: three VP8 simulcast layers and Opus, encoded once with av and looped."""

from __future__ import annotations

import contextlib
import fractions
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

FPS = 30
VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
AUDIO_PTIME_S = 0.02
KEYFRAME_INTERVAL_S = 3.0
# Chrome's packetizer stays well under the path MTU; the SRTP trailer and header extensions follow.
MAX_PAYLOAD = 1100
CACHE_VERSION = "v1"  # bump when the scene or the encoder settings change
_U32 = struct.Struct("!I")


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


class _Scene:
    """Smooth moving waves with a noisy centre: enough detail for the encoder to reach its target rate.

    Drawn straight into YUV 4:2:0 planes from separable terms, so a 720p frame costs a few milliseconds.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.x = np.arange(width, dtype=np.float32) / width * 6
        self.y = np.arange(height, dtype=np.float32) / height * 5
        self.noise = np.random.default_rng(7).integers(0, 30, (height, width), dtype=np.uint8)
        self.chroma = np.full((height // 2, width), 128, dtype=np.uint8)  # U and V rows, neutral colour

    def frame(self, index: int) -> av.VideoFrame:
        waves = np.sin(self.x + index * 0.15)[None, :] + np.cos(self.y - index * 0.1)[:, None]
        luma = (waves * 60 + 128).astype(np.uint8)
        h3, w3 = self.height // 3, self.width // 3
        luma[h3 : 2 * h3, w3 : 2 * w3] += np.roll(self.noise, index * 3, 1)[h3 : 2 * h3, w3 : 2 * w3]
        return av.VideoFrame.from_ndarray(np.concatenate([luma, self.chroma]), format="yuv420p")


def _cache_path(name: str) -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    versions = "-".join(f"{k}{v[0]}.{v[1]}" for k, v in sorted(av.library_versions.items()) if k == "libavcodec")
    return root / "meeting-sfu-loadtest" / f"{CACHE_VERSION}-{versions}-{name}.frames"


def _load_frames(path: Path) -> tuple[bytes, ...] | None:
    """Frames from the disk cache (a count, then length-prefixed frames), or None if absent or damaged."""
    try:
        data = path.read_bytes()
        (count,) = _U32.unpack_from(data, 0)
        frames, pos = [], 4
        for _ in range(count):
            (size,) = _U32.unpack_from(data, pos)
            frames.append(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
        return tuple(frames) if pos == len(data) else None
    except (OSError, struct.error):
        return None


def _store_frames(path: Path, frames: tuple[bytes, ...]) -> None:
    # Encoding 720p takes seconds (tens on a busy machine); the cache keeps CI runs short. Best effort.
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(_U32.pack(len(frames)) + b"".join(_U32.pack(len(f)) + f for f in frames))
        tmp.replace(path)


@lru_cache(maxsize=8)
def encode_layer(spec: LayerSpec, seconds: float = KEYFRAME_INTERVAL_S) -> EncodedLayer:
    """One GOP of `seconds`, encoded once per machine (then read from the cache) by libvpx in real-time CBR mode."""
    count = round(seconds * FPS)
    path = _cache_path(f"vp8-{spec.rid}-{spec.width}x{spec.height}-{spec.bitrate}-{count}")
    cached = _load_frames(path)
    if cached is not None and len(cached) == count and not cached[0][0] & 0x01:
        return EncodedLayer(spec, cached)
    layer = _encode_layer(spec, count)
    _store_frames(path, layer.frames)
    return layer


def _encode_layer(spec: LayerSpec, count: int) -> EncodedLayer:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = spec.width, spec.height, "yuv420p"
    codec.time_base = fractions.Fraction(1, FPS)
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.bit_rate = spec.bitrate
    codec.gop_size = count
    rate = str(spec.bitrate)
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "keyint_min": str(count),
                     "minrate": rate, "maxrate": rate, "bufsize": rate}
    scene = _Scene(spec.width, spec.height)
    frames: list[bytes] = []
    for index in range(count):
        picture = scene.frame(index)
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

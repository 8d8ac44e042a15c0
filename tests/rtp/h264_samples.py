"""Real H.264 to test with: frames from libx264 (through PyAV), as NAL units without start codes."""

from __future__ import annotations

import fractions

import av
import numpy as np


def encode_h264(width: int, height: int, frames: int = 1, profile: str = "baseline",
                gop: int = 10) -> list[list[bytes]]:
    """`frames` moving pictures, each as its NAL units; an IDR (with SPS and PPS) every `gop` frames.

    Chrome's encoder, like this one, repeats SPS and PPS before every IDR.
    """
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = fractions.Fraction(1, 30)
    # A fixed GOP without scene cuts: the changing picture would make every frame an IDR.
    x264 = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"
    context.options = {"profile": profile, "tune": "zerolatency", "x264-params": x264}
    out = []
    for index in range(frames):
        picture = np.full((height, width, 3), (index * 8) % 256, dtype=np.uint8)
        picture[:, (index * 4) % width] = 255  # something moves: P frames carry data
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        out += [_nal_units(bytes(packet)) for packet in context.encode(frame)]
    out += [_nal_units(bytes(packet)) for packet in context.encode(None)]
    return out


def _nal_units(annex_b: bytes) -> list[bytes]:
    return [unit.lstrip(b"\x00") for unit in annex_b.split(b"\x00\x00\x01") if unit.strip(b"\x00")]

"""Which simulcast layer and temporal depth a subscription should receive: pure functions, tested alone.

Target = min(layer the subscriber's tile needs, what its downlink carries, highest layer the publisher is
actually sending), as LiveKit, mediasoup and Janus decide it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

# A layer is good enough for a tile when it has at least this share of the tile's pixels per side:
# a slightly upscaled video looks fine and costs a fraction of the next layer up.
COVER_RATIO = 0.75
DEFAULT_TOP_WIDTH = 1280
ALL_TEMPORAL = 2


class Quality(NamedTuple):
    layer: int
    max_tid: int


def layer_widths(known: Sequence[int]) -> list[int]:
    """Width of each layer: measured from keyframes where known, else halved from the layer above."""
    count = len(known)
    widths = list(known)
    top = next((w << (count - 1 - i) for i, w in enumerate(known) if w), DEFAULT_TOP_WIDTH)
    for i in range(count):
        if not widths[i]:
            widths[i] = max(top >> (count - 1 - i), 1)
    return widths


def layer_for_tile(widths: Sequence[int], tile_width: int, tile_height: int) -> int:
    """The lowest layer wide enough for the tile (height follows width at a fixed aspect)."""
    if not widths:
        return 0
    need = max(tile_width, tile_height * 16 // 9) * COVER_RATIO
    for index, width in enumerate(widths):
        if width >= need:
            return index
    return len(widths) - 1


def ladder(top_layer: int, temporal: bool) -> list[Quality]:
    """Quality levels from the best allowed down: each step drops a temporal layer first, then a spatial one."""
    levels: list[Quality] = []
    for layer in range(top_layer, -1, -1):
        levels.append(Quality(layer, ALL_TEMPORAL))
        if temporal:
            levels.append(Quality(layer, 1))
    if temporal:
        levels.append(Quality(0, 0))
    return levels


def choose(wanted_layer: int, steps_down: int, temporal: bool, highest_live: int) -> Quality:
    """Apply the downlink's step-down count to the tile's wish, then clamp to what the publisher sends."""
    levels = ladder(max(wanted_layer, 0), temporal)
    quality = levels[min(max(steps_down, 0), len(levels) - 1)]
    if 0 <= highest_live < quality.layer:
        quality = Quality(highest_live, quality.max_tid)
    return quality

"""Downlink allocation: which quality level of each video a subscriber gets within its estimated bandwidth.

Pure functions, tested alone (LiveKit's stream allocator, mediasoup's and JVB's bandwidth allocators decide
the same way): in priority order (a spotlit tile, then the active speaker, then by tile size) each video takes
the best level of its ladder that fits what the budget has left; the lowest level always goes out, so no
tile goes black. The caller applies the result: down at once, up one step per pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .layer_selector import Quality

# libwebrtc's VP8 rate split across three temporal layers: the base carries 40 %, up to TL1 60 %.
TEMPORAL_SHARE = (0.4, 0.6, 1.0)
# Chrome's simulcast rates at 1280x720 for a layer we have not measured yet (paused, or not seen since a
# switch): low, medium, high. A single-layer video is taken as the high one.
DEFAULT_LAYER_BPS = (150_000, 500_000, 1_700_000)
# What the estimate may be used for: the rest absorbs keyframes and the estimate's own error.
BUDGET_SHARE = 0.9
# The level a video is on stays while the budget covers this share of its cost: an estimate that wobbles
# around a level's cost must not switch layers back and forth (mediasoup and ion-sfu keep such a margin).
KEEP_SHARE = 0.85
# A spotlit (pinned) tile is this many times the area of the next largest.
SPOTLIGHT_RATIO = 2


class Demand(NamedTuple):
    """One video subscription as the allocator sees it."""

    key: str
    area: int  # the tile's rendered pixels
    speaker: bool  # the room's active speaker
    levels: Sequence[Quality]  # best first, as layer_selector.ladder gives them
    costs: Sequence[int]  # bit/s of each level


def level_cost(layer_bps: int, max_tid: int) -> int:
    return int(layer_bps * TEMPORAL_SHARE[min(max(max_tid, 0), len(TEMPORAL_SHARE) - 1)])


def layer_bps(measured: int, index: int, count: int) -> int:
    """A layer's rate: as measured on arrival, else Chrome's usual rate for its rank from the top."""
    if measured > 0:
        return measured
    rank = len(DEFAULT_LAYER_BPS) - count + index
    return DEFAULT_LAYER_BPS[min(max(rank, 0), len(DEFAULT_LAYER_BPS) - 1)]


def priority_order(demands: Sequence[Demand]) -> list[Demand]:
    """A spotlit tile first, then the active speaker, then by tile size (largest first)."""
    by_area = sorted(demands, key=lambda d: -d.area)
    spotlit = ""
    if by_area and (len(by_area) == 1 or by_area[0].area >= SPOTLIGHT_RATIO * max(by_area[1].area, 1)):
        spotlit = by_area[0].key
    return sorted(by_area, key=lambda d: (d.key != spotlit, not d.speaker))


def allocate(budget_bps: int, demands: Sequence[Demand], current: dict[str, int] | None = None) -> dict[str, int]:
    """Per demand, the index in its ladder of the best level that fits; the last (lowest) when none does.

    `current`: the index each is on, which keeps it while KEEP_SHARE of its cost fits.
    """
    left = budget_bps
    chosen: dict[str, int] = {}
    on = current or {}
    for demand in priority_order(demands):
        last = len(demand.levels) - 1
        keep = on.get(demand.key, -1)
        index = next((i for i, cost in enumerate(demand.costs)
                      if (cost * KEEP_SHARE if i == keep else cost) <= left), last)
        chosen[demand.key] = index
        left -= demand.costs[index]
    return chosen


def step_towards(current: int, allocated: int) -> int:
    """Down (a higher index) at once: a congested link loses packets every moment it stays over. Up by one
    level per pass: each step's extra rate is seen to pass before the next."""
    if current < 0 or allocated >= current:
        return allocated
    return current - 1


def total_cost(demands: Sequence[Demand], indices: dict[str, int]) -> int:
    return sum(d.costs[indices[d.key]] for d in demands if d.key in indices)

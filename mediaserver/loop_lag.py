"""Event-loop lag: how late a 50 ms timer fires. Every packet waits behind a long callback; this shows how long."""

from __future__ import annotations

import asyncio
import bisect
import time

INTERVAL_S = 0.05
# Upper bounds in ms; the last bucket is everything above. libuv timers have 1 ms resolution.
BUCKETS_MS: tuple[float, ...] = (1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 250, 500, 1000)


class LoopLagMonitor:
    __slots__ = ("_due", "_handle", "counts", "max_ms", "samples", "total_ms")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_MS) + 1)
        self.samples = 0
        self.max_ms = 0.0
        self.total_ms = 0.0
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._schedule(asyncio.get_running_loop())

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._due = time.monotonic() + INTERVAL_S
        self._handle = loop.call_later(INTERVAL_S, self._fire)

    def _fire(self) -> None:
        self.record(max(time.monotonic() - self._due, 0.0) * 1000)
        self._schedule(asyncio.get_running_loop())

    def record(self, lag_ms: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_MS, lag_ms)] += 1
        self.samples += 1
        self.total_ms += lag_ms
        self.max_ms = max(self.max_ms, lag_ms)

    def snapshot(self) -> dict[str, object]:
        """Cumulative since start: subtract two snapshots for a window (see `window_quantile_ms`)."""
        return {"interval_ms": INTERVAL_S * 1000, "buckets_ms": list(BUCKETS_MS), "counts": list(self.counts),
                "samples": self.samples, "max_ms": round(self.max_ms, 2)}


def window_quantile_ms(start: list[int], end: list[int], q: float) -> float | None:
    """The bucket upper bound below which a share `q` of the window's samples fell (inf above the last bound)."""
    counts = [b - a for a, b in zip(start, end, strict=True)]
    total = sum(counts)
    if total <= 0:
        return None
    seen = 0
    for bound, count in zip((*BUCKETS_MS, float("inf")), counts, strict=True):
        seen += count
        if seen >= q * total:
            return bound
    return float("inf")

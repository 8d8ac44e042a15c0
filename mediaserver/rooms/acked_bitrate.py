"""The rate the receiver acknowledged: the bytes it reported received over the last 500 ms of its own clock.

Measured on the receiver's arrival times, not on when feedback reached us, so feedback batching and jitter on the
way back do not show in it: under congestion it is what the bottleneck delivered, which is where the rate
controller backs off to, and during a probe it is what the link was seen to carry.
"""

from __future__ import annotations

from collections import deque
from typing import Final

WINDOW_US: Final = 500_000
MIN_SPAN_US: Final = 50_000  # before this much has been seen, no rate at all: two packets are not a rate


class AckedBitrate:
    __slots__ = ("_bytes", "_entries", "_first", "_newest")

    def __init__(self) -> None:
        self._entries: deque[tuple[int, int]] = deque()  # (arrival µs, bytes), roughly in arrival order
        self._bytes = 0
        self._first: int | None = None  # the earliest arrival ever seen: how long the window has been filling
        self._newest = 0

    def add(self, arrival_us: int, size: int) -> None:
        if self._first is None:
            self._first = self._newest = arrival_us
        elif arrival_us > self._newest:
            self._newest = arrival_us
        elif arrival_us <= self._newest - WINDOW_US:
            return  # a late report of an old arrival: outside the window already
        self._first = min(self._first, arrival_us)
        self._entries.append((arrival_us, size))
        self._bytes += size
        horizon = self._newest - WINDOW_US
        while self._entries[0][0] <= horizon:
            self._bytes -= self._entries.popleft()[1]

    def bps(self) -> float | None:
        """Bit/s between the first and last arrival in the window; None before 50 ms of arrivals."""
        if self._first is None:
            return None
        # Bytes after the earliest packet over the time since it: a window ending on an arrival would otherwise
        # always count one packet too many (+2 % at 600 kbit/s).
        span = self._newest - self._entries[0][0]
        if span >= MIN_SPAN_US:
            return (self._bytes - self._entries[0][1]) * 8 * 1e6 / span
        if self._newest - self._first >= WINDOW_US:
            return self._bytes * 8 * 1e6 / WINDOW_US  # a trickle after a pause: the window's bytes are the rate
        return None

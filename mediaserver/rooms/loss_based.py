"""Loss-based control: the downlink's loss over the last second of feedback, and the rate limit it sets.

As draft-ietf-rmcat-gcc-02 §6: above 10 % loss the rate is cut by (1 - 0.5 x loss), at most once per 300 ms
(the cut must be seen in feedback before the next); between 2 and 10 % it holds; below 2 % it does not limit
(increases are the delay-based controller's to make, and both start from the same target). Random loss of a few
per cent on a wireless link therefore freezes the rate instead of collapsing it, and heavy loss, which delay
cannot always show (a shallow buffer drops before it queues), brings it down.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

WINDOW_S: Final = 1.0
MIN_PACKETS: Final = 20  # fewer in the window is no sample: 2 of 10 lost says little about the link...
MAX_WINDOW_S: Final = 5.0  # ...so at low packet rates the window reaches back this far to find them
DECREASE_ABOVE: Final = 0.10
INCREASE_BELOW: Final = 0.02
DECREASE_INTERVAL_S: Final = 0.3


class LossWindow:
    """Lost / (lost + received) over the feedback of the last second (by our clock, when feedback came).

    Older feedback stays (up to 5 s) while the last second holds fewer than 20 packets.
    """

    __slots__ = ("_entries", "_lost", "_received")

    def __init__(self) -> None:
        self._entries: deque[tuple[float, int, int]] = deque()
        self._received = 0
        self._lost = 0

    def add(self, now: float, received: int, lost: int) -> None:
        """One feedback's counts; a late arrival of a packet reported lost earlier is `received=1, lost=-1`."""
        self._entries.append((now, received, lost))
        self._received += received
        self._lost += lost
        self._expire(now)

    @property
    def packets(self) -> int:
        """Packets the fraction is over."""
        return self._received + max(self._lost, 0)

    def fraction(self, now: float) -> float:
        self._expire(now)
        lost = max(self._lost, 0)  # a late arrival may cancel a loss whose feedback has already expired
        total = self._received + lost
        return lost / total if total > 0 else 0.0

    def _expire(self, now: float) -> None:
        while self._entries:
            at, received, lost = self._entries[0]
            age = now - at
            if age <= WINDOW_S or (age <= MAX_WINDOW_S and self.packets - received - lost < MIN_PACKETS):
                return
            self._entries.popleft()
            self._received -= received
            self._lost -= lost


class LossBasedControl:
    __slots__ = ("_last_decrease", "_min", "bitrate")

    def __init__(self, initial_bps: float, min_bps: float) -> None:
        self.bitrate = float(initial_bps)
        self._min = float(min_bps)
        self._last_decrease = -math.inf

    def update(self, loss: float | None, target_bps: float, now: float) -> float:
        """The loss-based limit at `now`, given the loss fraction (None: too few packets to tell) and the
        current (delay-based) target."""
        if loss is None or loss < INCREASE_BELOW:
            self.bitrate = target_bps
        elif loss > DECREASE_ABOVE and now - self._last_decrease >= DECREASE_INTERVAL_S:
            self.bitrate = max(min(self.bitrate, target_bps) * (1 - 0.5 * loss), self._min)
            self._last_decrease = now
        return self.bitrate

"""Packets held back behind a gap that is being repaired upstream, let go in sequence order (sans-IO).

While a layer has a number missing, what arrives after it waits here for a short while (a round trip and a
retry), so the repair can go out first and viewers get the layer in order: no NACK from them for a packet we
have not got yet (their NACK rate would read as loss on their downlink), and subscriptions, whose offsets
close the gaps of what they drop in arrival order, never see a packet from before a drop. What waited its
time goes anyway; a repair that comes after that is late, and says so.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from mediaserver.rtp.seq import seq_newer

T = TypeVar("T")

HOLD_MIN_S = 0.04  # a NACK, its RTX and one retry 20 ms later, on a short round trip
HOLD_MAX_S = 0.1  # the most a packet waits: viewers' jitter buffers would grow past this
HOLD_MARGIN_S = 0.02


def hold_time(rtt: float | None) -> float:
    """How long a packet may wait behind a gap: two round trips (a NACK and one retry) and a margin, bounded."""
    if rtt is None:
        return HOLD_MAX_S
    return min(max(2 * rtt + HOLD_MARGIN_S, HOLD_MIN_S), HOLD_MAX_S)


class HoldBack(Generic[T]):
    """Items keyed by 16-bit sequence numbers, kept in sequence order until the numbers before them are in."""

    __slots__ = ("_items", "_released", "released_late")

    def __init__(self) -> None:
        self._items: list[tuple[int, float, T]] = []  # (sequence number, arrival, item), in sequence order
        self._released = -1  # the newest number let go since the layer last had no gap (-1: none)
        self.released_late = 0  # items let go after something newer had gone (their repair came too late)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, seq: int, now: float, item: T) -> None:
        items = self._items
        at = len(items)
        while at and seq_newer(items[at - 1][0], seq):  # usually it goes last: the stream moves forward
            at -= 1
        items.insert(at, (seq, now, item))

    def ready(self, now: float, hold_s: float, oldest_missing: int | None) -> list[tuple[T, bool]]:
        """What may go now, in sequence order, each with True when it is late (something newer went before it).

        An item goes once no number before it is missing, or once it has waited `hold_s`.
        """
        items = self._items
        out: list[tuple[T, bool]] = []
        while items:
            seq, arrived, item = items[0]
            if oldest_missing is not None and seq_newer(seq, oldest_missing) and now - arrived < hold_s:
                break
            del items[0]
            late = self._released >= 0 and seq_newer(self._released, seq)
            if late:
                self.released_late += 1
            else:
                self._released = seq
            out.append((item, late))
        if not items and oldest_missing is None:
            self._released = -1  # the layer is whole again: what comes next is in order by definition
        return out

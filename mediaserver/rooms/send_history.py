"""What was sent to one subscriber under each transport-wide sequence number, for matching TWCC feedback to it.

`sent` runs for every packet to the subscriber, so it is a handful of stores into preallocated ring arrays and
no object per packet. The counter behind the 16-bit numbers never wraps, which is what lets `resolve` unwrap a
reported number against the newest one handed out; anything older than the ring (4096 packets: seconds of
traffic, where feedback comes every 100 ms) or never sent is ignored.

The bandwidth estimator subclasses this rather than holding one, so that its `sent` is these stores with no
call in between (a delegating method costs ~60 ns more, +45 %, on every packet to every subscriber).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

RING: Final = 4096  # a power of two, so a slot is `counter & MASK`; ~280 KB of floats and ints per subscriber
MASK: Final = RING - 1
SEQ_MASK: Final = 0xFFFF

# What the feedback so far said about a slot's packet. Stored in a bytearray: one byte per slot, no objects.
UNREPORTED: Final = 0
REPORTED_LOST: Final = 1
RECEIVED: Final = 2
REPORT_BITS: Final = 3
# Or-ed in for a probe's padding (`mark_padding`): its loss is the probe's finding, not the media's.
PADDING: Final = 4


class Resolved(NamedTuple):
    """A packet the feedback said something new about: lost, received, or received after being reported lost."""

    send_time: float  # our clock, seconds (what was passed to `sent`)
    size: int  # bytes
    arrival_us: int | None  # the receiver's clock, microseconds; None: reported lost
    was_lost: bool  # an earlier feedback had reported it lost (it arrived late): undo that count
    padding: bool  # a probe's padding (mark_padding), not media


class SendHistory:
    __slots__ = ("_next", "_size", "_state", "_time")

    def __init__(self) -> None:
        self._next = 0  # the counter the next packet gets; its low 16 bits are the wire number
        self._time = [0.0] * RING
        self._size = [0] * RING
        self._state = bytearray(RING)

    @property
    def packets_sent(self) -> int:
        return self._next

    def sent(self, size: int, now: float) -> int:
        """Record a packet of `size` bytes leaving at `now`; return its 16-bit transport-wide sequence number."""
        n = self._next
        i = n & MASK
        self._time[i] = now
        self._size[i] = size
        self._state[i] = UNREPORTED
        self._next = n + 1
        return n & SEQ_MASK

    def mark_padding(self) -> None:
        """The packet just numbered is a probe's padding. Off the media path: only the prober calls it."""
        if self._next:
            self._state[(self._next - 1) & MASK] = UNREPORTED | PADDING

    def _resolve(self, arrivals: Sequence[tuple[int, int | None]]) -> list[Resolved]:
        """The packets of one feedback that it says something new about, in the order reported.

        A packet already reported received is skipped (a duplicate or overlapping feedback), as is one reported
        lost again; one reported lost before and received now comes back with `was_lost`.
        """
        newest = self._next - 1
        out: list[Resolved] = []
        for seq, arrival in arrivals:
            if not 0 <= seq <= SEQ_MASK:
                continue  # not a 16-bit number: a broken decoder, nothing we sent
            back = (newest - seq) & SEQ_MASK  # how many packets before the newest one sent
            if back >= RING or back > newest:
                continue  # older than the ring (its slot holds a newer packet), ahead of what we sent, or never sent
            i = (newest - back) & MASK
            state = self._state[i]
            reported = state & REPORT_BITS
            if reported == RECEIVED or (reported == REPORTED_LOST and arrival is None):
                continue
            padding = state & PADDING
            self._state[i] = (REPORTED_LOST if arrival is None else RECEIVED) | padding
            out.append(Resolved(self._time[i], self._size[i], arrival, reported == REPORTED_LOST, bool(padding)))
        return out

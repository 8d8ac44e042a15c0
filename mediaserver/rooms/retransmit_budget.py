"""How much one subscriber may have resent: NACK answers bounded by what it was sent, each number once per RTT.

A subscriber NACKing hundreds of numbers hundreds of times a second turns a few kilobytes of feedback into
hundreds of megabits of retransmissions (measured: 2,341x). Three bounds, as LiveKit's and Janus's NACK handling
have in some form: a cap per NACK, one resend of a number per round trip, and a byte budget tied to what the
subscriber was forwarded. Pure: the caller passes the sizes and the time and sends what is allowed.
"""

from __future__ import annotations

from typing import Final

MAX_LOST_PER_NACK: Final = 64  # a NACK names at most this many numbers we answer (more are a storm, not loss)
BUDGET_RATIO: Final = 0.5  # resent bytes at most this share of forwarded ones (30 % loss is a broken link)...
BUDGET_BURST: Final = 16 * 1024  # ...plus this much, for losses early in a stream
DEFAULT_RTT_S: Final = 0.1  # until the receiver reports give one
MIN_RESEND_INTERVAL_S: Final = 0.02
_SLOTS: Final = 512  # as the packet history: a number further back cannot be answered anyway


class RetransmitBudget:
    __slots__ = ("_at", "_seq", "refused", "resent_octets")

    def __init__(self) -> None:
        self.resent_octets = 0
        self.refused = 0  # NACKed numbers not answered because of a bound (counted in the subscriber's stats)
        # Made at the first resend: most subscriptions (audio, a clean link) never resend, and 760 of them at
        # 20 participants would otherwise hold 6 MB of empty slots.
        self._seq: list[int] = []
        self._at: list[float] = []

    def allows(self, seq: int, size: int, forwarded_octets: int, rtt: float | None, now: float) -> bool:
        """Whether `seq` (`size` bytes) may be resent now; if so it is counted as resent."""
        if not self._seq:
            self._seq, self._at = [-1] * _SLOTS, [0.0] * _SLOTS
        slot = seq % _SLOTS
        interval = max(rtt if rtt is not None else DEFAULT_RTT_S, MIN_RESEND_INTERVAL_S)
        if self._seq[slot] == seq and now - self._at[slot] < interval:
            self.refused += 1  # already on its way: a second copy within one round trip helps nobody
            return False
        if self.resent_octets + size > forwarded_octets * BUDGET_RATIO + BUDGET_BURST:
            self.refused += 1
            return False
        self._seq[slot], self._at[slot] = seq, now
        self.resent_octets += size
        return True

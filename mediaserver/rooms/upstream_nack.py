"""Which packets of one received video layer to NACK upstream, and when (sans-IO: the caller sends and keeps time).

The shape follows the receivers we studied (libwebrtc's NackRequester, pion's NACK generator, mediasoup's
NackGenerator): sequence numbers missing behind the highest one seen are listed as they open; each is asked for
at most once per round trip (never more often than every 20 ms), at most 10 times, and given up after a second,
by which time a decoder has moved on. The list is capped, and a jump of more than 1000 numbers starts over
instead of listing thousands (a long outage; a keyframe request serves the viewers better than 1000 NACKs).
"""

from __future__ import annotations

MAX_MISSING = 256  # numbers listed at once; beyond it the oldest go (a burst that long is past saving)
MAX_JUMP = 1000  # a larger step forward (or back, twice in a row) is a new start, not a gap
MAX_TRIES = 10  # NACKs per number
GIVE_UP_S = 1.0  # a number missing for longer is no longer worth asking for
MIN_INTERVAL_S = 0.02  # the shortest time between two NACKs of one number, whatever the RTT
DEFAULT_RTT_S = 0.1  # until an RTT is known (libwebrtc's and mediasoup's default)


class _Missing:
    __slots__ = ("sent_at", "since", "tries")

    def __init__(self, since: float) -> None:
        self.since = since
        self.sent_at = -1e9
        self.tries = 0


class NackGenerator:
    """Tracks the sequence numbers of one RTP stream that have not arrived."""

    __slots__ = ("_missing", "_probe", "duplicates", "fresh", "gave_up", "highest", "nacked", "nacks_sent",
                 "recovered", "resets", "rtx_dropped", "rtx_padding")

    def __init__(self) -> None:
        self.highest = -1  # the newest number seen (-1: none yet); read-only outside
        self._missing: dict[int, _Missing] = {}  # in the order they went missing, so the first is the oldest
        self._probe = -1  # after a big step back: the number that would confirm it as a new start
        self.fresh = False  # numbers went missing since the last `due`: NACK them now rather than at the tick
        self.nacks_sent = 0  # NACK messages for this stream: `due` counts each non-empty answer as one sent
        self.nacked = 0  # sequence numbers asked for, each try counted
        self.recovered = 0  # missing numbers that arrived as a retransmission
        self.rtx_dropped = 0  # retransmissions of numbers not missing (duplicates, probes): dropped
        self.rtx_padding = 0  # RTX packets with no original number (padding to probe bandwidth): dropped
        self.gave_up = 0  # numbers never recovered (too many tries, too old, or pushed out of the list)
        self.resets = 0
        self.duplicates = 0  # originals that arrived twice (or too late to matter): dropped

    @property
    def missing(self) -> int:
        return len(self._missing)

    def oldest_missing(self) -> int | None:
        return next(iter(self._missing), None)

    def on_packet(self, seq: int, now: float) -> bool:
        """A packet of the stream arrived; False when it is a duplicate or too old to be of use."""
        highest = self.highest
        step = (seq - highest) & 0xFFFF
        if step == 1:  # the common case: next in order
            self.highest = seq
            return True
        if highest < 0:
            self.highest = seq
            return True
        if step == 0:
            self.duplicates += 1
            return False
        if step < 0x8000:  # ahead: the numbers between went missing
            if step > MAX_JUMP:
                self._restart(seq)
                return True
            self._open_gap(highest, seq, now)
            self.highest = seq
            return True
        # Behind the highest: a late original (reordered, or arriving after its NACK) fills its gap.
        if self._missing.pop(seq, None) is not None:
            return True
        if 0x10000 - step > MAX_JUMP:
            # Far behind: one stray packet must not wipe the list, but two in sequence mean the stream restarted.
            if seq == self._probe:
                self._restart(seq)
                return True
            self._probe = (seq + 1) & 0xFFFF
        self.duplicates += 1
        return False

    def recover(self, seq: int) -> bool:
        """A retransmission of `seq` arrived: True when that number was missing (it no longer is)."""
        if self._missing.pop(seq, None) is not None:
            self.recovered += 1
            return True
        self.rtx_dropped += 1
        return False

    def due(self, now: float, rtt: float | None) -> list[int]:
        """The numbers to NACK now; each one returned counts as asked for."""
        self.fresh = False
        if not self._missing:
            return []
        interval = max(DEFAULT_RTT_S if rtt is None else rtt, MIN_INTERVAL_S)
        out: list[int] = []
        expired: list[int] = []
        for seq, entry in self._missing.items():
            if now - entry.since > GIVE_UP_S:
                expired.append(seq)
            elif now - entry.sent_at >= interval:
                # After the last try it stays listed for one more round trip, so the answer to it is still taken.
                if entry.tries >= MAX_TRIES:
                    expired.append(seq)
                    continue
                entry.tries += 1
                entry.sent_at = now
                out.append(seq)
        for seq in expired:
            del self._missing[seq]
        self.gave_up += len(expired)
        if out:
            self.nacks_sent += 1
            self.nacked += len(out)
        return out

    def clear(self) -> None:
        """Stop asking for what is missing now (nobody receives this stream)."""
        self._missing.clear()
        self.fresh = False

    def _open_gap(self, highest: int, seq: int, now: float) -> None:
        missing = self._missing
        gap = ((seq - highest) & 0xFFFF) - 1
        skipped = max(gap - MAX_MISSING, 0)  # a burst longer than the list: only its newest numbers are listed
        for lost in range(highest + 1 + skipped, highest + 1 + gap):
            missing[lost & 0xFFFF] = _Missing(now)
        over = len(missing) - MAX_MISSING
        if over > 0:
            for old in list(missing)[:over]:
                del missing[old]
        self.gave_up += skipped + max(over, 0)
        self.fresh = True

    def _restart(self, seq: int) -> None:
        self.gave_up += len(self._missing)
        self.clear()
        self.highest = seq
        self._probe = -1
        self.resets += 1

    def stats(self) -> dict[str, int]:
        return {"nacks_sent": self.nacks_sent, "nacked": self.nacked, "recovered": self.recovered,
                "rtx_dropped": self.rtx_dropped, "rtx_padding": self.rtx_padding, "duplicates": self.duplicates,
                "gave_up": self.gave_up, "missing": len(self._missing), "resets": self.resets}

"""Receive side of transport-wide congestion control: records arrivals, and turns them into feedback packets."""

from __future__ import annotations

from .rtcpfb import TransportCC
from .seq import SeqUnwrapper
from .twcc import REFERENCE_TICK_US, encode_feedback

__all__ = ["MAX_GAP", "MAX_PACKET_BYTES", "ArrivalRecorder"]

# More missing packets than this in a row are not reported as lost: the stream starts again after them (a
# sender that jumped its numbering, or came back after a long outage, would otherwise read thousands of losses).
MAX_GAP = 1000
# A feedback packet stays well under a path MTU once SRTCP's trailer is added.
MAX_PACKET_BYTES = 1200
# Between two received packets of one feedback packet: 16 signed bits of 250 µs is 8.19 s; this leaves room
# for the rounding of the deltas.
MAX_DELTA_US = 8_000_000
# Arrivals held between two calls (over a second of a publisher at its 3,000 packets/s limit): the hot path only
# appends, so neither a stalled caller nor a flood grows it, or the next call's work, without bound. What does
# not fit goes unrecorded and is reported lost.
MAX_PENDING = 4096
# With nothing received for this long, the next packet starts a new report instead of one listing the
# outage as losses: the sender's estimator has already reacted to the silence.
IDLE_RESET_S = 5.0

_RTCP_OVERHEAD = 4 + 8 + 8 + 3  # RTCP header, the two SSRCs, the FCI header, at most 3 bytes of padding
_REFERENCE_SPAN = 1 << 24
_REFERENCE_HALF = 1 << 23


class ArrivalRecorder:
    """Arrival times by transport-wide sequence number, reported once each in RTCP transport-cc feedback.

    ``record`` runs for every inbound packet and only appends; ``feedback`` (every ~100 ms) unwraps the 16-bit
    numbers, drops duplicates and packets that belong to a range already reported (late or reordered across
    two calls), reports gaps as not received, and splits into several packets where a delta would not fit in
    16 bits, a packet would grow past MAX_PACKET_BYTES, or a gap is longer than MAX_GAP.
    """

    __slots__ = ("_count", "_last_arrival_s", "_next", "_pending", "_unwrapper", "max_gap")

    def __init__(self, max_gap: int = MAX_GAP) -> None:
        self.max_gap = max_gap
        self._pending: list[tuple[int, float]] = []
        self._unwrapper = SeqUnwrapper()
        self._next: int | None = None  # the first unwrapped number not yet reported
        self._count = 0  # feedback packet count, 8 bits on the wire
        self._last_arrival_s = 0.0

    def record(self, twseq: int, arrival_s: float) -> None:
        """One packet with transport-wide number ``twseq`` arrived at ``arrival_s`` (seconds, a monotonic clock)."""
        pending = self._pending
        if len(pending) < MAX_PENDING:
            pending.append((twseq, arrival_s))

    def feedback(self, sender_ssrc: int, media_ssrc: int, now_s: float) -> list[bytes]:
        """Serialized transport-cc packets covering everything recorded since the last call (often one, or none)."""
        pending = self._pending
        if not pending:
            if self._next is not None and now_s - self._last_arrival_s > IDLE_RESET_S:
                self._forget()
            return []
        self._pending = []
        if self._next is not None and pending[0][1] - self._last_arrival_s > IDLE_RESET_S:
            self._forget()
        self._last_arrival_s = pending[-1][1]
        arrivals = self._unwrap(pending)
        if not arrivals:
            return []
        seqs = sorted(arrivals)
        start = self._next
        if start is None or seqs[0] - start > self.max_gap:
            start = seqs[0]
        self._next = seqs[-1] + 1
        packets = []
        for base, entries in self._segments(start, seqs, arrivals):
            packets.append(self._packet(sender_ssrc, media_ssrc, base, entries))
        return packets

    def _forget(self) -> None:
        self._unwrapper.reset()
        self._next = None

    def _unwrap(self, pending: list[tuple[int, float]]) -> dict[int, int]:
        """Unwrapped number -> arrival in µs, first arrival of each, without what is already reported."""
        unwrap = self._unwrapper.unwrap
        arrivals: dict[int, int] = {}
        for seq, at in pending:
            number = unwrap(seq)
            if number not in arrivals:
                arrivals[number] = round(at * 1_000_000)
        start = self._next
        if start is None:
            return arrivals
        fresh = {n: at for n, at in arrivals.items() if n >= start}
        if not fresh and max(arrivals) < start - self.max_gap:
            # Every packet far behind what was reported: the sender restarted its numbering lower down.
            self._forget()
            return self._unwrap(pending)
        return fresh

    def _segments(self, start: int, seqs: list[int],
                  arrivals: dict[int, int]) -> list[tuple[int, list[tuple[int, int | None]]]]:
        """Runs of consecutive numbers to report, each one feedback packet: (first number, [(seq16, µs or None)])."""
        segments: list[tuple[int, list[tuple[int, int | None]]]] = []
        base = start
        entries: list[tuple[int, int | None]] = []
        received = 0
        previous: int | None = None  # arrival of the last received packet in this segment
        expected = start
        for number in seqs:
            at = arrivals[number]
            gap = number - expected
            if gap > self.max_gap:
                if entries:
                    segments.append((base, entries))
                base, entries, received, previous, expected = number, [], 0, None, number
                gap = 0
            count = len(entries) + gap + 1
            too_big = _RTCP_OVERHEAD + 2 * ((count + 6) // 7) + 2 * (received + 1) > MAX_PACKET_BYTES
            if entries and (too_big or (previous is not None and abs(at - previous) > MAX_DELTA_US)):
                segments.append((base, entries))
                base, entries, received, previous = expected, [], 0, None
            entries.extend((n & 0xFFFF, None) for n in range(expected, number))
            entries.append((number & 0xFFFF, at))
            received += 1
            previous = at
            expected = number + 1
        if entries:
            segments.append((base, entries))
        return segments

    def _packet(self, sender_ssrc: int, media_ssrc: int, base: int, entries: list[tuple[int, int | None]]) -> bytes:
        first = next(at for _, at in entries if at is not None)
        reference = first // REFERENCE_TICK_US
        # The 24-bit reference time wraps (every 2**24 * 64 ms, about 12 days); senders unwrap it, as libwebrtc's
        # feedback does. The times move with it so the deltas stay what they were.
        wire = (reference + _REFERENCE_HALF) % _REFERENCE_SPAN - _REFERENCE_HALF
        shift = (wire - reference) * REFERENCE_TICK_US
        shifted = [(seq, None if at is None else at + shift) for seq, at in entries]
        fci = encode_feedback(base & 0xFFFF, wire, self._count, shifted)
        self._count = (self._count + 1) & 0xFF
        return TransportCC(sender_ssrc, media_ssrc, fci).serialize()

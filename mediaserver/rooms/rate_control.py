"""AIMD rate control for the delay-based estimate: back off to 0.85 x acknowledged on overuse, creep up otherwise.

As draft-ietf-rmcat-gcc-02 §5.5 and libwebrtc's AimdRateControl. Overuse: decrease (at most once per round trip)
to 0.85 x what the receiver acknowledged, which is what the bottleneck delivered. Underuse (a queue draining):
hold. Normal: increase, by ~8 %/s while no congestion point is known or the throughput has left the region of
the last ones (the link changed), and by about a packet per response time near it, where overshooting costs a
queue. An estimate never rises above 1.5 x acknowledged + 100 kbit/s: a sender that does not use its estimate
(app-limited) would otherwise push it up without ever testing it.
"""

from __future__ import annotations

import math
from typing import Final, Literal

from .delay_based import Usage

RateState = Literal["hold", "increase"]

BETA: Final = 0.85
MULTIPLICATIVE_PER_S: Final = 1.08
MIN_MULTIPLICATIVE_BPS_PER_S: Final = 1000.0
MIN_ADDITIVE_BPS_PER_S: Final = 4000.0
MAX_INCREASE_STEP_S: Final = 1.0  # a late update is not a licence for a bigger step
ACKED_HEADROOM: Final = 1.5
ACKED_HEADROOM_BPS: Final = 100_000
FRAME_RATE: Final = 30.0  # for the additive step: a frame's worth of packets at the current rate
PACKET_BITS: Final = 1200 * 8
RESPONSE_EXTRA_S: Final = 0.1  # the response time is an RTT plus this (feedback interval and detection)
MIN_REDUCE_INTERVAL_S: Final = 0.01
MAX_REDUCE_INTERVAL_S: Final = 0.2
CAPACITY_ALPHA: Final = 0.05


class LinkCapacity:
    """Running mean and spread (kbit/s) of the throughput at past overuse points: where the link gave out."""

    __slots__ = ("_deviation", "estimate_kbps")

    def __init__(self) -> None:
        self.estimate_kbps: float | None = None
        self._deviation = 0.4  # normalised variance: variance / estimate, as in libwebrtc

    def _spread_kbps(self) -> float:
        assert self.estimate_kbps is not None
        return 3 * math.sqrt(self._deviation * self.estimate_kbps)

    def upper_bps(self) -> float:
        return math.inf if self.estimate_kbps is None else (self.estimate_kbps + self._spread_kbps()) * 1000

    def lower_bps(self) -> float:
        return 0.0 if self.estimate_kbps is None else max(0.0, self.estimate_kbps - self._spread_kbps()) * 1000

    def on_overuse(self, acked_bps: float) -> None:
        sample = acked_bps / 1000
        old = self.estimate_kbps
        est = sample if old is None else (1 - CAPACITY_ALPHA) * old + CAPACITY_ALPHA * sample
        error = est - sample
        deviation = (1 - CAPACITY_ALPHA) * self._deviation + CAPACITY_ALPHA * error * error / max(est, 1.0)
        self._deviation = min(max(deviation, 0.4), 2.5)
        self.estimate_kbps = est

    def reset(self) -> None:
        self.estimate_kbps = None


class AimdRateControl:
    __slots__ = ("_last_change", "_last_decrease", "_max", "_min", "bitrate", "capacity", "rtt", "state")

    def __init__(self, initial_bps: float, min_bps: float, max_bps: float) -> None:
        self._min, self._max = float(min_bps), float(max_bps)
        self.bitrate = min(max(float(initial_bps), self._min), self._max)
        self.state: RateState = "hold"
        self.capacity = LinkCapacity()
        self.rtt = 0.1  # seconds; the caller refreshes it from receiver reports
        self._last_change: float | None = None
        self._last_decrease = -math.inf

    def update(self, usage: Usage, acked_bps: float | None, now: float) -> float:
        """Apply the detector's verdict at `now`; return the delay-based estimate (bit/s)."""
        if self._last_change is None:
            self._last_change = now
        if usage == "overusing":
            if self._time_to_reduce(acked_bps, now):
                self._decrease(acked_bps, now)
            return self.bitrate
        if usage == "underusing":
            self.state = "hold"
        elif self.state == "hold":
            self.state = "increase"
            self._last_change = now  # time spent holding earns no increase
        if self.state == "increase":
            self._increase(acked_bps, now)
        return self.bitrate

    def restart_clock(self, now: float) -> None:
        """Forget the time since the last change (after a silence): no increase is owed for it."""
        self._last_change = now

    def raise_to(self, bps: float, now: float) -> None:
        """Adopt a rate the receiver was seen to take (a probe): the old congestion point no longer applies."""
        if bps > self.bitrate:
            self.bitrate = min(bps, self._max)
            self.capacity.reset()
            self._last_change = now

    def limit(self, bps: float) -> None:
        """Keep the delay-based rate at or under the loss-based one, so both move from the same target."""
        self.bitrate = max(min(self.bitrate, bps), self._min)

    def _time_to_reduce(self, acked_bps: float | None, now: float) -> bool:
        interval = min(max(self.rtt, MIN_REDUCE_INTERVAL_S), MAX_REDUCE_INTERVAL_S)
        if now - self._last_decrease >= interval:
            return True
        # Within one round trip, cut again only if the receiver is getting well under half of it.
        return acked_bps is not None and acked_bps < 0.5 * self.bitrate

    def _decrease(self, acked_bps: float | None, now: float) -> None:
        if acked_bps is None:
            new = BETA * self.bitrate
        else:
            new = BETA * acked_bps
            if new > self.bitrate and self.capacity.estimate_kbps is not None:
                new = BETA * self.capacity.estimate_kbps * 1000
            if acked_bps < self.capacity.lower_bps():
                self.capacity.reset()  # the link got worse than anything seen: relearn it
            self.capacity.on_overuse(acked_bps)
        self.bitrate = max(min(new, self.bitrate), self._min)  # overuse never raises the rate
        self.state = "hold"  # the queue drains next: wait for the detector to say normal before increasing
        self._last_change = self._last_decrease = now

    def _increase(self, acked_bps: float | None, now: float) -> None:
        assert self._last_change is not None
        if acked_bps is not None and acked_bps > self.capacity.upper_bps():
            self.capacity.reset()  # well past the old congestion point: the link grew, ramp up fast
        dt = min(max(now - self._last_change, 0.0), MAX_INCREASE_STEP_S)
        self._last_change = now
        limit = math.inf if acked_bps is None else ACKED_HEADROOM * acked_bps + ACKED_HEADROOM_BPS
        if self.bitrate >= limit:
            return
        if self.capacity.estimate_kbps is None:
            step = max(self.bitrate * (MULTIPLICATIVE_PER_S**dt - 1), MIN_MULTIPLICATIVE_BPS_PER_S * dt)
        else:
            step = self._additive_bps_per_s() * dt
        self.bitrate = min(self.bitrate + step, limit, self._max)

    def _additive_bps_per_s(self) -> float:
        frame_bits = self.bitrate / FRAME_RATE
        packet_bits = frame_bits / max(math.ceil(frame_bits / PACKET_BITS), 1)
        return max(MIN_ADDITIVE_BPS_PER_S, packet_bits / (self.rtt + RESPONSE_EXTRA_S))

"""A deterministic discrete-event link for the bandwidth estimator's tests: bottleneck, drop-tail queue, TWCC.

The sender paces 1200-byte packets at min(estimate, source rate), plus padding while it probes; the link is a
bottleneck of `capacity_bps` with a drop-tail queue holding at most `queue_s` of traffic (as `tc tbf latency
150ms`), a fixed one-way delay, and optional random loss from a seeded RNG; the receiver sends transport-wide
feedback every 100 ms (arrival times on its own clock, in 250 µs steps as TWCC carries them), which reaches the
sender one one-way delay later over an uncongested return path.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

from mediaserver.rooms.bandwidth_estimator import BandwidthEstimator

PACKET = 1200
FEEDBACK_INTERVAL_S = 0.1
RECEIVER_CLOCK_OFFSET_S = 4321.0987  # the receiver's clock has nothing to do with ours


@dataclass
class Link:
    capacity_bps: float
    queue_s: float = 0.15
    delay_s: float = 0.02
    loss: float = 0.0
    seed: int = 1
    dropped_by_queue: int = 0
    dropped_at_random: int = 0
    _free_at: float = 0.0  # when the bottleneck has sent everything queued so far
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def carry(self, now: float, size: int) -> float | None:
        """When a packet sent at `now` reaches the receiver, or None if the link drops it."""
        if self.loss and self._rng.random() < self.loss:
            self.dropped_at_random += 1
            return None
        start = max(now, self._free_at)
        if start - now > self.queue_s:
            self.dropped_by_queue += 1  # the queue already holds more than its limit
            return None
        self._free_at = start + size * 8 / self.capacity_bps
        return self._free_at + self.delay_s


@dataclass
class Sample:
    t: float
    estimate_bps: int
    acked_bps: int
    loss: float
    delay_state: str
    sent: int  # packets sent so far
    queue_drops: int  # packets the queue dropped so far


@dataclass
class Sim:
    """Sender + link + receiver, stepped event by event. `run(until)` may be called again to continue."""

    estimator: BandwidthEstimator
    link: Link
    source_bps: float = 2_500_000
    probe_every_s: float = 0.0  # 0: never probe; else while the source wants more than the estimate
    probe_for_s: float = 0.6
    probe_factor: float = 2.0  # media + padding = this x the estimate while probing
    now: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    _next_send: float = 0.0
    _next_build: float = FEEDBACK_INTERVAL_S
    _in_flight: deque[tuple[int, float | None]] = field(default_factory=deque)  # (seq, arrival) not yet reported
    _deliveries: deque[tuple[float, list[tuple[int, int | None]]]] = field(default_factory=deque)
    _sent: int = 0
    _probe_bps: float = 0.0  # the rate of the probe running, 0 when none is

    def rate(self) -> float:
        """Media at min(estimate, source); while a probe runs, padding on top up to its rate."""
        estimate = self.estimator.estimate_bps
        media = min(estimate, self.source_bps)
        if not self.probe_every_s or self.now % self.probe_every_s >= self.probe_for_s:
            self._probe_bps = 0.0
            return media
        if not self._probe_bps and estimate < self.source_bps:
            self._probe_bps = self.probe_factor * estimate  # set when it starts, as a prober's cluster is
        return max(media, self._probe_bps)

    def run(self, until: float) -> None:
        while self.now < until:
            t_delivery = self._deliveries[0][0] if self._deliveries else float("inf")
            self.now = min(self._next_send, self._next_build, t_delivery)
            if self.now == t_delivery:
                _, arrivals = self._deliveries.popleft()
                self.estimator.on_feedback(arrivals, self.now)
                self._sample()
            elif self.now == self._next_build:
                self._build_feedback()
                self._next_build += FEEDBACK_INTERVAL_S
            else:
                self._send()

    def _send(self) -> None:
        seq = self.estimator.sent(PACKET, self.now)
        self._sent += 1
        self._in_flight.append((seq, self.link.carry(self.now, PACKET)))
        self._next_send = self.now + PACKET * 8 / self.rate()

    def _build_feedback(self) -> None:
        """What the receiver knows now: every packet up to the last one arrived, the ones missing as lost."""
        arrived = [i for i, (_, at) in enumerate(self._in_flight) if at is not None and at <= self.now]
        if not arrived:
            return
        report: list[tuple[int, int | None]] = []
        for _ in range(arrived[-1] + 1):
            seq, at = self._in_flight.popleft()
            arrival = None if at is None else round((at + RECEIVER_CLOCK_OFFSET_S) * 4000) * 250
            report.append((seq, arrival))
        self._deliveries.append((self.now + self.link.delay_s, report))

    def _sample(self) -> None:
        e = self.estimator
        self.samples.append(Sample(self.now, e.estimate_bps, e.acked_bps, e.loss, str(e.stats()["delay_state"]),
                                   self._sent, self.link.dropped_by_queue))

"""Call quality as histograms: each participant's loss, jitter, RTT and MOS, one sample per participant per second."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from .participant import Participant
from .quality import EXCELLENT_MOS, GOOD_MOS, LEVELS

# Upper bounds. Loss: the quality thresholds (2 %, 10 %) fall on bounds, so the panel can show the shares.
LOSS_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
JITTER_BUCKETS_S: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
# RTT alone: 400 ms still scores good in quality.py (MOS 3.83), 800 ms is poor.
RTT_BUCKETS_S: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
# MOS (1.0-4.5): the level boundaries fall on bounds, so a panel can show the share of poor seconds.
MOS_BUCKETS: tuple[float, ...] = (1.5, 2.0, 2.5, 3.0, GOOD_MOS, EXCELLENT_MOS, 4.2, 4.4)
DIRECTIONS = ("uplink", "downlink")


class Histogram:
    """Prometheus-style buckets (a value equal to a bound falls in that bound's bucket), kept per bucket."""

    __slots__ = ("bounds", "counts", "samples", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.samples = 0
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.samples += 1
        self.total += value


class CallQuality:
    """One per media server, fed by every room's tick after a participant's RTCP work.

    A sample is one participant-second, so a quantile reads "the share of time people spent above X".
    Uplink: what we receive from the participant (our receiver reports' loss, RFC 3550 jitter). Downlink: what
    its browser reports about what we send it (its receiver reports' loss, jitter and the RTT they give).
    Only directions with something measured are sampled: a participant alone, or with no receiver report
    yet, adds nothing rather than a flattering zero.
    """

    def __init__(self) -> None:
        self.loss = {d: Histogram(LOSS_BUCKETS) for d in DIRECTIONS}
        self.jitter = {d: Histogram(JITTER_BUCKETS_S) for d in DIRECTIONS}
        self.rtt = Histogram(RTT_BUCKETS_S)
        self.mos = Histogram(MOS_BUCKETS)
        # Participant-seconds spent at each level its tiles showed (a counter per level: no participant labels).
        self.level_seconds = dict.fromkeys(LEVELS, 0)

    def sample(self, participant: Participant) -> None:
        self._sample_uplink(participant)
        self._sample_downlink(participant)
        self._sample_score(participant)

    def _sample_score(self, participant: Participant) -> None:
        # This second's score (the worse direction, 1.0 when lost), and the level shown after smoothing.
        quality = participant.quality
        if quality.last is not None:
            self.mos.observe(quality.last.mos)
        if quality.shown is not None:
            self.level_seconds[quality.shown.level] += 1

    def _sample_uplink(self, participant: Participant) -> None:
        if participant.publisher_transport.state != "connected":
            return
        loss, jitter, measured = 0.0, 0.0, False
        for pub in participant.publications.values():
            if pub.muted:
                continue
            for layer in pub.layers:
                stats = layer.stats
                if stats is None or layer.bitrate_bps <= 0:
                    continue  # nothing arrived on it in the last second (camera off, paused layer)
                measured = True
                loss = max(loss, stats.last_fraction_lost)
                jitter = max(jitter, stats.jitter / pub.clock_rate)
        if measured:
            self.loss["uplink"].observe(loss)
            self.jitter["uplink"].observe(jitter)

    def _sample_downlink(self, participant: Participant) -> None:
        subscribing = participant.subscribing
        if participant.subscriber_transport.state != "connected":
            return
        reported = [s for s in subscribing.subscriptions.values() if s.active and s.rtt is not None]
        if not reported:
            return
        self.loss["downlink"].observe(subscribing.downlink_loss())
        self.jitter["downlink"].observe(max(s.jitter / s.publication.clock_rate for s in reported))
        rtts = sorted(s.rtt for s in reported if s.rtt is not None)
        self.rtt.observe(rtts[len(rtts) // 2])

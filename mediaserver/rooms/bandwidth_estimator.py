"""Send-side bandwidth estimate for one subscriber's downlink, from transport-wide congestion control feedback.

Google Congestion Control (draft-ietf-rmcat-gcc-02) as libwebrtc runs it on the sending side: every packet to the
subscriber gets a transport-wide sequence number (`sent`); each TWCC feedback says which arrived when
(`on_feedback`). From that: a delay-based estimate (trendline overuse detection driving AIMD rate control, see
delay_based.py and rate_control.py), a loss-based limit (loss_based.py) and the acknowledged bitrate
(acked_bitrate.py). The target is min(delay-based, loss-based), within [min_bps, max_bps].

Probes: the caller may pad on top of media for 0.5-1 s to test a higher rate. When the receiver acknowledges a
rate well above the estimate (1.2 x) while the delay detector says normal (no queue building) and loss is under
2 %, the estimate jumps to 0.9 x that rate. Without this the estimate only climbs at ~8 %/s (minutes from a low
cap to a fast link); with it the allocator can climb back in a few probes once a cap is lifted. Padding must be
sent through `sent` like media, or it is neither acknowledged nor counted.

Pure and single-threaded: no sockets, no clock; `now` is the caller's monotonic time in seconds, the same clock
for `sent` and `on_feedback`. Arrival times are the receiver's, in microseconds, on a clock of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .acked_bitrate import AckedBitrate
from .delay_based import DelayBasedDetector
from .loss_based import INCREASE_BELOW, MIN_PACKETS, LossBasedControl, LossWindow
from .rate_control import AimdRateControl
from .send_history import SendHistory

PROBE_RATIO: Final = 1.2  # acknowledged this far above the estimate, with no congestion sign: a probe succeeded
PROBE_ADOPT: Final = 0.9  # of the acknowledged rate: a margin under what was merely seen to get through
SILENCE_S: Final = 1.0  # feedback further apart than this: hold, do not count the gap as time to increase in


class BandwidthEstimator(SendHistory):
    """`sent` (inherited: the hot path) for every packet to the subscriber, `on_feedback` for every TWCC report."""

    __slots__ = (
        "_acked",
        "_all_window",
        "_delay",
        "_last_feedback",
        "_loss_control",
        "_loss_window",
        "_max",
        "_min",
        "_rate",
        "acked_bps",
        "estimate_bps",
        "feedbacks",
        "loss",
        "loss_all",
        "probes_adopted",
    )

    def __init__(self, initial_bps: int = 1_000_000, min_bps: int = 100_000, max_bps: int = 8_000_000) -> None:
        if not 0 < min_bps <= max_bps:
            raise ValueError(f"need 0 < min_bps <= max_bps, got {min_bps}, {max_bps}")
        self._min, self._max = min_bps, max_bps
        initial = min(max(initial_bps, min_bps), max_bps)
        super().__init__()
        self._delay = DelayBasedDetector()
        self._rate = AimdRateControl(initial, min_bps, max_bps)
        self._loss_control = LossBasedControl(initial, min_bps)
        self._loss_window = LossWindow()  # media only
        self._all_window = LossWindow()  # media and probe padding
        self._acked = AckedBitrate()
        self._last_feedback: float | None = None
        self.estimate_bps = initial
        self.acked_bps = 0  # 0 until 50 ms of arrivals have been acknowledged
        self.loss = 0.0  # of media packets, over the loss window
        self.loss_all = 0.0  # of every numbered packet, probe padding included
        self.feedbacks = 0  # feedback packets that said something new
        self.probes_adopted = 0

    @property
    def rtt(self) -> float:
        """Round-trip time (s) the rate control uses: how often to cut, how fast to add. Default 0.1."""
        return self._rate.rtt

    @rtt.setter
    def rtt(self, seconds: float) -> None:
        self._rate.rtt = seconds

    @property
    def overusing(self) -> bool:
        """The delay detector sees the bottleneck's queue growing (a probe running now should stop)."""
        return self._delay.state == "overusing"

    def on_feedback(self, arrivals: Sequence[tuple[int, int | None]], now: float) -> None:
        """One TWCC feedback: (transport seq, arrival µs on the receiver's clock, or None if lost), in order."""
        resolved = self._resolve(arrivals)
        if not resolved:
            return  # duplicates, unknown numbers or an empty report: nothing learnt, nothing changes
        received = lost = all_received = all_lost = 0
        for send_time, size, arrival_us, was_lost, padding in resolved:
            if arrival_us is None:
                all_lost += 1
                lost += not padding
                continue
            # Late, not lost: an earlier feedback counted it lost.
            all_received += 1
            all_lost -= was_lost
            if not padding:
                received += 1
                lost -= was_lost
            self._acked.add(arrival_us, size)
            self._delay.add(send_time, arrival_us)
        # The loss-based control and the quality score react to media lost. Padding a full queue drops is how a
        # probe finds the cap (its verdict reads `loss_all`); as media loss it would cut the estimate, and lower
        # the score, for packets that were never video.
        self._loss_window.add(now, received, lost)
        self._all_window.add(now, all_received, all_lost)
        if self._last_feedback is not None and now - self._last_feedback > SILENCE_S:
            self._rate.restart_clock(now)
        self._last_feedback = now
        self.feedbacks += 1
        self._update(now)

    def _update(self, now: float) -> None:
        acked = self._acked.bps()
        usage = self._delay.state
        self.loss = self._loss_window.fraction(now)
        self.loss_all = self._all_window.fraction(now)
        self.acked_bps = 0 if acked is None else int(acked)
        loss = self.loss if self._loss_window.packets >= MIN_PACKETS else None
        # A probe is adopted only if its padding got through too.
        probe_loss = self.loss_all if self._all_window.packets >= MIN_PACKETS else 0.0
        if (acked is not None and usage == "normal" and max(loss or 0.0, probe_loss) < INCREASE_BELOW
                and acked > PROBE_RATIO * self.estimate_bps):
            self._rate.raise_to(PROBE_ADOPT * acked, now)
            self.probes_adopted += 1
        delay_bps = self._rate.update(usage, acked, now)
        loss_bps = self._loss_control.update(loss, delay_bps, now)
        target = min(max(min(delay_bps, loss_bps), self._min), self._max)
        self._rate.limit(target)  # holding for loss holds the delay-based rate too: no jump when loss clears
        self.estimate_bps = int(target)

    def stats(self) -> dict[str, object]:
        """For a debug endpoint: the estimate, its inputs and the detector's state."""
        trendline = self._delay.trendline
        capacity = self._rate.capacity.estimate_kbps
        return {
            "estimate_bps": self.estimate_bps,
            "delay_based_bps": int(self._rate.bitrate),
            "loss_based_bps": int(self._loss_control.bitrate),
            "acked_bps": self.acked_bps,
            "loss": round(self.loss, 4),
            "loss_all": round(self.loss_all, 4),
            "delay_state": trendline.state,
            "rate_control": self._rate.state,
            "trend": trendline.trend,
            "modified_trend": round(trendline.modified_trend, 3),
            "threshold": round(trendline.threshold, 3),
            "link_capacity_bps": None if capacity is None else int(capacity * 1000),
            "packets_sent": self.packets_sent,
            "feedbacks": self.feedbacks,
            "probes_adopted": self.probes_adopted,
        }

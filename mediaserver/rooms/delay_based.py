"""Delay-based congestion detection from TWCC arrivals: 5 ms send groups, a trendline, an adaptive threshold.

As draft-ietf-rmcat-gcc-02 §5 with libwebrtc's trendline estimator in place of the draft's Kalman filter:
packets sent within 5 ms of a group's first form one group (a burst the network delivers back to back joins it
too); the delay variation between consecutive groups, d = (arrival delta) - (send delta), is accumulated into a
queueing-delay curve, smoothed, and a least-squares line is fitted over the last 20 groups. A rising slope means
a queue is building: overuse. The slope is compared, scaled by how many samples back it, with a threshold that
follows it slowly, so that cross-traffic's jitter does not read as congestion yet a growing queue does.
"""

from __future__ import annotations

from collections import deque
from typing import Final, Literal

Usage = Literal["normal", "overusing", "underusing"]

GROUP_S: Final = 0.005  # send-time span of a group
BURST_ARRIVAL_S: Final = 0.005  # arriving this close behind the group, earlier than sent spacing: same burst
MAX_BURST_S: Final = 0.1
CLOCK_JUMP_S: Final = 3.0  # arrival spacing this far beyond send spacing: the receiver's clock jumped, start over

WINDOW: Final = 20  # groups in the trendline fit
SMOOTHING: Final = 0.9
THRESHOLD_GAIN: Final = 4.0
MAX_DELTAS: Final = 60  # the slope is scaled by min(deltas seen, this): little evidence, little weight

OVERUSE_TIME_MS: Final = 10.0  # the trend must stay above the threshold this long...
INITIAL_THRESHOLD: Final = 12.5
MIN_THRESHOLD: Final = 6.0
MAX_THRESHOLD: Final = 600.0
K_UP: Final = 0.0087  # per ms: the threshold rises slowly towards a larger trend...
K_DOWN: Final = 0.039  # ...and falls faster towards a smaller one
MAX_ADAPT_OFFSET: Final = 15.0  # a trend this far above the threshold is a spike: do not adapt to it
MAX_ADAPT_STEP_MS: Final = 100.0


class Trendline:
    """Slope of the smoothed accumulated delay over the last groups, and the overuse state it implies."""

    __slots__ = (
        "_accumulated",
        "_deltas",
        "_first_arrival_ms",
        "_history",
        "_last_threshold_ms",
        "_over_count",
        "_over_ms",
        "_prev_trend",
        "_smoothed",
        "modified_trend",
        "state",
        "threshold",
        "trend",
    )

    def __init__(self) -> None:
        self._deltas = 0
        self._first_arrival_ms: float | None = None
        self._accumulated = 0.0
        self._smoothed = 0.0
        self._history: deque[tuple[float, float]] = deque(maxlen=WINDOW)
        self.trend = 0.0  # ms of extra delay per ms of arrival time
        self._prev_trend = 0.0
        self.modified_trend = 0.0
        self.threshold = INITIAL_THRESHOLD
        self._last_threshold_ms: float | None = None
        self._over_ms = -1.0  # -1: not over the threshold
        self._over_count = 0
        self.state: Usage = "normal"

    def update(self, recv_delta_ms: float, send_delta_ms: float, arrival_ms: float) -> None:
        """One inter-group delay sample; `arrival_ms` is the group's last arrival on the receiver's clock."""
        self._deltas = min(self._deltas + 1, 1000)
        if self._first_arrival_ms is None:
            self._first_arrival_ms = arrival_ms
        self._accumulated += recv_delta_ms - send_delta_ms
        self._smoothed = SMOOTHING * self._smoothed + (1 - SMOOTHING) * self._accumulated
        self._history.append((arrival_ms - self._first_arrival_ms, self._smoothed))
        if len(self._history) == WINDOW:
            self.trend = _slope(self._history, self.trend)
        self._detect(send_delta_ms, arrival_ms)

    def _detect(self, send_delta_ms: float, now_ms: float) -> None:
        if self._deltas < 2:
            self.state = "normal"
            return
        modified = min(self._deltas, MAX_DELTAS) * self.trend * THRESHOLD_GAIN
        self.modified_trend = modified
        if modified > self.threshold:
            # Half a group's worth the first time: the crossing happened somewhere inside it.
            self._over_ms = send_delta_ms / 2 if self._over_ms < 0 else self._over_ms + send_delta_ms
            self._over_count += 1
            if self._over_ms > OVERUSE_TIME_MS and self._over_count > 1 and self.trend >= self._prev_trend:
                self._over_ms, self._over_count = 0.0, 0
                self.state = "overusing"
        else:
            self._over_ms, self._over_count = -1.0, 0
            self.state = "underusing" if modified < -self.threshold else "normal"
        self._prev_trend = self.trend
        self._adapt_threshold(modified, now_ms)

    def _adapt_threshold(self, modified: float, now_ms: float) -> None:
        last = self._last_threshold_ms if self._last_threshold_ms is not None else now_ms
        self._last_threshold_ms = now_ms
        size = abs(modified)
        if size > self.threshold + MAX_ADAPT_OFFSET:
            return
        k = K_DOWN if size < self.threshold else K_UP
        step_ms = min(max(now_ms - last, 0.0), MAX_ADAPT_STEP_MS)
        self.threshold = min(max(self.threshold + k * (size - self.threshold) * step_ms, MIN_THRESHOLD), MAX_THRESHOLD)


def _slope(points: deque[tuple[float, float]], fallback: float) -> float:
    """Least-squares slope, in one pass (it runs for every group). Taken relative to the first point: hours into
    a call the raw sums of squares would cancel away the digits the slope is in."""
    x0, y0 = points[0]
    n = len(points)
    sx = sy = sxy = sxx = 0.0
    for x, y in points:
        x -= x0
        y -= y0
        sx += x
        sy += y
        sxy += x * y
        sxx += x * x
    den = n * sxx - sx * sx
    return (n * sxy - sx * sy) / den if den > 0 else fallback


class DelayBasedDetector:
    """Groups received packets by send time and feeds the trendline with the delay variation between groups."""

    __slots__ = (
        "_first_arrival",
        "_first_send",
        "_last_arrival",
        "_last_send",
        "_prev_arrival",
        "_prev_send",
        "trendline",
    )

    def __init__(self) -> None:
        self.trendline = Trendline()
        self._first_send: float | None = None  # the group being filled (send times ours in s, arrivals theirs in µs)
        self._last_send = 0.0
        self._first_arrival = 0
        self._last_arrival = 0
        self._prev_send: float | None = None  # the last complete group
        self._prev_arrival = 0

    @property
    def state(self) -> Usage:
        return self.trendline.state

    def add(self, send_time: float, arrival_us: int) -> None:
        """A received packet, in send order."""
        if self._first_send is None:
            self._start(send_time, arrival_us)
            return
        if send_time < self._first_send:
            return  # reordered behind its group: its delay says nothing about the current one
        if self._belongs(send_time, arrival_us):
            self._last_send = max(self._last_send, send_time)
            self._last_arrival = max(self._last_arrival, arrival_us)
            return
        if self._prev_send is not None:
            self._sample(self._last_send - self._prev_send, (self._last_arrival - self._prev_arrival) / 1e6)
        self._prev_send, self._prev_arrival = self._last_send, self._last_arrival
        self._start(send_time, arrival_us)

    def _belongs(self, send_time: float, arrival_us: int) -> bool:
        assert self._first_send is not None
        if send_time - self._first_send <= GROUP_S:
            return True
        arrival_delta = (arrival_us - self._last_arrival) / 1e6
        spread_since_sent = arrival_delta - (send_time - self._last_send)
        return (spread_since_sent < 0 and arrival_delta <= BURST_ARRIVAL_S
                and (arrival_us - self._first_arrival) / 1e6 < MAX_BURST_S)

    def _sample(self, send_delta: float, arrival_delta: float) -> None:
        if arrival_delta - send_delta > CLOCK_JUMP_S or send_delta - arrival_delta > CLOCK_JUMP_S:
            self.trendline = Trendline()  # a receiver clock jump or a long stall: the old curve means nothing now
            return
        if arrival_delta < 0:
            return  # groups reordered on the way: skip rather than read a negative queue
        self.trendline.update(arrival_delta * 1000, send_delta * 1000, self._last_arrival / 1000)

    def _start(self, send_time: float, arrival_us: int) -> None:
        self._first_send = self._last_send = send_time
        self._first_arrival = self._last_arrival = arrival_us

"""The estimator's parts alone: overuse detection, AIMD steps, the acknowledged rate, the loss-based limit."""

from __future__ import annotations

import pytest

from mediaserver.rooms.acked_bitrate import AckedBitrate
from mediaserver.rooms.delay_based import MAX_THRESHOLD, MIN_THRESHOLD, DelayBasedDetector, Usage
from mediaserver.rooms.loss_based import LossBasedControl, LossWindow
from mediaserver.rooms.rate_control import AimdRateControl


def _feed(detector: DelayBasedDetector, count: int, send_gap_s: float, arrival_gap_s: float,
          start: tuple[float, int] = (0.0, 5_000_000)) -> tuple[float, int, list[Usage]]:
    """`count` packets sent `send_gap_s` apart arriving `arrival_gap_s` apart; the states seen on the way."""
    send, arrival = start
    states: list[Usage] = []
    for _ in range(count):
        detector.add(send, arrival)
        states.append(detector.state)
        send += send_gap_s
        arrival += round(arrival_gap_s * 1e6)
    return send, arrival, states


def test_steady_spacing_is_normal_and_a_growing_queue_is_overuse_then_its_draining_underuse() -> None:
    detector = DelayBasedDetector()
    end, arrival, states = _feed(detector, 200, 0.01, 0.01)
    assert set(states) == {"normal"}
    # 5 % more than the link carries: each packet waits 0.5 ms longer than the one before.
    end, arrival, states = _feed(detector, 100, 0.01, 0.0105, (end, arrival))
    assert "overusing" in states[:50]
    _, _, states = _feed(detector, 100, 0.01, 0.009, (end, arrival))
    assert "underusing" in states[:50]


def test_packets_sent_within_5_ms_are_one_group() -> None:
    detector = DelayBasedDetector()
    # Bursts of 4 packets 1 ms apart every 20 ms, the burst's packets spread by the link but the bursts on time:
    # per group the delay does not grow, so no overuse, although packet by packet it would look like one.
    for burst in range(150):
        for k in range(4):
            detector.add(burst * 0.02 + k * 0.001, 1_000_000 + burst * 20_000 + k * 3_000)
        assert detector.state != "overusing"
    assert detector.trendline.trend == pytest.approx(0.0, abs=1e-6)


def test_the_threshold_adapts_within_its_bounds() -> None:
    detector = DelayBasedDetector()
    jitter = [0.0, 0.004, -0.003, 0.006, -0.005]
    send, arrival = 0.0, 0
    for i in range(3000):
        detector.add(send, arrival + round(jitter[i % 5] * 1e6))
        send += 0.01
        arrival += 10_000
        assert MIN_THRESHOLD <= detector.trendline.threshold <= MAX_THRESHOLD


def test_overuse_cuts_to_0_85_of_the_acknowledged_rate_once_per_round_trip() -> None:
    aimd = AimdRateControl(2_000_000, 100_000, 8_000_000)
    aimd.rtt = 0.05
    assert aimd.update("overusing", 1_000_000, 10.0) == pytest.approx(850_000)
    assert aimd.update("overusing", 900_000, 10.02) == pytest.approx(850_000)  # within the round trip
    assert aimd.update("overusing", 900_000, 10.06) == pytest.approx(765_000)
    assert aimd.capacity.estimate_kbps is not None


def test_increase_is_multiplicative_far_from_congestion_and_additive_near_it() -> None:
    far = AimdRateControl(1_000_000, 100_000, 8_000_000)
    far.update("normal", 1_000_000, 0.0)
    assert far.update("normal", 1_000_000, 1.0) == pytest.approx(1_080_000, rel=0.01)
    near = AimdRateControl(1_000_000, 100_000, 8_000_000)
    near.update("overusing", 1_000_000, 0.0)  # a congestion point at 1 Mbit/s: now at 850 kbit/s
    near.update("normal", 850_000, 0.1)
    step = near.update("normal", 850_000, 1.1) - 850_000
    assert 4_000 <= step < 0.08 * 850_000  # about a packet per response time, under the 8 % of far away


def test_increase_stops_at_1_5_x_acknowledged_plus_100_kbit() -> None:
    aimd = AimdRateControl(1_000_000, 100_000, 8_000_000)
    now = 0.0
    for _ in range(100):
        now += 0.1
        aimd.update("normal", 200_000, now)
    assert aimd.bitrate == pytest.approx(1_000_000)  # already above 400 kbit/s: no lower, no higher
    aimd = AimdRateControl(200_000, 100_000, 8_000_000)
    for _ in range(200):
        now += 0.1
        aimd.update("normal", 200_000, now)
    assert aimd.bitrate == pytest.approx(400_000)


def test_the_acknowledged_rate_is_bytes_over_arrival_time_on_the_receivers_clock() -> None:
    acked = AckedBitrate()
    assert acked.bps() is None
    for i in range(200):  # 1200 bytes every 8 ms: 1.2 Mbit/s
        acked.add(77_000_000 + i * 8_000, 1200)
    assert acked.bps() == pytest.approx(1_200_000, rel=0.001)
    acked.add(77_000_000, 1200)  # a late report of a long-gone arrival changes nothing
    assert acked.bps() == pytest.approx(1_200_000, rel=0.001)


def test_loss_based_control_cuts_above_10_percent_holds_between_and_follows_below_2() -> None:
    control = LossBasedControl(1_000_000, 100_000)
    assert control.update(0.2, 1_000_000, 0.0) == pytest.approx(900_000)
    assert control.update(0.2, 1_000_000, 0.1) == pytest.approx(900_000)  # one cut per 300 ms
    assert control.update(0.2, 1_000_000, 0.3) == pytest.approx(810_000)
    assert control.update(0.05, 2_000_000, 0.4) == pytest.approx(810_000)
    assert control.update(0.01, 2_000_000, 0.5) == pytest.approx(2_000_000)
    assert control.update(None, 1_500_000, 0.6) == pytest.approx(1_500_000)  # too few packets: no verdict


def test_the_loss_window_is_a_second_and_reaches_back_for_20_packets() -> None:
    window = LossWindow()
    window.add(0.0, 90, 10)
    window.add(0.5, 100, 0)
    assert window.fraction(0.5) == pytest.approx(10 / 200)
    assert window.fraction(1.2) == pytest.approx(0.0)  # the lossy feedback is more than a second old
    sparse = LossWindow()
    sparse.add(0.0, 15, 5)
    sparse.add(2.0, 4, 0)
    assert sparse.fraction(2.0) == pytest.approx(5 / 24)  # 4 packets are no sample: the older ones stay
    assert sparse.fraction(6.0) == pytest.approx(0.0)  # but not beyond 5 s

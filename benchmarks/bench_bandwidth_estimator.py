"""pytest-benchmark cases for the send-side bandwidth estimator: `sent` per packet, `on_feedback` per TWCC report."""

from typing import Any

from mediaserver.rooms.bandwidth_estimator import BandwidthEstimator


def test_bwe_sent(benchmark: Any) -> None:
    """Runs for every packet to every subscriber: ~1000/s each, 20 subscribers."""
    est = BandwidthEstimator()
    benchmark(est.sent, 1200, 12.5)
    assert est.packets_sent > 0


def test_bwe_feedback_100_packets(benchmark: Any) -> None:
    """One feedback of 100 packets (100 ms at ~1000 packets/s), 2 of them lost."""
    est = BandwidthEstimator()
    clock = [0.0]

    def setup() -> tuple[tuple[list[tuple[int, int | None]], float], dict[str, Any]]:
        start = clock[0]
        arrivals: list[tuple[int, int | None]] = []
        for i in range(100):
            seq = est.sent(1200, start + i * 0.001)
            arrivals.append((seq, None if i in (30, 70) else round((start + i * 0.001 + 0.02) * 1e6)))
        clock[0] = start + 0.1
        return (arrivals, start + 0.13), {}

    benchmark.pedantic(est.on_feedback, setup=setup, rounds=2000, iterations=1)
    assert est.feedbacks >= 1 and est.loss == 0.02  # every round was taken in (one, with --benchmark-disable)

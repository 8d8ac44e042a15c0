"""The TWCC bandwidth estimator on a simulated link (bottleneck, drop-tail queue, loss), and its bookkeeping."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rooms.bandwidth_estimator import BandwidthEstimator

from .bwe_link import Link, Sample, Sim

C_LOW = 600_000


def _settled_after(samples: list[Sample], low: float, high: float) -> float:
    """The time from which every sample stays within [low, high] (the last excursion's end)."""
    outside = [s.t for s in samples if not low <= s.estimate_bps <= high]
    return max(outside, default=0.0)


def _queue_loss(samples: list[Sample]) -> float:
    first, last = samples[0], samples[-1]
    return (last.queue_drops - first.queue_drops) / max(last.sent - first.sent, 1)


def _settle_under_600k() -> Sim:
    sim = Sim(BandwidthEstimator(initial_bps=1_000_000), Link(C_LOW))
    sim.run(40)
    return sim


def test_a_600_kbit_bottleneck_under_a_2_5_mbit_source_settles_under_its_capacity_within_10_s() -> None:
    sim = _settle_under_600k()
    # AIMD is a sawtooth: 0.85 x acknowledged after each overuse, then up until the queue shows again, which
    # takes a few per cent above capacity for a few hundred ms. Every sample stays within [0.6 C, 1.1 C] once
    # settled, and the level it settles at (the mean) is under C.
    settled = _settled_after(sim.samples, 0.6 * C_LOW, 1.1 * C_LOW)
    assert settled <= 10.0
    after = [s for s in sim.samples if s.t > settled]
    mean = sum(s.estimate_bps for s in after) / len(after)
    assert 0.6 * C_LOW <= mean <= 1.0 * C_LOW
    assert sum(s.estimate_bps > C_LOW for s in after) / len(after) < 0.4  # over C only on the sawtooth's tip
    assert _queue_loss(after) < 0.02
    assert sim.estimator.stats()["link_capacity_bps"] is not None  # it did find the congestion point


def test_when_the_bottleneck_rises_to_5_mbit_probes_take_the_estimate_past_2_mbit_within_15_s() -> None:
    sim = _settle_under_600k()
    before = sim.estimator.estimate_bps
    sim.link.capacity_bps = 5_000_000
    sim.probe_every_s = 2.0  # the caller pads to 2 x the estimate for 0.6 s in every 2 s while it wants more
    sim.run(40 + 15)
    reached = [s.t for s in sim.samples if s.t > 40 and s.estimate_bps >= 2_000_000]
    assert reached and reached[0] - 40 <= 15.0
    assert before < 0.7 * 2_000_000
    assert sim.estimator.probes_adopted >= 1  # the climb was the probes', 8 %/s alone takes ~17 s


def test_without_probes_the_estimate_climbs_only_at_the_multiplicative_rate() -> None:
    sim = _settle_under_600k()
    sim.link.capacity_bps = 5_000_000
    sim.run(40 + 5)
    assert sim.estimator.probes_adopted == 0
    assert sim.estimator.estimate_bps < 1.5 * 1.08**5 * C_LOW


def _uncapped(loss: float, seed: int, seconds: float = 20.0, source_bps: float = 2_500_000) -> Sim:
    sim = Sim(BandwidthEstimator(initial_bps=1_000_000), Link(100_000_000, loss=loss, seed=seed),
              source_bps=source_bps)
    sim.run(seconds)
    return sim


def test_5_percent_random_loss_holds_the_estimate_instead_of_collapsing_it() -> None:
    for seed in (1, 2, 3):
        sim = _uncapped(0.05, seed)
        assert all(s.delay_state != "overusing" for s in sim.samples)  # loss alone is no queue
        assert min(s.estimate_bps for s in sim.samples) >= 700_000  # a noisy second above 10 % may cut a little
        assert sim.estimator.estimate_bps < 1_500_000  # held: without loss it climbs (next test)
        mean_loss = sum(s.loss for s in sim.samples) / len(sim.samples)
        assert 0.03 <= mean_loss <= 0.07


def test_a_clean_uncapped_link_climbs_to_the_source_but_not_past_1_5_x_what_is_acknowledged() -> None:
    sim = _uncapped(0.0, 1, seconds=30)
    assert sim.estimator.estimate_bps >= 2_500_000
    assert max(s.estimate_bps for s in sim.samples) <= 1.5 * 2_500_000 + 100_000 + 10_000


def test_an_app_limited_sender_does_not_run_the_estimate_away() -> None:
    sim = Sim(BandwidthEstimator(initial_bps=200_000), Link(100_000_000), source_bps=300_000)
    sim.run(30)
    assert sim.estimator.estimate_bps >= 300_000
    assert max(s.estimate_bps for s in sim.samples) <= 1.5 * 300_000 + 100_000 + 10_000


def test_15_percent_random_loss_brings_the_estimate_down() -> None:
    sim = _uncapped(0.15, 1)
    assert all(s.delay_state != "overusing" for s in sim.samples)
    assert sim.estimator.estimate_bps <= 300_000
    at_5s = next(s.estimate_bps for s in sim.samples if s.t >= 5)
    assert at_5s < 0.8 * 1_000_000


# Bookkeeping, with hand-made feedback: packets every 10 ms, arriving 20 ms later on a clock of the receiver's.

RX_OFFSET_US = 987_654_321


def _send(est: BandwidthEstimator, count: int, start: float = 0.0) -> list[tuple[int, float]]:
    return [(est.sent(1200, start + i * 0.01), start + i * 0.01) for i in range(count)]


def _arrival(sent_at: float) -> int:
    return RX_OFFSET_US + round((sent_at + 0.02) * 1e6)


def test_sequence_numbers_wrap_at_65536_and_feedback_across_the_wrap_counts() -> None:
    est = BandwidthEstimator(initial_bps=1_000_000)
    packets = 70_000
    batch = 10
    now = 0.0
    for start in range(0, packets, batch):
        sent = [(est.sent(1200, (start + i) * 0.0096), (start + i) * 0.0096) for i in range(batch)]
        now = sent[-1][1] + 0.03
        est.on_feedback([(seq, _arrival(at)) for seq, at in sent], now)
        if start == 65_530:
            assert [seq for seq, _ in sent] == [65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3]
    assert est.feedbacks == packets // batch  # none ignored after the wrap
    assert est.loss == 0.0
    assert abs(est.acked_bps - 1_000_000) < 20_000
    assert est.stats()["delay_state"] == "normal"


def test_a_packet_reported_twice_or_lost_then_received_is_counted_once() -> None:
    est = BandwidthEstimator()
    sent = _send(est, 60)
    first = [(seq, None if 10 <= i < 15 else _arrival(at)) for i, (seq, at) in enumerate(sent[:50])]
    est.on_feedback(first, 0.6)
    assert est.loss == 5 / 50
    before = est.stats()
    est.on_feedback(first, 0.7)  # the same feedback again
    est.on_feedback(first[10:15], 0.7)  # the losses again
    assert est.stats() == before
    late = [(seq, _arrival(at) + 80_000) for seq, at in sent[10:15]]  # they did arrive, later
    rest = [(seq, _arrival(at)) for seq, at in sent[50:60]]
    est.on_feedback(late + rest, 0.8)
    assert est.loss == 0.0  # 60 packets, none lost: the five late ones are no longer losses, nor counted twice
    assert est.feedbacks == 2


def test_unknown_sequence_numbers_and_empty_feedback_change_nothing() -> None:
    est = BandwidthEstimator()
    est.on_feedback([(0, 1000), (1, None)], 0.0)  # nothing sent yet
    assert est.feedbacks == 0
    sent = _send(est, 20)
    est.on_feedback([(seq, _arrival(at)) for seq, at in sent[:10]], 0.3)
    before = est.stats()
    newest = sent[-1][0]
    bogus: list[tuple[int, int | None]] = [
        (newest + 1, 5), (newest + 500, None),  # never sent (ahead of the newest)
        (65535, 7), (40_000, None),  # far behind: before the first packet
        (15 + 65536, 3), (15 - 65536, None), (15 + (1 << 40), 3),  # not 16-bit numbers (15 + k x 65536)
    ]
    est.on_feedback(bogus, 0.4)
    est.on_feedback([], 0.5)
    assert est.stats() == before


def test_numbers_older_than_the_history_are_ignored() -> None:
    est = BandwidthEstimator()
    sent = _send(est, 9000)  # the ring holds 8192
    est.on_feedback([(seq, _arrival(at)) for seq, at in sent[:100]], 90.1)
    assert est.feedbacks == 0
    est.on_feedback([(seq, _arrival(at)) for seq, at in sent[-100:]], 90.1)
    assert est.feedbacks == 1


def test_after_more_than_a_second_without_feedback_the_estimate_holds() -> None:
    est = BandwidthEstimator(initial_bps=500_000, max_bps=8_000_000)
    t = 0.0
    for _ in range(30):  # 3 s of clean feedback: the estimate increases
        sent = _send(est, 10, t)
        t += 0.1
        est.on_feedback([(seq, _arrival(at)) for seq, at in sent], t + 0.02)
    assert est.stats()["rate_control"] == "increase"
    before = est.estimate_bps
    sent = _send(est, 10, t + 5.0)  # 5 s later: nothing heard meanwhile
    est.on_feedback([(seq, _arrival(at)) for seq, at in sent], t + 5.12)
    assert est.estimate_bps <= before * 1.01  # no step owed for the silence (an 8 % one otherwise)


def test_stats_name_the_estimate_and_the_detector_state() -> None:
    est = BandwidthEstimator()
    stats = est.stats()
    assert stats["estimate_bps"] == 1_000_000
    assert {"acked_bps", "loss", "delay_state", "trend", "threshold", "delay_based_bps", "loss_based_bps"} <= set(stats)


# Whatever feedback comes, the estimate stays within its bounds and nothing raises.

# Each entry is a raw number (anything, mostly unknown) or, when flagged, one of the last 200 sent.
_entry = st.tuples(st.integers(min_value=-5, max_value=70_000), st.booleans(),
                   st.one_of(st.none(), st.integers(min_value=-(1 << 40), max_value=1 << 40)))
_step = st.tuples(st.integers(min_value=0, max_value=60), st.floats(min_value=0, max_value=3),
                  st.lists(_entry, max_size=40))


@settings(max_examples=150, deadline=None)
@given(
    bounds=st.tuples(st.integers(1, 2_000_000), st.integers(0, 2_000_000), st.integers(0, 10_000_000)),
    steps=st.lists(_step, max_size=30),
)
def test_no_feedback_takes_the_estimate_out_of_its_bounds(
    bounds: tuple[int, int, int], steps: list[tuple[int, float, list[tuple[int, bool, int | None]]]]
) -> None:
    low, span, initial = bounds
    est = BandwidthEstimator(initial_bps=initial, min_bps=low, max_bps=low + span)
    now = 0.0
    for sends, gap, entries in steps:
        for _ in range(sends):
            est.sent(1200, now)
            now += 0.001
        now += gap
        newest = est.packets_sent - 1
        est.on_feedback([((newest - n % 200) & 0xFFFF if recent else n, at) for n, recent, at in entries], now)
        assert low <= est.estimate_bps <= low + span
        assert 0.0 <= est.loss <= 1.0
        assert est.acked_bps >= 0
    est.stats()

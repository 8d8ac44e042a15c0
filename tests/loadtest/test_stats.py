"""The load generator's arithmetic: percentiles, the latency histogram, CPU/RSS accounting, loss counting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.loadtest.cpu_probe import CpuProbe, summarize
from benchmarks.loadtest.receiver import TrackReceiver
from benchmarks.loadtest.stats import (
    CLOCK_TICKS,
    CpuSample,
    LatencyHistogram,
    MachineSample,
    cpu_percent,
    cpu_us_per_packet,
    delivery_ratio,
    machine_percent,
    parse_machine_stat,
    parse_proc_stat,
    parse_status_rss,
    percentile,
    relative_spread,
)

# A real /proc/PID/stat line whose command name contains spaces and a parenthesis.
PROC_STAT = (
    "4242 (python -m x) y) S 1 4242 4242 0 -1 4194304 2846 6535 0 0 1234 567 2 1 20 0 1 0 180735 16973824 3350 "
    "18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 0 0 0"
)


def test_percentile_interpolates_like_numpy() -> None:
    values = [7.0, 1.0, 3.0, 10.0, 2.0]
    for q in (0, 25, 50, 90, 95, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_histogram_percentiles_are_upper_bin_edges() -> None:
    hist = LatencyHistogram(bin_us=10, max_us=10_000)
    hist.add_many(np.arange(1, 1001) * 10 - 5)  # 5, 15, ..., 9995 us: one sample per bin
    assert hist.total == 1000
    assert hist.percentile_us(50) == 5000  # the 500th sample (4995 us) is in the bin ending at 5000
    assert hist.percentile_us(99) == 9900
    assert hist.percentile_us(100) == 10_000
    assert hist.percentiles_ms((50, 99)) == {"p50": 5.0, "p99": 9.9}
    assert hist.mean_ms == pytest.approx(5.0, abs=0.001)


def test_histogram_clips_outliers_and_negative_noise_and_merges() -> None:
    hist = LatencyHistogram(bin_us=10, max_us=1000)
    hist.add_many([-3, 0, 50, 5_000_000])
    assert hist.total == 4
    assert hist.max_seen_us == 5_000_000
    assert hist.percentile_us(100) == 1000  # "at least the range", never an invented larger value
    assert hist.percentile_us(25) == 10  # -3 us of clock noise counts as 0
    other = LatencyHistogram(bin_us=10, max_us=1000)
    other.add_many([50, 50])
    hist.merge(other)
    assert hist.total == 6 and hist.percentile_us(50) == 60
    with pytest.raises(ValueError):
        hist.merge(LatencyHistogram(bin_us=5, max_us=1000))
    empty = LatencyHistogram()
    assert math.isnan(empty.percentile_us(50)) and empty.percentiles_ms((99,)) == {"p99": None}


def test_proc_stat_and_status_parsing() -> None:
    assert parse_proc_stat(PROC_STAT) == (1234, 567)
    assert parse_status_rss("Name:\tpython\nVmPeak:\t 9999 kB\nVmRSS:\t  204800 kB\n") == 200 * 1024 * 1024
    with pytest.raises(ValueError):
        parse_status_rss("Name:\tzombie\n")


def test_cpu_accounting_per_core_and_per_packet() -> None:
    start = CpuSample(wall_s=100.0, cpu_ticks=1000, rss_bytes=0)
    end = CpuSample(wall_s=110.0, cpu_ticks=1000 + 5 * CLOCK_TICKS, rss_bytes=0)  # 5 CPU seconds in 10 s
    assert cpu_percent(start, end) == pytest.approx(50.0)
    assert cpu_us_per_packet(start, end, 500_000) == pytest.approx(10.0)  # 5 s / 500k packets
    assert cpu_us_per_packet(start, end, 0) is None
    two_cores = CpuSample(wall_s=110.0, cpu_ticks=1000 + 20 * CLOCK_TICKS, rss_bytes=0)
    assert cpu_percent(start, two_cores) == pytest.approx(200.0)
    with pytest.raises(ValueError):
        cpu_percent(end, start)


def test_machine_cpu_from_proc_stat() -> None:
    first = parse_machine_stat("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3\n")
    assert first == MachineSample(busy=200, total=1000, steal=0)
    second = parse_machine_stat("cpu  400 0 200 1100 100 0 0 200 50 0\n")
    busy, steal = machine_percent(first, second, cores=2)
    # 1000 ticks passed: 300 user + 100 system busy, 200 stolen by the hypervisor.
    assert busy == pytest.approx(80.0) and steal == pytest.approx(40.0)


def test_delivery_ratio_and_spread() -> None:
    assert delivery_ratio(999, 1000) == pytest.approx(0.999)
    assert delivery_ratio(1001, 1000) == 1.0
    assert delivery_ratio(0, 0) is None
    assert relative_spread([10.0, 11.0, 9.0]) == pytest.approx(0.1)
    assert relative_spread([]) is None


def test_track_counts_loss_wrap_retransmission_and_duplicates() -> None:
    track = TrackReceiver(ssrc=1, kind="video", mid="1", publisher_id="p", track_id="t")
    assert track.update(65533) is None
    assert track.update(65534) is None
    assert track.update(1) == [65535, 0]  # two lost across the wrap: NACK them
    assert track.expected == 5 and track.received == 3
    assert track.update(0) is None  # a retransmission fills a hole
    assert track.received == 4 and track.recovered == 1
    assert track.update(0) is None and track.duplicates == 1  # the same packet again is not a delivery
    assert track.update(1) is None and track.duplicates == 2
    block = track.report_block(now=0.0)
    assert block is not None
    assert block.packets_lost == 1 and block.highest_seq == 0x10001
    assert block.fraction_lost == (1 << 8) // 5


def test_track_treats_a_far_jump_as_lost_packets_not_as_late_ones() -> None:
    # A forwarder that withholds 32768 packets and resumes: RFC 3550 A.1 would restart; we count them as lost.
    track = TrackReceiver(ssrc=1, kind="audio", mid="0", publisher_id="p", track_id="t")
    track.update(100)
    track.update(101)
    assert track.update((101 + 0x8001) & 0xFFFF) is None  # no NACK storm for the jump
    assert track.jumps == 1 and track.duplicates == 0
    assert track.expected == 0x8001 + 2 and track.received == 3
    track.update((101 + 0x8001 - 5) & 0xFFFF)  # a genuinely late packet, within the reorder window
    assert track.duplicates == 1 and track.jumps == 1


def test_cpu_probe_counts_units_far_above_their_median() -> None:
    assert summarize([0.001] * 5) is None  # too few units to judge
    durations = [0.001] * 95 + [0.0039, 0.004, 0.010, 0.020, 0.002]
    block = summarize(durations)
    assert block is not None
    assert block["units"] == 100 and block["median_unit_ms"] == 1.0
    assert block["slow_units_share"] == 0.03  # 4, 10 and 20 ms are >= 4x; 3.9 and 2 ms are not
    assert block["slow_time_share"] == round(0.034 / sum(durations), 4)
    assert block["worst_ratio"] == 20.0


def test_cpu_probe_process_reports_a_summary() -> None:
    probe = CpuProbe(0.3)
    probe.start()
    block = probe.stop()
    assert block is not None and block["units"] >= 10 and 0 <= block["slow_units_share"] <= 1

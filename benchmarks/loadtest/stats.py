"""Load-test statistics: percentiles, a bounded latency histogram, and process CPU/RSS accounting from /proc."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of unsorted values; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


class LatencyHistogram:
    """Latencies in fixed-width microsecond bins: memory stays bounded however long a run lasts.

    Values at or beyond `max_us` land in the last bin, so a percentile that falls there reads as
    "at least max_us" rather than being lost. Negative values (clock noise) count as 0.
    """

    def __init__(self, bin_us: int = 10, max_us: int = 2_000_000) -> None:
        if bin_us <= 0 or max_us <= bin_us:
            raise ValueError("need 0 < bin_us < max_us")
        self.bin_us = bin_us
        self.max_us = max_us
        self.counts = np.zeros(max_us // bin_us + 1, dtype=np.int64)
        self.total = 0
        self.sum_us = 0.0
        self.max_seen_us = 0

    def add_many(self, latencies_us: Iterable[int] | np.ndarray) -> None:
        values = np.asarray(latencies_us if isinstance(latencies_us, np.ndarray) else list(latencies_us),
                            dtype=np.int64)
        if values.size == 0:
            return
        clipped = np.clip(values, 0, self.max_us)
        self.counts += np.bincount(clipped // self.bin_us, minlength=self.counts.size)[: self.counts.size]
        self.total += int(values.size)
        self.sum_us += float(clipped.sum())
        self.max_seen_us = max(self.max_seen_us, int(values.max()))

    def merge(self, other: LatencyHistogram) -> None:
        if (other.bin_us, other.max_us) != (self.bin_us, self.max_us):
            raise ValueError("histograms with different bins cannot be merged")
        self.counts += other.counts
        self.total += other.total
        self.sum_us += other.sum_us
        self.max_seen_us = max(self.max_seen_us, other.max_seen_us)

    def percentile_us(self, q: float) -> float:
        """The upper edge of the bin holding the q-th percentile (never under-reports); NaN when empty."""
        if not 0 <= q <= 100:
            raise ValueError(f"percentile {q} is outside 0..100")
        if self.total == 0:
            return math.nan
        # Nearest rank: the smallest bin whose cumulative count reaches q% of the samples.
        rank = max(1, math.ceil(self.total * q / 100))
        index = int(np.searchsorted(np.cumsum(self.counts), rank))
        return float(min((index + 1) * self.bin_us, self.max_us))

    def percentiles_ms(self, qs: Sequence[float] = (50, 95, 99)) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for q in qs:
            value = self.percentile_us(q)
            out[f"p{q:g}"] = None if math.isnan(value) else round(value / 1000, 3)
        return out

    @property
    def mean_ms(self) -> float | None:
        return None if self.total == 0 else round(self.sum_us / self.total / 1000, 3)


@dataclass(frozen=True)
class CpuSample:
    """A process's accumulated CPU time (user + system, all threads) at one wall-clock instant."""

    wall_s: float
    cpu_ticks: int
    rss_bytes: int

    @property
    def cpu_s(self) -> float:
        return self.cpu_ticks / CLOCK_TICKS


def parse_proc_stat(text: str) -> tuple[int, int]:
    """(utime, stime) in clock ticks from the text of /proc/PID/stat; the command name may hold spaces."""
    fields = text.rsplit(")", 1)[1].split()
    # Fields after the name start at "state" (field 3); utime and stime are fields 14 and 15.
    return int(fields[11]), int(fields[12])


def parse_status_rss(text: str) -> int:
    """Resident set size in bytes from the text of /proc/PID/status (VmRSS is in kB)."""
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError("no VmRSS line (the process may be a zombie)")


def read_process(pid: int, wall_s: float) -> CpuSample:
    """Sample a process's CPU ticks and RSS from /proc; raises OSError when it has gone."""
    utime, stime = parse_proc_stat(Path(f"/proc/{pid}/stat").read_text())
    rss = parse_status_rss(Path(f"/proc/{pid}/status").read_text())
    return CpuSample(wall_s, utime + stime, rss)


def read_process_tree(pids: Sequence[int], wall_s: float) -> CpuSample:
    """The summed sample of several processes (a server made of a parent and workers)."""
    samples = [read_process(pid, wall_s) for pid in pids]
    return CpuSample(wall_s, sum(s.cpu_ticks for s in samples), sum(s.rss_bytes for s in samples))


@dataclass(frozen=True)
class MachineSample:
    """Whole-machine CPU time from the first line of /proc/stat, in clock ticks summed over cores."""

    busy: int
    total: int
    steal: int


def parse_machine_stat(text: str) -> MachineSample:
    """The aggregate `cpu` line: user nice system idle iowait irq softirq steal ...; idle and iowait are not busy."""
    fields = [int(v) for v in text.splitlines()[0].split()[1:]]
    total = sum(fields[:8])  # guest time is already counted in user
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    steal = fields[7] if len(fields) > 7 else 0
    return MachineSample(busy=total - idle - steal, total=total, steal=steal)


def read_machine() -> MachineSample:
    return parse_machine_stat(Path("/proc/stat").read_text())


def machine_percent(start: MachineSample, end: MachineSample, cores: int) -> tuple[float, float]:
    """(busy, steal) between two samples, in % of one core like cpu_percent (so 200 = two cores busy)."""
    total = end.total - start.total
    if total <= 0:
        return 0.0, 0.0
    return (100.0 * cores * (end.busy - start.busy) / total, 100.0 * cores * (end.steal - start.steal) / total)


def cpu_percent(start: CpuSample, end: CpuSample) -> float:
    """CPU used between two samples as a percentage of one core (200 means two cores busy)."""
    wall = end.wall_s - start.wall_s
    if wall <= 0:
        raise ValueError("the end sample must be later than the start sample")
    return 100.0 * (end.cpu_s - start.cpu_s) / wall


def cpu_us_per_packet(start: CpuSample, end: CpuSample, packets: int) -> float | None:
    """CPU microseconds spent per packet between two samples; None when no packet was counted."""
    if packets <= 0:
        return None
    return (end.cpu_s - start.cpu_s) * 1e6 / packets


def delivery_ratio(received: int, expected: int) -> float | None:
    """Share of expected packets that arrived, capped at 1 (duplicates are not deliveries); None if none expected."""
    if expected <= 0:
        return None
    return min(received / expected, 1.0)


def relative_spread(values: Sequence[float]) -> float | None:
    """Largest deviation from the median as a share of the median: the 'flat within ±x %' figure."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return None
    middle = percentile(clean, 50)
    if middle == 0:
        return None
    return max(abs(v - middle) for v in clean) / middle

"""A low-duty CPU probe beside the run: how often the machine itself ran our code many times slower than usual.

On a shared VM the host can run a vCPU at a fraction of its speed for milliseconds at a time, and a guest
without steal accounting sees it as ordinary CPU time. A single event loop falls behind in such a window and
every packet queued meanwhile arrives late, so latency percentiles mean little without this figure. The probe
runs a fixed piece of work every 10 ms (about 2-3 % of a core) in its own process, and counts the units that
took several times their median.

Run alone: `python -m benchmarks.loadtest.cpu_probe --duration 10`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

PERIOD_S = 0.01
SLOW_FACTOR = 4.0
_WORK = 3000


def _unit() -> int:
    total = 0
    for i in range(_WORK):
        total += i * i
    return total


def measure(duration: float) -> list[float]:
    """Seconds each unit took, one unit per PERIOD_S, for `duration` seconds."""
    durations: list[float] = []
    end = time.monotonic() + duration
    while time.monotonic() < end:
        time.sleep(PERIOD_S)
        start = time.perf_counter()
        _unit()
        durations.append(time.perf_counter() - start)
    return durations


def summarize(durations: list[float]) -> dict[str, Any] | None:
    """Share of units (and of probe time) at SLOW_FACTOR x the median or worse, and the worst ratio."""
    if len(durations) < 10:
        return None
    median = statistics.median(durations)
    slow = [d for d in durations if d >= SLOW_FACTOR * median]
    return {
        "units": len(durations),
        "median_unit_ms": round(median * 1000, 3),
        "slow_units_share": round(len(slow) / len(durations), 4),
        "slow_time_share": round(sum(slow) / sum(durations), 4),
        "worst_ratio": round(max(durations) / median, 1),
        "slow_factor": SLOW_FACTOR,
    }


class CpuProbe:
    """The probe as a child process for one measured window: `start()`, then `stop()` returns its summary."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.loadtest.cpu_probe", "--duration", f"{self.duration:g}"],
            stdout=subprocess.PIPE, text=True,
        )

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self, timeout: float = 10.0) -> dict[str, Any] | None:
        if self._process is None:
            return None
        try:
            out, _ = self._process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            return None
        try:
            result = json.loads(out)
        except ValueError:
            return None
        return result if isinstance(result, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    print(json.dumps(summarize(measure(args.duration))))
    return 0


if __name__ == "__main__":
    sys.exit(main())

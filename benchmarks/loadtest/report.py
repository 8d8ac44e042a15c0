"""The load test's results: totals over bots, the JSON report, the live progress line and the PNG plot."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .receiver import TrackReceiver
from .sender import StreamSender
from .stats import LatencyHistogram, delivery_ratio

# Every report carries at least these keys at the top level (checked by the CI test).
REQUIRED_FIELDS = (
    "participants", "duration_s", "tracks_expected", "tracks_receiving", "packets_sent", "packets_forwarded",
    "packets_received", "delivery_ratio", "latency_ms", "server_cpu_percent", "server_cpu_us_per_forwarded_packet",
    "server_rss_mb", "layer_switches", "target",
)  # fmt: skip
RECEIVING_WINDOW_NS = 2_000_000_000


class HasMedia(Protocol):
    """What the report reads from a bot's media side."""

    @property
    def senders(self) -> list[StreamSender]: ...

    @property
    def tracks(self) -> Iterable[TrackReceiver]: ...

    @property
    def index(self) -> int: ...


@dataclass
class Totals:
    """Counters summed over every bot at one instant."""

    packets_sent: int = 0
    packets_received: int = 0
    expected: int = 0
    received: int = 0
    nacked: int = 0
    recovered: int = 0
    duplicates: int = 0
    stream_changes: int = 0
    misrouted: int = 0
    keyframe_requests: int = 0
    late_skips: int = 0
    tracks: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (bot, ssrc) -> (exp, recv)


def totals(bots: Sequence[HasMedia]) -> Totals:
    out = Totals()
    for bot in bots:
        for sender in bot.senders:
            out.packets_sent += sender.packets_sent
            out.keyframe_requests += sender.keyframe_requests
            out.late_skips += sender.late_skips
        for track in bot.tracks:
            expected = track.expected
            out.expected += expected
            out.received += track.received
            out.packets_received += track.received + track.duplicates
            out.nacked += track.nacked
            out.recovered += track.recovered
            out.duplicates += track.duplicates
            out.stream_changes += track.stream_changes
            out.misrouted += track.misrouted
            out.tracks[(bot.index, track.ssrc)] = (expected, track.received)
    return out


def tracks_receiving(bots: Sequence[HasMedia], now_ns: int) -> int:
    return sum(1 for bot in bots for t in bot.tracks if now_ns - t.last_arrival_ns < RECEIVING_WINDOW_NS)


def track_rows(bots: Sequence[HasMedia], start: Totals, end: Totals) -> list[dict[str, Any]]:
    """Per subscription over the measurement window: who sent it, the layer now, delivery."""
    rows = []
    for bot in bots:
        for track in bot.tracks:
            key = (bot.index, track.ssrc)
            exp1, rec1 = end.tracks.get(key, (0, 0))
            exp0, rec0 = start.tracks.get(key, (0, 0))
            expected, received = exp1 - exp0, rec1 - rec0
            ratio = delivery_ratio(received, expected)
            rows.append({
                "subscriber_bot": bot.index, "publisher_bot": track.publisher_bot, "kind": track.kind,
                "ssrc": track.ssrc, "layer": track.layer, "expected": expected, "received": received,
                "delivery_ratio": None if ratio is None else round(ratio, 6), "nacked": track.nacked,
                "layer_changes": track.stream_changes,
            })
    return rows


@dataclass
class Sample:
    """One second of the run, for the progress line and the plot."""

    t: float
    sent_pps: float
    received_pps: float
    server_cpu_percent: float | None
    server_rss_mb: float | None
    loadgen_cpu_percent: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    tracks_receiving: int
    measuring: bool


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}{unit}"


def progress_line(sample: Sample, tracks_expected: int, window: tuple[float, float], delivery: float | None,
                  us_per_packet: float | None) -> str:
    elapsed, total = window
    phase = f"{elapsed:4.0f}/{total:.0f}s" if sample.measuring else "warm-up"
    return (
        f"[{phase}] tracks {sample.tracks_receiving}/{tracks_expected} | sent {sample.sent_pps / 1000:.1f}k pps"
        f" | recv {sample.received_pps / 1000:.1f}k pps"
        f" | delivery {fmt(None if delivery is None else delivery * 100, 2)}%"
        f" | latency p50 {fmt(sample.latency_p50_ms, 2)} p99 {fmt(sample.latency_p99_ms, 2)} ms"
        f" | server {fmt(sample.server_cpu_percent, 0)}% {fmt(us_per_packet, 1)} us/pkt"
        f" rss {fmt(sample.server_rss_mb, 0)} MB | loadgen {fmt(sample.loadgen_cpu_percent, 0)}%"
    )


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "system": platform.platform(terse=True)}


def latency_block(histogram: LatencyHistogram) -> dict[str, Any]:
    block: dict[str, Any] = dict(histogram.percentiles_ms((50, 95, 99)))
    block["p99.9"] = histogram.percentiles_ms((99.9,))["p99.9"]
    block["mean"] = histogram.mean_ms
    block["max"] = round(histogram.max_seen_us / 1000, 3) if histogram.total else None
    block["samples"] = histogram.total
    return block


def samples_table(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    return [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(s).items()} for s in samples]


def write_plot(path: Path, samples: Sequence[Sample], title: str) -> None:
    """pps, CPU and latency over time, one panel each; the measured window is shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.t for s in samples]
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    ax_pps, ax_cpu, ax_lat = axes
    ax_pps.plot(t, [s.sent_pps for s in samples], label="sent by bots")
    ax_pps.plot(t, [s.received_pps for s in samples], label="received by bots")
    ax_pps.set_ylabel("packets/s")
    ax_cpu.plot(t, [math.nan if s.server_cpu_percent is None else s.server_cpu_percent for s in samples],
                label="server under test")
    ax_cpu.plot(t, [math.nan if s.loadgen_cpu_percent is None else s.loadgen_cpu_percent for s in samples],
                label="load generator", alpha=0.6)
    ax_cpu.set_ylabel("CPU, % of one core")
    ax_lat.plot(t, [math.nan if s.latency_p50_ms is None else s.latency_p50_ms for s in samples], label="p50")
    ax_lat.plot(t, [math.nan if s.latency_p99_ms is None else s.latency_p99_ms for s in samples], label="p99")
    ax_lat.set_ylabel("added one-way latency, ms")
    ax_lat.set_xlabel("seconds since every bot had joined")
    measured = [s.t for s in samples if s.measuring]
    for ax in axes:
        if measured:
            ax.axvspan(min(measured) - 1, max(measured), color="0.92", zorder=0)
        ax.legend(loc="upper left")
        ax.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

"""The load test's results: totals over bots, the JSON report, the live progress line and the PNG plot."""

from __future__ import annotations

import math
import os
import platform
import subprocess
import sys
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
    "packets_received", "transport_feedback_sent", "delivery_ratio", "latency_ms", "server_cpu_percent",
    "server_cpu_us_per_forwarded_packet", "server_rss_mb", "layer_switches", "target",
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

    def problems(self) -> dict[str, int]: ...

    @property
    def feedback_sent(self) -> int: ...


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
    jumps: int = 0
    feedback_sent: int = 0  # transport-cc feedback packets the bots sent, as browsers do
    tracks: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (bot, ssrc) -> (exp, recv)


def totals(bots: Sequence[HasMedia]) -> Totals:
    out = Totals()
    for bot in bots:
        out.feedback_sent += bot.feedback_sent
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
            out.jumps += track.jumps
            out.tracks[(bot.index, track.ssrc)] = (expected, track.received)
    return out


def bot_problems(bots: Sequence[HasMedia]) -> dict[str, int]:
    out: dict[str, int] = {}
    for bot in bots:
        for key, value in bot.problems().items():
            out[key] = out.get(key, 0) + value
    return out


STALL_NS = 1_000_000_000


def reset_stalls(bots: Sequence[HasMedia]) -> None:
    for bot in bots:
        for track in bot.tracks:
            track.max_gap_ns = 0


def stalls(bots: Sequence[HasMedia], now_ns: int) -> tuple[int, float]:
    """Tracks silent for more than 1 s since the last reset (or until now), and the longest silence in seconds."""
    count, longest = 0, 0
    for bot in bots:
        for track in bot.tracks:
            gap = max(track.max_gap_ns, now_ns - track.last_arrival_ns if track.last_arrival_ns else 0)
            longest = max(longest, gap)
            count += gap > STALL_NS
    return count, round(longest / 1e9, 2)


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
    machine_cpu_percent: float | None
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
        f" | machine {fmt(sample.machine_cpu_percent, 0)}%"
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


def code_version() -> dict[str, Any]:
    """The commit measured, and which media server files differ from it (read-only git queries)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "mediaserver"], cwd=root, capture_output=True,
                                 text=True, timeout=5).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "mediaserver_uncommitted": None}
    return {"commit": commit or None, "mediaserver_uncommitted": [line[3:] for line in changed if line.strip()]}


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
    ax_cpu.plot(t, [math.nan if s.machine_cpu_percent is None else s.machine_cpu_percent for s in samples],
                label="whole machine", alpha=0.4, linestyle="--")
    ax_cpu.set_ylabel(f"CPU, % of one core ({os.cpu_count()} cores)")
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


class Progress:
    """The live status line: rewritten in place on a terminal, one line every 5 s otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.count = 0

    def line(self, text: str) -> None:
        if not self.enabled:
            return
        self.count += 1
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + text)
        elif self.count % 5 == 1:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def summary(report: dict[str, Any]) -> str:
    """The human-readable end-of-run summary."""
    lat = report["latency_ms"]
    quiet = report["undisturbed"]["latency_ms"]
    lines = [
        f"target {report['target']}: {report['participants']} participants, {report['duration_s']:g} s measured",
        f"  tracks receiving     {report['tracks_receiving']}/{report['tracks_expected']} at the end;"
        f" {report['tracks_stalled']} stalled > 1 s in the window (longest {report['longest_stall_s']} s)",
        f"  packets sent         {report['packets_sent']}",
        f"  packets forwarded    {report['packets_forwarded']} (counted by the {report['packets_forwarded_source']})",
        f"  packets received     {report['packets_received']} of {report['packets_expected']} expected",
        f"  delivery             {_pct(report['delivery_ratio'])}",
        f"  added latency        p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms (max {lat['max']})",
        f"  ... undisturbed      p50 {quiet['p50']} ms, p95 {quiet['p95']} ms, p99 {quiet['p99']} ms"
        f" ({report['undisturbed']['seconds']} of {report['undisturbed']['of']} s without other processes' load)",
        f"  server CPU           {report['server_cpu_percent']} % of a core,"
        f" {report['server_cpu_us_per_forwarded_packet']} us per forwarded packet",
        f"  server RSS           {report['server_rss_mb']} MB (growth in window {report['server_rss_growth_mb']} MB)",
        f"  server loop lag      {_lag(report.get('server_loop_lag_ms'))}",
        f"  layer switches       {report['layer_switches']}",
        f"  load generator CPU   {report['loadgen_cpu_percent']} % of a core",
        f"  machine CPU          {report['machine_cpu_percent']} % of a core, of which other processes"
        f" {report['other_processes_cpu_percent']} % (steal {report['machine_steal_percent']} %)",
        f"  tile sizes           {report['video_prefs']}",
        f"  machine CPU probe    {_probe(report.get('machine_cpu_probe'))}",
    ]
    if report["errors"]:
        lines.append(f"  errors               {report['errors']}")
    server_errors = {k: v for k, v in (report.get("server_errors") or {}).items() if v}
    if server_errors:
        lines.append(f"  server drop counters {server_errors}")
    problems = {k: v for k, v in report.get("bot_problems", {}).items() if v and k != "dropped_injected"}
    if problems:
        lines.append(f"  bot-side problems    {problems}")
    blips = report.get("blips")
    if blips:
        lines.append(f"  blips                {_blips(blips)}")
    elif any((report.get("reconnects") or {}).values()):
        lines.append(f"  reconnects           {report['reconnects']}")
    for name, peer in report.get("peers", {}).items():
        if "error" in peer:
            lines.append(f"  peer {name}: could not run ({peer['error']})")
            continue
        ratio = report["cpu_per_forwarded_packet_vs_ours"].get(name)
        lines.append(
            f"  peer {name}: {peer['participants']} participants, {peer['server_cpu_percent']} % CPU,"
            f" {peer['server_cpu_us_per_forwarded_packet']} us per forwarded packet ({ratio}x ours),"
            f" delivery {_pct(peer['delivery_ratio'])}, latency p99 {peer['latency_ms']['p99']} ms"
        )
    lines.extend(f"  note: {note}" for note in report["notes"])
    return "\n".join(lines)


def _blips(block: dict[str, Any]) -> str:
    ttm, back = block["time_to_media_s"], block["signalling_back_s"]
    counts = ", ".join(f"{kind} {count}" for kind, count in (block["reconnects"] or {}).items())
    return (f"{block['count']} ({block['blip_s']:g} s every {block['every_s']:g} s, bots {block['bots']}),"
            f" {block['recovered']} recovered: time to media p50 {ttm['p50']} s, max {ttm['max']} s"
            f" (signalling back p50 {back['p50']} s, max {back['max']} s); reconnects {counts};"
            f" delivery between bots that never blip {_pct(block['delivery_ratio_outside_blips'])}"
            f" ({block['streams_outside_blips']} streams)")


def _probe(block: dict[str, Any] | None) -> str:
    if not block:
        return "no result"
    return (f"{block['slow_units_share'] * 100:.2f} % of its work units ran >= {block['slow_factor']:g}x slower than"
            f" their median (worst {block['worst_ratio']}x): the host slowing this VM down")


def _lag(block: dict[str, Any] | None) -> str:
    if not block:
        return "not reported by this server"
    return f"p50 <= {block['p50']} ms, p99 <= {block['p99']} ms, max <= {block['max']} ms (a 50 ms timer's lateness)"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.3f} %"

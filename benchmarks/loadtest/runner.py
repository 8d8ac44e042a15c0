"""Runs one load test: join the bots, wait for every track, warm up, measure a window, build the report."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from .bot import MediaEndpoint, Shared
from .config import RunConfig
from .media import load_media
from .report import (
    Sample,
    Totals,
    latency_block,
    machine,
    progress_line,
    samples_table,
    totals,
    track_rows,
    tracks_receiving,
    write_plot,
)
from .stats import CpuSample, LatencyHistogram, cpu_percent, cpu_us_per_packet, delivery_ratio, read_process_tree

TICK_S = 1.0


class Target(Protocol):
    name: str
    notes: list[str]

    @property
    def endpoints(self) -> list[MediaEndpoint]: ...

    async def join(self, shared: Shared) -> None: ...

    def server_pids(self) -> list[int]: ...

    async def server_counters(self) -> dict[str, int] | None: ...

    async def close(self) -> None: ...


def make_target(config: RunConfig) -> Target:
    if config.target == "mediaserver":
        from .product import ProductTarget

        return ProductTarget(config)
    if config.target == "janus":
        from .janus import JanusTarget

        return JanusTarget(config)
    from .relay import RelayTarget

    return RelayTarget(config)


class Sampler:
    """Once a second: server and load-generator CPU, the bots' packet counts, this second's latencies."""

    def __init__(self, target: Target, shared: Shared, config: RunConfig) -> None:
        self.target = target
        self.shared = shared
        self.config = config
        self.started = time.monotonic()
        self.samples: list[Sample] = []
        self.histogram = LatencyHistogram()
        self.measuring = False
        self._server_prev = self._server_sample()
        self._self_prev = read_process_tree([os.getpid()], time.monotonic())
        self._prev = totals(target.endpoints)
        self._window_start: Totals | None = None
        self._window_cpu: CpuSample | None = None

    def _server_sample(self) -> CpuSample | None:
        pids = self.target.server_pids()
        if not pids:
            return None
        try:
            return read_process_tree(pids, time.monotonic())
        except OSError:
            return None

    def tick(self) -> Sample:
        now = time.monotonic()
        batch = np.asarray(self.shared.latencies, dtype=np.int64)
        self.shared.latencies.clear()
        if self.measuring:
            self.histogram.add_many(batch)
        current = totals(self.target.endpoints)
        elapsed = max(now - (self._self_prev.wall_s if self._self_prev else now), 1e-3)
        server = self._server_sample()
        own = read_process_tree([os.getpid()], now)
        server_cpu = cpu_percent(self._server_prev, server) if server and self._server_prev else None
        sample = Sample(
            t=now - self.started,
            sent_pps=(current.packets_sent - self._prev.packets_sent) / elapsed,
            received_pps=(current.packets_received - self._prev.packets_received) / elapsed,
            server_cpu_percent=server_cpu,
            server_rss_mb=server.rss_bytes / 2**20 if server else None,
            loadgen_cpu_percent=cpu_percent(self._self_prev, own),
            latency_p50_ms=float(np.percentile(batch, 50)) / 1000 if batch.size else None,
            latency_p99_ms=float(np.percentile(batch, 99)) / 1000 if batch.size else None,
            tracks_receiving=tracks_receiving(self.target.endpoints, time.time_ns()),
            measuring=self.measuring,
        )
        self._prev, self._server_prev, self._self_prev = current, server, own
        self.samples.append(sample)
        return sample

    def rebase(self) -> None:
        """Restart the per-second baselines without a sample (after a slow control call)."""
        self.shared.latencies.clear()
        self._prev = totals(self.target.endpoints)
        self._server_prev = self._server_sample()
        self._self_prev = read_process_tree([os.getpid()], time.monotonic())

    def window_progress(self, current: Totals) -> tuple[float | None, float | None]:
        """Delivery and CPU us per received packet since the window opened (for the progress line)."""
        if self._window_start is None or self._window_cpu is None or self._server_prev is None:
            return None, None
        expected = current.expected - self._window_start.expected
        received = current.received - self._window_start.received
        packets = current.packets_received - self._window_start.packets_received
        return delivery_ratio(received, expected), cpu_us_per_packet(self._window_cpu, self._server_prev, packets)

    def open_window(self, start: Totals) -> None:
        self.measuring = True
        self._window_start = start
        self._window_cpu = self._server_prev


async def run(config: RunConfig) -> dict[str, Any]:
    """The whole load test; returns the report (also written to --json / --plot when given)."""
    started_at = datetime.datetime.now(tz=datetime.UTC)
    shared = Shared(media=load_media())
    target = make_target(config)
    try:
        return await _measure(config, target, shared, started_at)
    finally:
        await target.close()


async def _measure(config: RunConfig, target: Target, shared: Shared,
                   started_at: datetime.datetime) -> dict[str, Any]:
    join_started = time.monotonic()
    await target.join(shared)
    sampler = Sampler(target, shared, config)
    show = _Progress(config)
    expected_tracks = config.tracks_expected
    # Until every track flows (bounded), then the warm-up: neither is measured.
    deadline = time.monotonic() + config.join_timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(TICK_S)
        sample = sampler.tick()
        show.line(progress_line(sample, expected_tracks, (0, config.duration), None, None))
        if sample.tracks_receiving >= expected_tracks:
            break
    all_flowing_s = time.monotonic() - join_started
    for _ in range(max(0, round(config.warmup / TICK_S))):
        await asyncio.sleep(TICK_S)
        sample = sampler.tick()
        show.line(progress_line(sample, expected_tracks, (0, config.duration), None, None))

    server_start = await target.server_counters()
    sampler.rebase()  # the window starts now, right after the server's counters were read
    start = totals(target.endpoints)
    cpu_start = sampler._server_prev
    self_start = sampler._self_prev
    sampler.open_window(start)
    for second in range(max(1, round(config.duration / TICK_S))):
        await asyncio.sleep(TICK_S)
        sample = sampler.tick()
        delivery, per_packet = sampler.window_progress(totals(target.endpoints))
        show.line(progress_line(sample, expected_tracks, (second + 1, config.duration), delivery, per_packet))
    end = totals(target.endpoints)
    cpu_end = sampler._server_prev
    self_end = sampler._self_prev
    receiving = tracks_receiving(target.endpoints, time.time_ns())
    server_end = await target.server_counters()
    show.done()

    report = _report(config, target, shared, sampler, start, end, (cpu_start, cpu_end), (self_start, self_end),
                     (server_start, server_end), receiving)
    report["date"] = started_at.isoformat(timespec="seconds")
    report["all_tracks_flowing_after_s"] = round(all_flowing_s, 2)
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report, indent=2) + "\n")
    if config.plot_path is not None:
        title = f"{target.name}: {config.participants} participants, {config.duration:g} s ({report['date']})"
        write_plot(config.plot_path, sampler.samples, title)
    return report


def _report(config: RunConfig, target: Target, shared: Shared, sampler: Sampler, start: Totals, end: Totals,
            cpu: tuple[CpuSample | None, CpuSample | None], own: tuple[CpuSample | None, CpuSample | None],
            server: tuple[dict[str, int] | None, dict[str, int] | None], receiving: int) -> dict[str, Any]:
    received = end.packets_received - start.packets_received
    expected = end.expected - start.expected
    unique = end.received - start.received
    counted_by_server = server[0] is not None and server[1] is not None
    if server[0] is not None and server[1] is not None:
        forwarded = server[1]["packets_forwarded"] - server[0]["packets_forwarded"]
        switches = server[1]["layer_switches"] - server[0]["layer_switches"]
        retransmits = server[1]["retransmits"] - server[0]["retransmits"]
    else:
        forwarded, switches, retransmits = received, end.stream_changes - start.stream_changes, None
    cpu_start, cpu_end = cpu
    server_cpu = cpu_percent(cpu_start, cpu_end) if cpu_start and cpu_end else None
    per_forwarded = cpu_us_per_packet(cpu_start, cpu_end, forwarded) if cpu_start and cpu_end else None
    per_received = cpu_us_per_packet(cpu_start, cpu_end, received) if cpu_start and cpu_end else None
    rss = [s.server_rss_mb for s in sampler.samples if s.measuring and s.server_rss_mb is not None]
    ratio = delivery_ratio(unique, expected)
    rows = track_rows(target.endpoints, start, end)
    worst = sorted((r for r in rows if r["delivery_ratio"] is not None), key=lambda r: r["delivery_ratio"])[:5]
    lossy = [i for i in range(config.participants) if config.loss_for(i) > 0]
    return {
        "target": target.name,
        "participants": config.participants,
        "duration_s": config.duration,
        "tracks_expected": config.tracks_expected,
        "tracks_receiving": receiving,
        "packets_sent": end.packets_sent - start.packets_sent,
        "packets_forwarded": forwarded,
        "packets_forwarded_source": "server" if counted_by_server else "bots",
        "packets_received": received,
        "packets_expected": expected,
        "delivery_ratio": None if ratio is None else round(ratio, 6),
        "latency_ms": latency_block(sampler.histogram),
        "server_cpu_percent": _round(server_cpu, 1),
        "server_cpu_us_per_forwarded_packet": _round(per_forwarded, 2),
        "server_cpu_us_per_received_packet": _round(per_received, 2),
        "server_rss_mb": _round(rss[-1] if rss else None, 1),
        "server_rss_mb_window_start": _round(rss[0] if rss else None, 1),
        "server_rss_growth_mb": _round(rss[-1] - rss[0] if rss else None, 1),
        "server_pids": target.server_pids(),
        "loadgen_cpu_percent": _round(cpu_percent(own[0], own[1]) if own[0] and own[1] else None, 1),
        "layer_switches": switches,
        "layer_changes_seen_by_bots": end.stream_changes - start.stream_changes,
        "retransmits": retransmits,
        "nacked_packets": end.nacked - start.nacked,
        "recovered_packets": end.recovered - start.recovered,
        "duplicates": end.duplicates - start.duplicates,
        "misrouted_tracks": end.misrouted,
        "keyframe_requests": end.keyframe_requests - start.keyframe_requests,
        "sender_late_skips": end.late_skips - start.late_skips,
        "injected_loss": {"p": config.loss, "bots": lossy},
        "video_prefs": shared.video_prefs,
        "errors": dict(shared.errors),
        "notes": list(target.notes),
        "delivery_worst_tracks": worst,
        "machine": machine(),
        "command": config.command,
        "timeseries": samples_table(sampler.samples),
        "tracks": rows,
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class _Progress:
    """The live status line: rewritten in place on a terminal, one line every 5 s otherwise."""

    def __init__(self, config: RunConfig) -> None:
        self.enabled = config.progress
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
    lines = [
        f"target {report['target']}: {report['participants']} participants, {report['duration_s']:g} s measured",
        f"  tracks receiving     {report['tracks_receiving']}/{report['tracks_expected']}",
        f"  packets sent         {report['packets_sent']}",
        f"  packets forwarded    {report['packets_forwarded']} (counted by the {report['packets_forwarded_source']})",
        f"  packets received     {report['packets_received']} of {report['packets_expected']} expected",
        f"  delivery             {_pct(report['delivery_ratio'])}",
        f"  added latency        p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms (max {lat['max']})",
        f"  server CPU           {report['server_cpu_percent']} % of a core,"
        f" {report['server_cpu_us_per_forwarded_packet']} us per forwarded packet",
        f"  server RSS           {report['server_rss_mb']} MB (growth in window {report['server_rss_growth_mb']} MB)",
        f"  layer switches       {report['layer_switches']}",
        f"  load generator CPU   {report['loadgen_cpu_percent']} % of a core",
        f"  tile sizes           {report['video_prefs']}",
    ]
    if report["errors"]:
        lines.append(f"  errors               {report['errors']}")
    lines.extend(f"  note: {note}" for note in report["notes"])
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.3f} %"


def close_quietly(tasks: Sequence[asyncio.Task[Any]]) -> None:
    for task in tasks:
        with contextlib.suppress(Exception):
            task.cancel()

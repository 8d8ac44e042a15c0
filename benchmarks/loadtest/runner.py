"""Runs one load test: join the bots, wait for every track, warm up, measure a window, build the report."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import time
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from . import barrier
from .blips import Blipper
from .config import RunConfig
from .cpu_probe import CpuProbe
from .endpoint import MediaEndpoint, Shared
from .media import load_media
from .probe import SERVER_ERROR_COUNTERS, loop_lag_window
from .report import (
    Progress,
    Sample,
    Totals,
    bot_problems,
    code_version,
    latency_block,
    machine,
    progress_line,
    reset_stalls,
    samples_table,
    stalls,
    totals,
    track_rows,
    tracks_receiving,
    write_plot,
)
from .stats import (
    CpuSample,
    LatencyHistogram,
    MachineSample,
    cpu_percent,
    cpu_us_per_packet,
    delivery_ratio,
    machine_percent,
    read_machine,
    read_process_tree,
)

TICK_S = 1.0
CORES = os.cpu_count() or 1
# A second in which other processes used more than this (% of one core) is "disturbed".
QUIET_OTHERS_PERCENT = 30.0


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
        # Latency over the seconds nothing else competed for the CPU (this one and the one before).
        self.quiet_histogram = LatencyHistogram()
        self.quiet_seconds = 0
        self._was_quiet = False
        self.measuring = False
        self.server_last = self._server_sample()
        self.own_last = read_process_tree([os.getpid()], time.monotonic())
        self._prev = totals(target.endpoints)
        self.machine_last = read_machine()
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
        elapsed = max(now - (self.own_last.wall_s if self.own_last else now), 1e-3)
        server = self._server_sample()
        own = read_process_tree([os.getpid()], now)
        server_cpu = cpu_percent(self.server_last, server) if server and self.server_last else None
        machine_now = read_machine()
        machine_cpu, _ = machine_percent(self.machine_last, machine_now, CORES)
        loadgen_cpu = cpu_percent(self.own_last, own)
        quiet = machine_cpu - (server_cpu or 0.0) - loadgen_cpu < QUIET_OTHERS_PERCENT
        if self.measuring and quiet and self._was_quiet:
            self.quiet_histogram.add_many(batch)
            self.quiet_seconds += 1
        self._was_quiet = quiet
        sample = Sample(
            t=now - self.started,
            sent_pps=(current.packets_sent - self._prev.packets_sent) / elapsed,
            received_pps=(current.packets_received - self._prev.packets_received) / elapsed,
            server_cpu_percent=server_cpu,
            server_rss_mb=server.rss_bytes / 2**20 if server else None,
            loadgen_cpu_percent=loadgen_cpu,
            machine_cpu_percent=machine_cpu,
            latency_p50_ms=float(np.percentile(batch, 50)) / 1000 if batch.size else None,
            latency_p99_ms=float(np.percentile(batch, 99)) / 1000 if batch.size else None,
            tracks_receiving=tracks_receiving(self.target.endpoints, time.time_ns()),
            measuring=self.measuring,
        )
        self._prev, self.server_last, self.own_last, self.machine_last = current, server, own, machine_now
        self.samples.append(sample)
        return sample

    def rebase(self) -> None:
        """Restart the per-second baselines without a sample (after a slow control call)."""
        self.shared.latencies.clear()
        self._prev = totals(self.target.endpoints)
        self.server_last = self._server_sample()
        self.own_last = read_process_tree([os.getpid()], time.monotonic())
        self.machine_last = read_machine()

    def window_progress(self, current: Totals) -> tuple[float | None, float | None]:
        """Delivery and CPU us per received packet since the window opened (for the progress line)."""
        if self._window_start is None or self._window_cpu is None or self.server_last is None:
            return None, None
        expected = current.expected - self._window_start.expected
        received = current.received - self._window_start.received
        packets = current.packets_received - self._window_start.packets_received
        return delivery_ratio(received, expected), cpu_us_per_packet(self._window_cpu, self.server_last, packets)

    def open_window(self, start: Totals) -> None:
        self.measuring = True
        self._window_start = start
        self._window_cpu = self.server_last


async def run(config: RunConfig) -> dict[str, Any]:
    """The whole load test; returns the report (also written to --json / --plot when given)."""
    started_at = datetime.datetime.now(tz=datetime.UTC)
    # Read now: an hour-long run outlives commits made meanwhile, and the report must name what ran.
    code = code_version()
    shared = Shared(media=load_media())
    target = make_target(config)
    try:
        return await _measure(config, target, shared, started_at, code)
    finally:
        await target.close()


PEER_FIELDS = ("participants", "duration_s", "tracks_expected", "tracks_receiving", "packets_forwarded",
               "packets_forwarded_source", "delivery_ratio", "latency_ms", "server_cpu_percent",
               "server_cpu_us_per_forwarded_packet", "server_rss_mb", "loadgen_cpu_percent",
               "other_processes_cpu_percent", "notes")


async def run_compared(config: RunConfig) -> dict[str, Any]:
    """The run of `config.target`, then the same bots against each of `config.compare`, one after the other.

    The report gains `peers` (each peer's figures) and `cpu_per_forwarded_packet_vs_ours` (peer / ours).
    """
    report = await run(replace(config, json_path=None))
    ours = report["server_cpu_us_per_forwarded_packet"]
    peers: dict[str, Any] = {}
    ratios: dict[str, float | None] = {}
    for peer in config.compare:
        count = config.relay_participants if peer == "aiortc-relay" else config.participants
        peer_config = replace(config, target=peer, participants=count, json_path=None, plot_path=None,
                              server_pid=None, media_control=None, compare=(), blip=0.0)
        try:
            peer_report = await run(peer_config)
        except Exception as exc:  # a peer that cannot run here must not cost the main run's report
            peers[peer] = {"error": f"{type(exc).__name__}: {exc}"}
            ratios[peer] = None
            continue
        peers[peer] = {key: peer_report.get(key) for key in PEER_FIELDS}
        theirs = peer_report["server_cpu_us_per_forwarded_packet"]
        ratios[peer] = round(theirs / ours, 2) if theirs and ours else None
    report["peers"] = peers
    report["cpu_per_forwarded_packet_vs_ours"] = ratios
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report, indent=2) + "\n")
    return report


async def _measure(config: RunConfig, target: Target, shared: Shared,
                   started_at: datetime.datetime, code: dict[str, Any]) -> dict[str, Any]:
    join_started = time.monotonic()
    await target.join(shared)
    sampler = Sampler(target, shared, config)
    show = Progress(config.progress)
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
    if config.barrier is not None:  # one room of several (rooms.py): the windows open together
        barrier.arrive(config.barrier)
        waiting_since = time.monotonic()
        while not barrier.everyone_arrived(config.barrier, config.rooms):
            barrier.check_deadline(waiting_since, config.rooms)
            await asyncio.sleep(0.1)

    server_start = await target.server_counters()
    blipper = _blipper(config, target)
    probe = CpuProbe(config.duration)
    probe.start()
    try:
        sampler.rebase()  # the window starts now, right after the server's counters were read
        start = totals(target.endpoints)
        cpu_start = sampler.server_last
        self_start = sampler.own_last
        machine_start = sampler.machine_last
        sampler.open_window(start)
        reset_stalls(target.endpoints)
        if blipper is not None:
            blipper.start()
        for second in range(max(1, round(config.duration / TICK_S))):
            await asyncio.sleep(TICK_S)
            sample = sampler.tick()
            delivery, per_packet = sampler.window_progress(totals(target.endpoints))
            show.line(progress_line(sample, expected_tracks, (second + 1, config.duration), delivery, per_packet))
        end = totals(target.endpoints)
        cpu_end = sampler.server_last
        self_end = sampler.own_last
        machine_end = sampler.machine_last
        receiving = tracks_receiving(target.endpoints, time.time_ns())
        stalled = stalls(target.endpoints, time.time_ns())
        server_end = await target.server_counters()
        probe_result = await asyncio.to_thread(probe.stop)
        if blipper is not None:
            await blipper.finish()  # the last blips' recoveries, measured after the window's figures were taken
    finally:
        probe.kill()  # reaps the probe if the window ended early
        if blipper is not None:
            blipper.cancel()
    show.done()

    report = _report(config, target, shared, sampler, start, end, (cpu_start, cpu_end), (self_start, self_end),
                     (server_start, server_end), receiving, stalled)
    report.update(_machine_block(machine_start, machine_end, report))
    report["machine_cpu_probe"] = probe_result
    reconnects = _reconnects(target)
    report["reconnects"] = reconnects
    report["blips"] = blipper.report(report["tracks"], reconnects) if blipper is not None else None
    report["date"] = started_at.isoformat(timespec="seconds")
    report["code"] = code
    report["all_tracks_flowing_after_s"] = round(all_flowing_s, 2)
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report, indent=2) + "\n")
    if config.plot_path is not None:
        title = f"{target.name}: {config.participants} participants, {config.duration:g} s ({report['date']})"
        write_plot(config.plot_path, sampler.samples, title)
    return report


def _report(config: RunConfig, target: Target, shared: Shared, sampler: Sampler, start: Totals, end: Totals,
            cpu: tuple[CpuSample | None, CpuSample | None], own: tuple[CpuSample | None, CpuSample | None],
            server: tuple[dict[str, int] | None, dict[str, int] | None], receiving: int,
            stalled: tuple[int, float]) -> dict[str, Any]:
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
        "tracks_stalled": stalled[0],
        "longest_stall_s": stalled[1],
        "sequence_jumps": end.jumps - start.jumps,
        "packets_sent": end.packets_sent - start.packets_sent,
        "packets_forwarded": forwarded,
        "packets_forwarded_source": "server" if counted_by_server else "bots",
        "packets_received": received,
        "transport_feedback_sent": end.feedback_sent - start.feedback_sent,
        "packets_expected": expected,
        "delivery_ratio": None if ratio is None else round(ratio, 6),
        "latency_ms": latency_block(sampler.histogram),
        "undisturbed": {"seconds": sampler.quiet_seconds, "of": sum(1 for s in sampler.samples if s.measuring),
                        "other_processes_below_percent": QUIET_OTHERS_PERCENT,
                        "latency_ms": latency_block(sampler.quiet_histogram)},
        "server_cpu_percent": _round(server_cpu, 1),
        "server_cpu_us_per_forwarded_packet": _round(per_forwarded, 2),
        "server_cpu_us_per_received_packet": _round(per_received, 2),
        "server_rss_mb": _round(rss[-1] if rss else None, 1),
        "server_rss_mb_window_start": _round(rss[0] if rss else None, 1),
        "server_rss_growth_mb": _round(rss[-1] - rss[0] if rss else None, 1),
        "server_pids": target.server_pids(),
        "loadgen_cpu_percent": _round(cpu_percent(own[0], own[1]) if own[0] and own[1] else None, 1),
        "layer_switches": switches,
        "server_rtt_ms_median": (server[1]["rtt_us_median"] / 1000
                                 if server[1] is not None and server[1].get("rtt_us_median", -1) >= 0 else None),
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
        "server_loop_lag_ms": (loop_lag_window(server[0], server[1])
                               if server[0] is not None and server[1] is not None else None),
        "server_errors": ({name: server[1][name] - server[0][name] for name in SERVER_ERROR_COUNTERS}
                          if server[0] is not None and server[1] is not None else None),
        "bot_problems": bot_problems(target.endpoints),
        "notes": list(target.notes),
        "delivery_worst_tracks": worst,
        "machine": machine(),
        "command": config.command,
        "timeseries": samples_table(sampler.samples),
        "tracks": rows,
    }


def _blipper(config: RunConfig, target: Target) -> Blipper | None:
    if config.blip <= 0:
        return None
    from .product import ProductTarget

    if not isinstance(target, ProductTarget):
        raise RuntimeError("--blip needs --target mediaserver: only the product's bots reconnect")
    return Blipper(target.bots, config.blip_indices, config.blip, config.blip_every, config.duration)


def _reconnects(target: Target) -> dict[str, int] | None:
    """The product's bots' comebacks by kind; None for peers (their bots never reconnect)."""
    from .product import ProductTarget

    return target.reconnects() if isinstance(target, ProductTarget) else None


def _machine_block(start: MachineSample, end: MachineSample, report: dict[str, Any]) -> dict[str, Any]:
    """Whole-machine CPU over the window: what neither the server nor the load generator used is noise."""
    busy, steal = machine_percent(start, end, CORES)
    ours = (report["server_cpu_percent"] or 0) + (report["loadgen_cpu_percent"] or 0)
    return {"machine_cpu_percent": round(busy, 1), "machine_steal_percent": round(steal, 1),
            "other_processes_cpu_percent": round(max(busy - ours, 0.0), 1)}


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)

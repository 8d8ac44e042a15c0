"""`--rooms R`: R meetings at once, each driven by its own load-generator process, merged into one report.

One process per room because one drives 20 bots on about half a core: two rooms in one process would measure
the load generator. The children open their measured windows together (barrier.py) and count the forwarded
packets of their whole media server, so a server that holds two rooms is charged its CPU once, over both.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .config import RunConfig


def child_argv(config: RunConfig, room: int, directory: Path) -> list[str]:
    """The command of room `room`'s process: this run's settings for one meeting."""
    argv = [sys.executable, "-m", "benchmarks.loadtest", "--url", config.url, "--target", config.target,
            "--participants", str(config.participants), "--duration", str(config.duration),
            "--warmup", str(config.warmup), "--join-timeout", str(config.join_timeout),
            "--loss", str(config.loss), "--seed", str(config.seed + room), "--host-user", config.host_user,
            "--json", str(directory / f"room-{room}.json"), "--barrier", str(directory), "--rooms",
            str(config.rooms), "--no-progress"]
    if config.loss_bots is not None:
        argv += ["--loss-bots", str(config.loss_bots)]
    if config.janus_event_loops:
        argv += ["--janus-event-loops", str(config.janus_event_loops)]
    return argv


async def run_rooms(config: RunConfig) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="loadtest-rooms-") as name:
        directory = Path(name)
        children = [await asyncio.create_subprocess_exec(*child_argv(config, room, directory))
                    for room in range(config.rooms)]
        codes = [await child.wait() for child in children]
        failed = [room for room, code in enumerate(codes) if code != 0]
        if failed:
            raise RuntimeError(f"the load generators of rooms {failed} failed (exit codes {codes})")
        reports = [json.loads((directory / f"room-{room}.json").read_text()) for room in range(config.rooms)]
    report = merge(reports)
    report["command"] = config.command
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report, indent=2) + "\n")
    return report


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report over the rooms: per room its delivery and latency, per server its CPU over all its rooms."""
    servers = _servers(reports)
    cpu = sum(server["cpu_percent"] for server in servers.values())
    forwarded = sum(server["packets_forwarded"] for server in servers.values())
    # Each server's CPU seconds (its own figure times its packets) over all packets: exact, not re-derived
    # from rounded percentages and a nominal window.
    cpu_us = sum((server["cpu_us_per_forwarded_packet"] or 0) * server["packets_forwarded"]
                 for server in servers.values())
    duration = reports[0]["duration_s"]
    expected = sum(r["packets_expected"] for r in reports)
    unique_ratio = [r["delivery_ratio"] for r in reports if r["delivery_ratio"] is not None]
    first = reports[0]
    return {
        "target": first["target"],
        "rooms": [_room(r) for r in reports],
        "servers": servers,
        "participants": sum(r["participants"] for r in reports),
        "duration_s": duration,
        "tracks_expected": sum(r["tracks_expected"] for r in reports),
        "tracks_receiving": sum(r["tracks_receiving"] for r in reports),
        "packets_sent": sum(r["packets_sent"] for r in reports),
        "packets_forwarded": forwarded,
        "packets_received": sum(r["packets_received"] for r in reports),
        "packets_expected": expected,
        "delivery_ratio": min(unique_ratio) if len(unique_ratio) == len(reports) else None,  # the worst room
        "latency_ms": max((r["latency_ms"] for r in reports), key=lambda lat: lat.get("p99") or 0),
        "server_cpu_percent": round(cpu, 1),
        "server_cpu_us_per_forwarded_packet": round(cpu_us / forwarded, 2) if forwarded else None,
        "server_rss_mb": round(sum(server["rss_mb"] or 0 for server in servers.values()), 1),
        "layer_switches": sum(r["layer_switches"] or 0 for r in reports),
        "loadgen_cpu_percent": round(sum(r["loadgen_cpu_percent"] or 0 for r in reports), 1),
        "machine_cpu_percent": max(r.get("machine_cpu_percent") or 0 for r in reports),
        "notes": [note for r in reports for note in r["notes"]],
        "errors": [r["errors"] for r in reports],
        "machine": first["machine"],
        "code": first.get("code"),
        "date": first.get("date"),
    }


def _room(report: dict[str, Any]) -> dict[str, Any]:
    return {"participants": report["participants"], "server_pids": report["server_pids"],
            "delivery_ratio": report["delivery_ratio"], "latency_ms": report["latency_ms"],
            "tracks_receiving": report["tracks_receiving"], "tracks_expected": report["tracks_expected"],
            "server_cpu_us_per_forwarded_packet": report["server_cpu_us_per_forwarded_packet"],
            "loadgen_cpu_percent": report["loadgen_cpu_percent"]}


def _servers(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each media server once: the first room's report on it measured its CPU and counted all its packets."""
    servers: dict[str, dict[str, Any]] = {}
    for room, report in enumerate(reports):
        key = ",".join(str(pid) for pid in report["server_pids"]) or f"unknown-{room}"
        if key in servers:
            servers[key]["rooms"].append(room)
            continue
        servers[key] = {"rooms": [room], "cpu_percent": report["server_cpu_percent"] or 0.0,
                        "packets_forwarded": report["packets_forwarded"],
                        "cpu_us_per_forwarded_packet": report["server_cpu_us_per_forwarded_packet"],
                        "rss_mb": report["server_rss_mb"]}
    return servers


def summary(report: dict[str, Any]) -> str:
    lines = [f"{report['target']}: {len(report['rooms'])} rooms, {report['participants']} participants,"
             f" {report['duration_s']:g} s"]
    for index, room in enumerate(report["rooms"]):
        lat = room["latency_ms"]
        lines.append(f"  room {index}: delivery {_pct(room['delivery_ratio'])}, tracks {room['tracks_receiving']}/"
                     f"{room['tracks_expected']}, latency p50 {lat.get('p50')} p99 {lat.get('p99')} ms,"
                     f" server {room['server_pids']}")
    for key, server in report["servers"].items():
        lines.append(f"  server {key}: rooms {server['rooms']}, {server['cpu_percent']} % CPU,"
                     f" {server['cpu_us_per_forwarded_packet']} us per forwarded packet, {server['rss_mb']} MB")
    lines.append(f"  all servers: {report['server_cpu_percent']} % CPU, {report['server_cpu_us_per_forwarded_packet']}"
                 f" us per forwarded packet; load generators {report['loadgen_cpu_percent']} %")
    lines.extend(f"  note: {note}" for note in report["notes"])
    return "\n".join(lines)


def _pct(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.3f} %"


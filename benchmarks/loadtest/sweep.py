"""`python -m benchmarks.loadtest.sweep`: one fresh product per participant count, a report each, a summary table.

Each run gets its own `python -m signaling_gateway` (with its media server) on free loopback ports, so one
run's memory or rooms never colour the next. The table is the Markdown pasted into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import uvloop

from . import child_process
from .config import RunConfig
from .report import summary
from .runner import run
from .stats import machine_percent, read_machine, relative_spread


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProductProcess:
    """`python -m signaling_gateway` with its own media server, on free ports, stopped with SIGTERM."""

    def __init__(self, log_path: Path) -> None:
        self.password = secrets.token_urlsafe(12)
        self.http_port = _free_port(socket.SOCK_STREAM)
        env = dict(os.environ, HOST_PASSWORD=self.password, HTTP_HOST="127.0.0.1", HTTP_PORT=str(self.http_port),
                   MEDIA_UDP_PORT=str(_free_port(socket.SOCK_DGRAM)),
                   MEDIA_CONTROL_PORT=str(_free_port(socket.SOCK_STREAM)), MEDIA_PUBLIC_IP="127.0.0.1",
                   LOG_LEVEL=os.environ.get("LOG_LEVEL", "warning"))
        env.pop("MEDIA_SERVER_URL", None)
        self._log = log_path.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "signaling_gateway"], stdout=self._log,
                                        stderr=subprocess.STDOUT, env=env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def wait_healthy(self, timeout: float = 30.0) -> None:
        try:
            child_process.wait_ready(self.process, self.url + "/healthz", lambda h: bool(h.get("media_connected")),
                                     timeout)
        except child_process.NotReady as exc:
            raise RuntimeError(f"gateway {exc}") from exc

    def stop(self) -> None:
        child_process.stop(self.process, grace=15)
        self._log.close()


def wait_quiet(limit_percent: float, timeout: float) -> float:
    """Wait (bounded) until the machine's CPU use drops below `limit_percent` of a core; returns the last reading.

    Other people's test runs on a shared machine distort latency and CPU figures: start when they pause.
    """
    deadline = time.monotonic() + timeout
    busy = math.inf
    while True:
        before = read_machine()
        time.sleep(2.0)
        busy, _ = machine_percent(before, read_machine(), os.cpu_count() or 1)
        if busy < limit_percent or time.monotonic() > deadline:
            return busy


def run_once(config: RunConfig, out_dir: Path, tag: str) -> dict[str, Any]:
    product = ProductProcess(out_dir / f"product-{tag}.log")
    try:
        product.wait_healthy()
        stem = out_dir / f"loadtest-{tag}"
        config = replace(config, url=product.url, host_password=product.password,
                         json_path=stem.with_suffix(".json"), plot_path=stem.with_suffix(".png"))
        return uvloop.run(run(config))
    finally:
        product.stop()


def _median(values: list[Any]) -> Any:
    clean = sorted(v for v in values if v is not None)
    return None if not clean else clean[(len(clean) - 1) // 2]


def table(runs: dict[int, list[dict[str, Any]]]) -> str:
    """One row per participant count; with repeats, each figure is the median (lower middle) over the runs."""
    head = ("| participants | runs | tracks | delivery | latency p50 / p95 / p99 ms | undisturbed p50 / p99 ms (s)"
            " | server CPU % | CPU us/fwd pkt | fwd pkt/s | RSS MB (window growth) | layer switches | loadgen CPU %"
            " | other CPU % |")
    rows = [head, "|" + "---|" * 13]
    medians = []
    for count, reports in runs.items():
        def med(key: str, reports: list[dict[str, Any]] = reports) -> Any:
            return _median([r[key] for r in reports])

        def lat(q: str, reports: list[dict[str, Any]] = reports) -> Any:
            return _median([r["latency_ms"][q] for r in reports])

        def quiet(q: str, reports: list[dict[str, Any]] = reports) -> Any:
            return _median([r["undisturbed"]["latency_ms"][q] for r in reports])

        delivery = med("delivery_ratio")
        rate = _median([r["packets_forwarded"] / r["duration_s"] for r in reports])
        per_packet = med("server_cpu_us_per_forwarded_packet")
        medians.append(per_packet)
        growth = med("server_rss_growth_mb")
        rows.append(
            f"| {count} | {len(reports)} | {med('tracks_receiving')}/{reports[0]['tracks_expected']}"
            f" | {'-' if delivery is None else f'{delivery * 100:.3f} %'}"
            f" | {lat('p50')} / {lat('p95')} / {lat('p99')}"
            f" | {quiet('p50')} / {quiet('p99')} ({_median([r['undisturbed']['seconds'] for r in reports])})"
            f" | {med('server_cpu_percent')} | {per_packet}"
            f" | {rate:.0f} | {med('server_rss_mb')} ({'-' if growth is None else f'{growth:+}'})"
            f" | {med('layer_switches')} | {med('loadgen_cpu_percent')} | {med('other_processes_cpu_percent')} |"
        )
    spread = relative_spread([m for m in medians if m is not None])
    if spread is not None:
        rows.append(f"\nCPU per forwarded packet: largest deviation from the median {spread * 100:.0f} %.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtest.sweep", description=__doc__)
    parser.add_argument("--participants", type=int, nargs="+", default=[4, 8, 12, 16, 20])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=1, help="runs per participant count (the table shows medians)")
    parser.add_argument("--quiet-below", type=float, default=40.0,
                        help="before each run, wait until the machine uses less than this %% of a core")
    parser.add_argument("--quiet-wait", type=float, default=120.0, help="longest wait for a quiet machine, s")
    parser.add_argument("--out", type=Path, default=Path("loadtest-results"))
    ns = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the product started for the current run is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ns.out.mkdir(parents=True, exist_ok=True)
    runs: dict[int, list[dict[str, Any]]] = {}
    for repeat in range(ns.repeat):
        for count in ns.participants:
            busy = wait_quiet(ns.quiet_below, ns.quiet_wait)
            config = RunConfig(participants=count, duration=ns.duration, warmup=ns.warmup,
                               progress=sys.stderr.isatty(),
                               command=f"python -m benchmarks.loadtest --participants {count}"
                                       f" --duration {ns.duration:g} --warmup {ns.warmup:g}")
            try:
                report = run_once(config, ns.out, f"{count}-{repeat + 1}")
            except RuntimeError as exc:  # one failed run (logged) must not lose the others
                print(f"run {count}-{repeat + 1} failed: {exc}", flush=True)
                continue
            report["machine_cpu_percent_before_start"] = round(busy, 1)
            (ns.out / f"loadtest-{count}-{repeat + 1}.json").write_text(json.dumps(report, indent=2) + "\n")
            print(summary(report), flush=True)
            runs.setdefault(count, []).append(report)
            (ns.out / "summary.md").write_text(table(runs) + "\n")
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

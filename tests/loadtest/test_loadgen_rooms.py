"""`--rooms 2` against the product with one media server per core (MEDIA_WORKERS): placement and the report."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway.gateway_process import GatewayProcess, child_pids, start_gateway_process

pytestmark = pytest.mark.slow

HOST_PASSWORD = "loadtest-password"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "loadtest"
ROOT = Path(__file__).resolve().parents[2]


def free_port_pair(kind: int) -> int:
    """A port p with p and p + 1 both free (worker i of MEDIA_WORKERS takes the configured port + i)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, kind) as a, socket.socket(socket.AF_INET, kind) as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free ports")


@pytest.fixture(params=[1, 2], ids=["one-worker", "two-workers"])
def product(request: pytest.FixtureRequest) -> Iterator[tuple[GatewayProcess, int]]:
    workers = int(request.param)
    gateway = start_gateway_process({"HOST_PASSWORD": HOST_PASSWORD, "MEDIA_WORKERS": str(workers),
                                     "MEDIA_UDP_PORT": str(free_port_pair(socket.SOCK_DGRAM)),
                                     "MEDIA_CONTROL_PORT": str(free_port_pair(socket.SOCK_STREAM))},
                                    wait_media=True, timeout=40)
    try:
        yield gateway, workers
    finally:
        gateway.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"rooms-{workers}-product.log").write_text(gateway.log())


def test_two_rooms_at_once_each_deliver_and_each_server_is_charged_once(product: tuple[GatewayProcess, int]) -> None:
    gateway, workers = product
    media_servers = [pid for pid in child_pids(gateway.process.pid)
                     if b"mediaserver" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(media_servers) == workers  # one media server per worker, each its own process
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / f"rooms-{workers}.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.loadtest", "--url", gateway.base_url, "--rooms", "2", "--participants", "3",
         "--duration", "8", "--warmup", "1", "--join-timeout", "20", "--no-progress", "--json", str(out)],
        cwd=ROOT, env={**os.environ, "HOST_PASSWORD": HOST_PASSWORD}, capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert "2 rooms, 6 participants" in run.stdout

    rooms = report["rooms"]
    assert len(rooms) == 2 and report["participants"] == 6
    for room in rooms:
        assert room["tracks_receiving"] == room["tracks_expected"] == 3 * 2 * 2, room
        assert room["delivery_ratio"] >= 0.99, room
        assert len(room["server_pids"]) == 1 and room["server_pids"][0] in media_servers
    servers = report["servers"]
    if workers == 2:
        # Placed on the least-loaded worker: one room each, each server charged for its own room.
        assert rooms[0]["server_pids"] != rooms[1]["server_pids"]
        assert sorted(s["rooms"] for s in servers.values()) == [[0], [1]]
    else:
        # Both rooms on the one server: its CPU counted once, over both rooms' packets.
        assert [s["rooms"] for s in servers.values()] == [[0, 1]]
    assert all(s["packets_forwarded"] > 0 and s["cpu_percent"] > 0 for s in servers.values())
    assert report["packets_forwarded"] == sum(s["packets_forwarded"] for s in servers.values())
    assert report["server_cpu_us_per_forwarded_packet"] > 0

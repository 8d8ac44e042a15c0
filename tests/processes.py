"""Start project processes as real subprocesses and wait for their readiness log line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def stop_process(process: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited after `grace` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class MediaServerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    control_port: int
    udp_port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_events(self) -> list[dict[str, Any]]:
        events = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def stop(self) -> None:
        stop_process(self.process)


def start_media_server(*extra: str, timeout: float = 20.0) -> MediaServerProcess:
    """`python -m mediaserver` on ephemeral ports; returns once it logs mediaserver_ready."""
    with tempfile.NamedTemporaryFile(prefix="mediaserver-", suffix=".log", delete=False) as log_file:
        log_path = Path(log_file.name)
        process = subprocess.Popen(
            [sys.executable, "-m", "mediaserver", "--bind", "127.0.0.1", "--public-ip", "127.0.0.1",
             "--udp-port", "0", "--control-port", "0", "--drain-timeout", "0", *extra],
            stdout=log_file, stderr=subprocess.STDOUT, env=dict(os.environ),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"media server exited with {process.returncode}:\n{log_path.read_text()}")
        for line in log_path.read_text(errors="replace").splitlines():
            if '"mediaserver_ready"' in line:
                event = json.loads(line)
                return MediaServerProcess(process, log_path, event["control_port"], event["udp_port"])
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"media server not ready in {timeout} s:\n{log_path.read_text()}")


async def rooms_on(control_port: int) -> set[str]:
    """The rooms a running media server holds, asked over its control port."""
    from signaling_gateway.media_client import MediaClient

    client = MediaClient("127.0.0.1", control_port)
    await client.start()
    try:
        assert await client.wait_connected(10)
        return set((await client.request("stats", {"summary": True}))["rooms"])
    finally:
        await client.close()

"""A real coturn on loopback, configured from turn/turnserver.conf.template like the droplet's."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.gateway.gateway_process import free_tcp_port, free_udp_port
from turn.config import TurnServerSettings, render

SECRET = "test-turn-secret-0123456789abcdef"


def coturn_installed() -> bool:
    return shutil.which("turnserver") is not None


@dataclass
class Coturn:
    port: int
    log_path: Path
    config_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextlib.contextmanager
def run_coturn(secret: str = SECRET, extra: tuple[str, ...] = (), listen: str = "127.0.0.1") -> Iterator[Coturn]:
    """coturn on `listen` (loopback, or a test network's address), relaying from that address."""
    workdir = Path(tempfile.mkdtemp(prefix="coturn-"))
    port = free_udp_port()
    while port == free_tcp_port():  # coturn listens on both; a clash only makes the start fail loudly
        port = free_udp_port()
    relay = free_udp_port()
    settings = TurnServerSettings(
        external_ip=listen, listening_ip=listen, secret=secret, port=port,
        min_port=relay, max_port=min(relay + 40, 65535), log_file=str(workdir / "turn.log"),
        extra=("allow-loopback-peers", f"userdb={workdir / 'turndb'}", f"pidfile={workdir / 'turn.pid'}", *extra),
    )
    config = workdir / "turnserver.conf"
    config.write_text(render(settings))
    process = subprocess.Popen(["turnserver", "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    server = Coturn(port, workdir / "turn.log", config)
    try:
        deadline = time.monotonic() + 15
        while "Total General servers" not in server.log():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"coturn did not start:\n{server.log()[-2000:]}")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


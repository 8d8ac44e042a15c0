"""Runs `python -m signaling_gateway` as a real subprocess on free ports and waits until it is healthy."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.processes import stop_process


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout_path: Path
    log_path: Path
    env: dict[str, str]

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def healthz(self) -> dict[str, Any] | None:
        # A test's own throw-away certificate (TLS_CERT): the health check does not verify it.
        context = ssl._create_unverified_context() if self.base_url.startswith("https:") else None
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=2, context=context) as response:
                body: dict[str, Any] = json.load(response)
                return body
        except (OSError, ValueError):
            return None

    def wait_healthy(self, *, media: bool, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            health = self.healthz()
            if health is not None and (health.get("media_connected") or not media):
                return health
            time.sleep(0.1)
        raise RuntimeError(f"gateway not healthy (media={media}) in {timeout} s:\n{self.log()[-4000:]}")

    def stop(self, timeout: float = 15.0) -> int:
        stop_process(self.process, timeout)
        return self.process.returncode


def start_gateway_process(
    env: dict[str, str] | None = None, *, wait_media: bool = True, timeout: float = 30.0, cwd: Path | None = None
) -> GatewayProcess:
    """Free ports for HTTP, media UDP and control unless `env` says otherwise; logs go to temp files.

    `cwd`: run the code of another checkout (`python -m` takes its packages from the working directory).
    """
    http_port = free_tcp_port()
    full_env = dict(
        os.environ,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(http_port),
        MEDIA_UDP_PORT=str(free_udp_port()),
        MEDIA_CONTROL_PORT=str(free_tcp_port()),
        MEDIA_PUBLIC_IP="127.0.0.1",
        # One media server unless a test asks for more: worker i takes the ports above plus i, which are
        # not known free, and most tests drive "the" media server (its pid, its control port).
        MEDIA_WORKERS="1",
        PYTHONUNBUFFERED="1",
    )
    full_env.pop("HOST_PASSWORD", None)
    full_env.pop("MEDIA_SERVER_URL", None)
    full_env.update(env or {})
    with (
        tempfile.NamedTemporaryFile(prefix="gateway-stdout-", suffix=".log", delete=False) as stdout_file,
        tempfile.NamedTemporaryFile(prefix="gateway-", suffix=".log", delete=False) as log_file,
    ):
        # The child keeps its own copies of the descriptors; ours can close right away.
        process = subprocess.Popen(
            [sys.executable, "-m", "signaling_gateway"], stdout=stdout_file, stderr=log_file, env=full_env,
            cwd=cwd,
        )
    gateway = GatewayProcess(
        process=process,
        base_url=f"{'https' if full_env.get('TLS_CERT') else 'http'}://{full_env['HTTP_HOST']}:{full_env['HTTP_PORT']}",
        stdout_path=Path(stdout_file.name),
        log_path=Path(log_file.name),
        env=full_env,
    )
    try:
        gateway.wait_healthy(media=wait_media, timeout=timeout)
    except BaseException:
        gateway.stop()
        raise
    return gateway


def child_pids(pid: int) -> list[int]:
    """Direct children of a process, from /proc (Linux)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return children


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited

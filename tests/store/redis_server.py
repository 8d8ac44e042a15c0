"""Runs a throwaway `redis-server` on a free loopback port (no persistence, its own temp dir)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.processes import stop_process

# The apt package's binary; `.ci/run` (scripts/test) installs it.
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def redis_server_installed() -> bool:
    return os.access(REDIS_SERVER, os.X_OK)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def log(self) -> str:
        return (self.directory / "redis.log").read_text(errors="replace")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5)

    def stop(self) -> None:
        stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


def _start_once(timeout: float) -> RedisServer | None:
    """None when the port was taken between choosing and binding it (the caller picks another)."""
    directory = Path(tempfile.mkdtemp(prefix="redis-test-"))
    port = _free_port()
    with (directory / "redis.log").open("wb") as log_file:
        process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory)],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    server = RedisServer(process, port, directory)
    client = server.client()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                if "Address already in use" in server.log():
                    server.stop()
                    return None
                raise RuntimeError(f"redis-server exited with {process.returncode}:\n{server.log()}")
            try:
                if client.ping():
                    return server
            except redis.ConnectionError:
                time.sleep(0.02)
    finally:
        client.close()
    log = server.log()
    server.stop()
    raise RuntimeError(f"redis-server did not answer PING in {timeout} s:\n{log}")


def start_redis_server(timeout: float = 10.0, attempts: int = 3) -> RedisServer:
    for _ in range(attempts):
        server = _start_once(timeout)
        if server is not None:
            return server
    raise RuntimeError(f"redis-server found no free port in {attempts} attempts")

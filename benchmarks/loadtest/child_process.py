"""Servers the load generator starts as child processes (the product, Janus, the aiortc relay): ready, then stop."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from typing import Any


class NotReady(Exception):
    """The child exited, or its HTTP endpoint never said it was ready."""


def wait_ready(process: subprocess.Popen[Any], url: str, ready: Callable[[dict[str, Any]], bool],
               timeout: float) -> None:
    """Poll `url` (a JSON object) until `ready` accepts it; NotReady if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotReady(f"exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = json.load(response)
            if isinstance(body, dict) and ready(body):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise NotReady(f"not ready after {timeout:g} s")


def stop(process: subprocess.Popen[Any] | None, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
    """Ask the child to stop with `sig`; kill it if it has not exited after `grace` seconds."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)

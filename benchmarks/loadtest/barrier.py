"""The rooms' common start: each room's process says its warm-up is over, and all open their windows together."""

from __future__ import annotations

import os
import time
from pathlib import Path

BARRIER_TIMEOUT_S = 180.0


def arrive(directory: Path) -> None:
    (directory / f"ready-{os.getpid()}").touch()


def everyone_arrived(directory: Path, rooms: int) -> bool:
    return len(list(directory.glob("ready-*"))) >= rooms


def check_deadline(started: float, rooms: int) -> None:
    if time.monotonic() - started > BARRIER_TIMEOUT_S:
        raise RuntimeError(f"the other rooms' load generators were not ready within {BARRIER_TIMEOUT_S:g} s"
                           f" ({rooms} rooms)")

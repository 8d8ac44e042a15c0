"""`python -m benchmarks.loadtest`: bots that join a meeting, publish simulcast, subscribe to all, and a report."""

from __future__ import annotations

import logging
import sys

import structlog
import uvloop

from . import rooms
from .config import parse_args
from .report import summary
from .runner import run, run_compared


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    several = config.rooms > 1 and config.barrier is None  # this process starts one per room
    job = rooms.run_rooms(config) if several else run_compared(config) if config.compare else run(config)
    try:
        report = uvloop.run(job)
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"load test failed: {exc}", file=sys.stderr)
        return 1
    print(rooms.summary(report) if several else summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

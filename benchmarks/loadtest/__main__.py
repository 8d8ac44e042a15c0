"""`python -m benchmarks.loadtest`: bots that join a meeting, publish simulcast, subscribe to all, and a report."""

from __future__ import annotations

import logging
import sys

import structlog
import uvloop

from .config import parse_args
from .report import summary
from .runner import run, run_compared


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        report = uvloop.run(run_compared(config) if config.compare else run(config))
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        print(f"load test failed: {exc}", file=sys.stderr)
        return 1
    print(summary(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

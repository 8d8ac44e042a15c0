"""Entry point: `python -m mediaserver` runs a standalone media server on uvloop."""

from __future__ import annotations

import asyncio
import signal

import structlog
import uvloop

from .config import Config
from .control_server import ControlServer
from .logging_setup import configure
from .metrics import start_metrics
from .sfu import Sfu

log = structlog.get_logger("mediaserver")


async def serve(config: Config) -> None:
    control = ControlServer()
    sfu = Sfu(config, control.emit)
    await sfu.start()
    await control.start(sfu, config.control_host, config.control_port)
    runner = None
    if config.metrics_port:
        runner = await start_metrics(sfu, config.control_host, config.metrics_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("mediaserver_ready", udp_port=sfu.udp_port, control_port=control.port)
    await stop.wait()
    log.info("mediaserver_stopping")
    await sfu.close()
    await control.close()
    if runner is not None:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    config = Config.from_args(argv)
    configure(config.log_level)
    uvloop.run(serve(config))


if __name__ == "__main__":
    main()

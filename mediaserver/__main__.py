"""Entry point: `python -m mediaserver` runs a standalone media server on uvloop."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Callable

import structlog
import uvloop

from .config import Config
from .control_protocol import NodeRecord
from .control_server import ControlServer
from .logging_setup import configure
from .metrics import start_metrics
from .registry import LoadMeter, NodeRegistry
from .sfu import Sfu

log = structlog.get_logger("mediaserver")
DRAIN_POLL_S = 0.2


async def serve(config: Config) -> None:
    control = ControlServer()
    sfu = Sfu(config, control.emit)
    await sfu.start()
    await control.start(sfu, config.control_host, config.control_port)
    this_node = config.node_id or f"{socket.gethostname()}-{sfu.udp_port}"
    runner = None
    if config.metrics_port:
        runner = await start_metrics(sfu, config.control_host, config.metrics_port, this_node)
    stop, drain = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, drain.set)  # what orchestrators send before they kill
    registry = None
    if config.redis_url:
        meter = LoadMeter(lambda: sfu.mux.counters.datagrams_out)
        registry = NodeRegistry(config.redis_url, this_node, node_record(config, this_node, sfu, control.port, meter))
        await registry.start()
    log.info("mediaserver_ready", udp_port=sfu.udp_port, control_port=control.port,
             node_id=this_node if registry else None)
    _, pending = await asyncio.wait([asyncio.create_task(stop.wait()), asyncio.create_task(drain.wait())],
                                    return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    if drain.is_set() and not stop.is_set():
        sfu.draining = True
        if registry is not None:
            await registry.beat()  # the gateways stop placing rooms here now, not at the next heartbeat
        await drained(sfu, stop, config.drain_timeout)
    log.info("mediaserver_stopping", participants=sfu.participant_count)
    if registry is not None:
        await registry.close()
    await sfu.close()
    await control.close()
    if runner is not None:
        await runner.cleanup()


async def drained(sfu: Sfu, stop: asyncio.Event, timeout: float) -> None:
    """With `sfu.draining` set: the calls in progress go on until they end, `timeout` passes, or SIGINT comes."""
    log.info("mediaserver_draining", participants=sfu.participant_count, timeout_s=timeout)
    deadline = time.monotonic() + timeout
    while sfu.participant_count and time.monotonic() < deadline and not stop.is_set():
        await asyncio.sleep(DRAIN_POLL_S)


def node_record(config: Config, node_id: str, sfu: Sfu, control_port: int,
                meter: LoadMeter) -> Callable[[], NodeRecord]:
    announced = config.control_announce or (
        config.control_host if config.control_host not in ("0.0.0.0", "::") else config.public_ip.split(",")[0])

    def record() -> NodeRecord:
        cpu, pps = meter.sample()
        return NodeRecord(node_id=node_id, control_host=announced.strip(),
                          control_port=control_port, media=f"{config.public_ip}:{sfu.udp_port}",
                          rooms=len(sfu.rooms), participants=sfu.participant_count, cpu_percent=cpu,
                          sent_pps=pps, draining=sfu.draining)

    return record


def main(argv: list[str] | None = None) -> None:
    config = Config.from_args(argv)
    configure(config.log_level)
    uvloop.run(serve(config))


if __name__ == "__main__":
    main()

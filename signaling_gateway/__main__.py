"""`python -m signaling_gateway`: run the gateway, with its own media server beside it unless told not to."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import ssl
import sys

import structlog
import uvloop
from aiohttp import web

from .app import create_app, store_for
from .config import ConfigError, Settings
from .media_api import MediaApi
from .media_client import MediaClient
from .media_pool import MediaPool
from .media_process import MediaProcess, MediaProcessError
from .media_registry import RegistryPool
from .store import RedisStore, StoreUnavailable
from .tls import self_signed, server_context

log = structlog.get_logger("signaling_gateway")


async def serve(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    store = store_for(settings)
    if isinstance(store, RedisStore):
        try:
            await store.ping()
        except StoreUnavailable as exc:
            # Fail at start with the reason, not at the first meeting with a stack trace.
            log.error("redis_unavailable", error=str(exc))
            await store.close()
            return 2

    children = [MediaProcess(settings, worker) for worker in range(settings.media_workers)] \
        if settings.spawn_media_server else []
    try:
        await asyncio.gather(*(child.start() for child in children))
    except (MediaProcessError, OSError) as exc:
        log.error("media_process_failed", error=str(exc))
        await _stop_all(children)
        await store.close()
        return 2

    endpoints = settings.media_endpoints
    nodes = [MediaClient(endpoint.host, endpoint.port) for endpoint in endpoints]
    # One media server: its client as it is (no placement to do); several: rooms spread over them; the registry:
    # whichever heart-beat into Redis, rooms placed once across gateways.
    media: MediaApi = (RegistryPool(settings.redis_url or "") if settings.media_from_registry
                       else nodes[0] if len(nodes) == 1 else MediaPool(nodes))
    app = create_app(settings, media=media, store=store)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    try:
        tls = server_context(settings.tls_cert, settings.tls_key) if settings.tls_cert and settings.tls_key else None
    except (OSError, ssl.SSLError) as exc:
        log.error("tls_unusable", error=str(exc), cert=str(settings.tls_cert))
        await runner.cleanup()
        await _stop_all(children)
        return 2
    site = web.TCPSite(runner, settings.http_host, settings.http_port, ssl_context=tls)
    try:
        await site.start()
        if settings.host_password_generated:
            # Printed once, on stdout rather than in the logs, so it is not shipped to a log store.
            print(f"host login: {settings.host_username} / {settings.host_password}", flush=True)
        log.info(
            "gateway_started",
            http=f"{settings.scheme}://{settings.http_host}:{settings.http_port}",
            media="redis" if settings.media_from_registry else ",".join(f"tcp://{e.host}:{e.port}" for e in endpoints),
            media_spawned=len(children),
            store=type(store).__name__,
        )
        await stop.wait()
        log.info("gateway_stopping")
    finally:
        await runner.cleanup()
        await _stop_all(children)
    return 0


async def _stop_all(children: list[MediaProcess]) -> None:
    await asyncio.gather(*(child.stop() for child in children))


def main(argv: list[str] | None = None) -> int:
    from .logs import configure_logging

    parser = argparse.ArgumentParser(prog="python -m signaling_gateway",
                                     description="The signalling gateway (settings come from the environment).")
    parser.add_argument("--self-signed", action="store_true",
                        help="serve HTTPS with a throw-away self-signed certificate for HTTP_HOST (a LAN try: "
                             "browsers open the camera only on a secure origin; they will warn about the certificate)")
    args = parser.parse_args(argv)
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    env = dict(os.environ)
    if args.self_signed and not env.get("TLS_CERT"):
        host = env.get("HTTP_HOST", "127.0.0.1")
        cert, key = self_signed([host, "localhost", "127.0.0.1"])
        env.update(TLS_CERT=str(cert), TLS_KEY=str(key))
    try:
        settings = Settings.from_env(env)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    uvloop.install()
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(settings))
    return 130


if __name__ == "__main__":
    sys.exit(main())

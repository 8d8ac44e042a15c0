"""`python -m turn.autoscaler`: powers the TURN droplet on and off from the gateways' relayed-participant counts."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import aiohttp
from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .do_api import DEFAULT_API, DropletApi
from .policy import OFF_AFTER_S, ON_ABOVE, ScalePolicy
from .relayed import relayed_now
from .scaler import Autoscaler


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m turn.autoscaler", description=__doc__)
    parser.add_argument("--droplet-id", type=int, default=int(os.environ.get("TURN_DROPLET_ID", "0")) or None,
                        required="TURN_DROPLET_ID" not in os.environ, help="terraform output droplet_id")
    parser.add_argument("--relayed-url", action="append", required=True,
                        help="a gateway's /metrics (repeat for each gateway)")
    parser.add_argument("--api-url", default=os.environ.get("DIGITALOCEAN_API_URL", DEFAULT_API))
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    parser.add_argument("--on-above", type=int, default=ON_ABOVE)
    parser.add_argument("--off-after", type=float, default=OFF_AFTER_S)
    parser.add_argument("--metrics-port", type=int, default=0, help="serve /metrics here (0: off)")
    parser.add_argument("--dry-run", action="store_true", help="decide and log, never power anything")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, token: str) -> None:
    async with aiohttp.ClientSession() as session:
        api = DropletApi(session, token, args.droplet_id, args.api_url)
        scaler = Autoscaler(api, lambda: relayed_now(session, args.relayed_url), dry_run=args.dry_run,
                            policy=ScalePolicy(on_above=args.on_above, off_after_s=args.off_after))
        runner = None
        if args.metrics_port:
            app = web.Application()

            async def metrics(_: web.Request) -> web.Response:
                return web.Response(body=generate_latest(scaler.metrics.registry),
                                    headers={"Content-Type": CONTENT_TYPE_LATEST})

            app.router.add_get("/metrics", metrics)
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, "0.0.0.0", args.metrics_port).start()
        try:
            while True:
                await scaler.step()
                await asyncio.sleep(args.interval)
        finally:
            if runner is not None:
                await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = os.environ.get("DIGITALOCEAN_TOKEN", "")
    if not token and not args.dry_run:
        print("DIGITALOCEAN_TOKEN is not set (use --dry-run to only log decisions)", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(args, token))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

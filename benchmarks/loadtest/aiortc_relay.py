"""`python -m benchmarks.loadtest.aiortc_relay`: the SFU a Python developer would write today, as a load-test peer.

aiortc RTCPeerConnection per participant and direction, MediaRelay to share each published track: aiortc
decodes every incoming track once and encodes it again for every subscriber. Signalling is three JSON
endpoints on 127.0.0.1 (publish, subscribe, answer); ICE candidates stay on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from typing import Any

import aioice.ice
import uvloop
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"]


# aioice leaves 127.0.0.1 out of its candidates; the load test must not leave loopback.
aioice.ice.get_host_addresses = _loopback_only


class Relay:
    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.published: dict[str, list[MediaStreamTrack]] = {}
        self.pending: dict[str, RTCPeerConnection] = {}
        self.connections: list[RTCPeerConnection] = []

    async def publish(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = str(body["name"])
        pc = RTCPeerConnection()
        self.connections.append(pc)
        tracks: list[MediaStreamTrack] = []
        self.published[name] = tracks
        pc.on("track", tracks.append)
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.json_response({"sdp": pc.localDescription.sdp})

    async def subscribe(self, request: web.Request) -> web.Response:
        """An offer with every other publisher's tracks, each a MediaRelay copy (decoded once, encoded per copy)."""
        body = await request.json()
        pc = RTCPeerConnection()
        self.connections.append(pc)
        owners: list[tuple[Any, str]] = []
        for name in body["publishers"]:
            for track in self.published.get(str(name), []):
                transceiver = pc.addTransceiver(self.relay.subscribe(track), direction="sendonly")
                owners.append((transceiver, str(name)))
        await pc.setLocalDescription(await pc.createOffer())
        key = secrets.token_hex(8)
        self.pending[key] = pc
        mids = {transceiver.mid: name for transceiver, name in owners}
        return web.json_response({"id": key, "sdp": pc.localDescription.sdp, "mids": mids})

    async def answer(self, request: web.Request) -> web.Response:
        body = await request.json()
        pc = self.pending.pop(str(body["id"]))
        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], "answer"))
        return web.json_response({})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "connections": len(self.connections)})

    async def close(self) -> None:
        for pc in self.connections:
            with contextlib.suppress(Exception):
                await pc.close()


async def serve(port: int) -> None:
    relay = Relay()
    app = web.Application()
    app.router.add_post("/publish", relay.publish)
    app.router.add_post("/subscribe", relay.subscribe)
    app.router.add_post("/answer", relay.answer)
    app.router.add_get("/healthz", relay.healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"relay listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await relay.close()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.loadtest.aiortc_relay", description=__doc__)
    parser.add_argument("--port", type=int, default=8090)
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    uvloop.run(serve(ns.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Target `janus`: the same bots in a Janus VideoRoom (multistream API of Janus 1.x over HTTP long polling)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from typing import Any

import aiohttp
import structlog

from .config import RunConfig
from .endpoint import CONNECT_TIMEOUT_S, MediaEndpoint, Shared
from .janus_server import JanusProcess
from .media import LAYERS
from .sdp import parse_publisher_answer

log = structlog.get_logger(__name__)

REQUEST_TIMEOUT_S = 20.0
KEEPALIVE_S = 25.0  # Janus drops a session after 60 s without a request
PINNED_BOTS = (0, 1)  # as in the product run: everyone pins bot 0, bot 0 pins bot 1


class JanusError(RuntimeError):
    pass


class JanusSession:
    """One Janus API session: requests, and a long-poll loop delivering each async event to its transaction."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url
        self.session_id = 0
        self._ids = itertools.count(1)
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        payload["transaction"] = payload.get("transaction") or secrets.token_hex(6)
        async with self.http.post(self.base_url + path, json=payload) as response:
            body: dict[str, Any] = await response.json(content_type=None)
        if body.get("janus") == "error":
            raise JanusError(f"janus: {body.get('error')}")
        return body

    async def create(self) -> None:
        body = await self._post("", {"janus": "create"})
        self.session_id = int(body["data"]["id"])
        self._tasks = [asyncio.create_task(self._poll(), name="janus-poll"),
                       asyncio.create_task(self._keepalive(), name="janus-keepalive")]

    async def attach(self) -> int:
        body = await self._post(f"/{self.session_id}", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        return int(body["data"]["id"])

    async def request(self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None,
                      timeout: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        """Send a plugin message; returns the plugin's answer (synchronous, or the event of an async request)."""
        transaction = f"t{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = future
        payload: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            payload["jsep"] = jsep
        try:
            reply = await self._post(f"/{self.session_id}/{handle}", payload)
            if reply.get("janus") == "success":
                return reply
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(transaction, None)

    async def _poll(self) -> None:
        url = f"{self.base_url}/{self.session_id}?maxev=10"
        while True:
            try:
                async with self.http.get(url, timeout=aiohttp.ClientTimeout(total=40)) as response:
                    events = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("janus_poll_failed", error=str(exc))
                await asyncio.sleep(0.5)  # Janus restarting or slow: poll again shortly
                continue
            for event in events if isinstance(events, list) else [events]:
                future = self._waiting.get(event.get("transaction", ""))
                if future is not None and not future.done() and event.get("janus") == "event":
                    future.set_result(event)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            with contextlib.suppress(aiohttp.ClientError, JanusError, TimeoutError):
                await self._post(f"/{self.session_id}", {"janus": "keepalive"})

    async def destroy(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(aiohttp.ClientError, JanusError, TimeoutError):
            await self._post(f"/{self.session_id}", {"janus": "destroy"})


def _data(event: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = event.get("plugindata", {}).get("data", {})
    if "error" in data:
        raise JanusError(f"videoroom: {data['error']}")
    return data


class JanusBot:
    """A participant of a Janus VideoRoom: a publisher handle and one multistream subscriber handle."""

    def __init__(self, index: int, janus: JanusProcess, shared: Shared, loss: float, seed: int) -> None:
        self.index = index
        self.name = "host" if index == 0 else f"bot-{index:02d}"
        self.media = MediaEndpoint(index, shared, loss, seed * 1000 + index, host=janus.host_ip,
                                   server_offers_full_ice=True)
        self.shared = shared
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.session = JanusSession(self.http, janus.url)
        self.feed_id = 0
        self._publisher = 0
        self._subscriber = 0

    async def publish(self, room: int) -> None:
        await self.session.create()
        self._publisher = await self.session.attach()
        joined = _data(await self.session.request(
            self._publisher, {"request": "join", "ptype": "publisher", "room": room, "display": self.name}))
        self.feed_id = int(joined["id"])
        self.shared.bot_of_participant[self.name] = self.index
        offer = self.media.publisher_offer(self.name)
        # rid_order lmh: our rids are listed lowest first (q, h, f), Chrome-style; Janus assumes the reverse.
        event = await self.session.request(self._publisher, {"request": "publish"},
                                           {"type": "offer", "sdp": offer, "trickle": False, "rid_order": "lmh"})
        _data(event)
        answer = event.get("jsep", {}).get("sdp")
        if not answer:
            raise JanusError(f"bot {self.index}: no SDP answer to publish")
        remote, rids = parse_publisher_answer(answer)
        self.media.on_publisher_answer(remote, rids or [spec.rid for spec in LAYERS])
        if not await self.media.publisher.wait_connected(CONNECT_TIMEOUT_S):
            raise JanusError(f"bot {self.index}: publisher not connected ({self.media.publisher.state})")

    async def subscribe(self, room: int, feeds: list[JanusBot], pinned: str) -> None:
        """Subscribe to every other feed in one request; tiles: substream 0, the pinned speaker 2."""
        self._subscriber = await self.session.attach()
        streams = [{"feed": bot.feed_id} for bot in feeds]
        event = await self.session.request(
            self._subscriber, {"request": "join", "ptype": "subscriber", "room": room, "streams": streams})
        data = _data(event)
        offer = event.get("jsep", {}).get("sdp")
        if not offer:
            raise JanusError(f"bot {self.index}: no subscriber offer")
        publisher_of_mid = {str(s["mid"]): str(s.get("feed_display", "")) for s in data.get("streams", [])}
        answer = self.media.on_subscriber_offer(offer, publisher_of_mid)
        _data(await self.session.request(self._subscriber, {"request": "start"}, {"type": "answer", "sdp": answer}))
        layers = [{"mid": mid, "substream": 2 if display == pinned else 0, "temporal": 2}
                  for mid, display in publisher_of_mid.items()
                  if any(s.get("mid") == mid and s.get("type") == "video" for s in data.get("streams", []))]
        if layers:
            _data(await self.session.request(self._subscriber, {"request": "configure", "streams": layers}))

    def pause_unneeded_layers(self) -> None:
        """What the product's dynacast asks for, done by the client here: Janus has no dynacast of its own."""
        needed = [LAYERS[0].rid, LAYERS[-1].rid] if self.index in PINNED_BOTS else [LAYERS[0].rid]
        self.media.layers_needed(needed)

    async def close(self) -> None:
        self.media.close()
        await self.session.destroy()
        await self.http.close()


class JanusTarget:
    name = "janus"

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.server = JanusProcess(event_loops=config.janus_event_loops)
        self.bots: list[JanusBot] = []
        self.notes: list[str] = ["Janus has no dynacast: the bots pause the simulcast layers nobody watches themselves",
                                 "packets_forwarded counted at the bots (Janus has no cheap per-room counter)"]

    @property
    def endpoints(self) -> list[MediaEndpoint]:
        return [bot.media for bot in self.bots]

    async def join(self, shared: Shared) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.server.start)
        count = self.config.participants
        self.bots = [JanusBot(i, self.server, shared, self.config.loss_for(i), self.config.seed) for i in range(count)]
        room = 1000 + secrets.randbelow(100000)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            admin = JanusSession(http, self.server.url)
            await admin.create()
            handle = await admin.attach()
            _data(await admin.request(handle, {
                "request": "create", "room": room, "publishers": count + 5, "videocodec": "vp8",
                "audiocodec": "opus", "bitrate": 0, "fir_freq": 0, "notify_joining": False,
            }))
            await admin.destroy()
        for bot in self.bots:
            await bot.publish(room)
        pinned = {bot.index: self.bots[1 if bot.index == 0 else 0].name for bot in self.bots}
        shared.video_prefs = "janus configure: substream 0 for grid tiles, 2 for the pinned speaker"
        for bot in self.bots:
            await bot.subscribe(room, [b for b in self.bots if b is not bot], pinned[bot.index])
            bot.pause_unneeded_layers()

    def server_pids(self) -> list[int]:
        return [] if self.server.pid is None else [self.server.pid]

    async def server_counters(self) -> dict[str, int] | None:
        return None

    async def close(self) -> None:
        for bot in self.bots:
            with contextlib.suppress(Exception):
                await bot.close()
        await asyncio.get_running_loop().run_in_executor(None, self.server.stop)

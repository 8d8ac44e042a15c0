"""GatewayBot's reconnect loop against a scripted gateway (aiohttp, in-process): tokens, resumes with ICE restarts,
media resets, silence, blips, giving up and final refusals. No media server: the bots' media never connects."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from benchmarks.loadtest import reconnect as rc
from benchmarks.loadtest.bot import GatewayBot
from benchmarks.loadtest.endpoint import Shared
from benchmarks.loadtest.media import LAYERS, EncodedLayer, MediaSet

# A keyframe (bit 0 of the first byte clear) and an Opus packet: enough for the senders to be built.
TINY_MEDIA = MediaSet(tuple(EncodedLayer(spec, (b"\x10" + bytes(300),)) for spec in LAYERS), (bytes(60),))
EMPTY_OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


@dataclass
class Connection:
    request: web.Request
    ws: web.WebSocketResponse
    messages: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None

    @property
    def reconnect(self) -> str | None:
        return self.request.query.get("reconnect")

    async def next(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        while True:
            message = await asyncio.wait_for(self.messages.get(), timeout)
            if message.get("type") == kind:
                return message

    def abort(self) -> None:
        """The connection vanishes under the socket (no close frame), as when a link dies."""
        assert self.request.transport is not None
        self.request.transport.abort()


class FakeGateway:
    """Each socket gets a welcome from `welcome` (connection number -> fields); logs what the bot sends."""

    def __init__(self) -> None:
        self.connections: list[Connection] = []
        self.attempts = 0
        self.health_checks = 0
        self.refuse = False  # /ws and /healthz answer 503: the gateway is unreachable
        self.answer_pings = True
        self.welcome: Callable[[int], dict[str, Any]] = lambda n: {}
        self.connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/healthz", self._health)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        self.health_checks += 1
        return web.json_response({"status": "ok"}, status=503 if self.refuse else 200)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        self.attempts += 1
        if self.refuse:
            return web.Response(status=503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = Connection(request, ws)
        self.connections.append(conn)
        n = len(self.connections)
        welcome = {"type": "welcome", "participant_id": "p1", "name": "bot-01", "is_host": False,
                   "participants": [], "reconnect_token": f"token{n}", "resumed": n > 1, "media_reset": False,
                   "reconnect_window_s": 60}
        welcome.update(self.welcome(n))
        await ws.send_json(welcome)
        self.connected.set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("type") == "ping" and self.answer_pings:
                await ws.send_json({"type": "pong"})
            conn.messages.put_nowait(data)
        conn.close_code = ws.close_code
        conn.closed.set()
        return ws

    async def next_connection(self, timeout: float = 5.0) -> Connection:
        count = len(self.connections)
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.connections) == count:
            assert asyncio.get_running_loop().time() < deadline, "the bot did not reconnect"
            await asyncio.sleep(0.01)
        return self.connections[-1]


def ufrag_and_fingerprint(sdp: str) -> tuple[str, str]:
    ufrag = re.search(r"a=ice-ufrag:(\S+)", sdp)
    fingerprint = re.search(r"a=fingerprint:sha-256 (\S+)", sdp)
    assert ufrag and fingerprint
    return ufrag.group(1), fingerprint.group(1)


@pytest.fixture
async def gateway() -> AsyncIterator[FakeGateway]:
    gw = FakeGateway()
    await gw.start()
    yield gw
    await gw.stop()


@pytest.fixture
async def bot(gateway: FakeGateway) -> AsyncIterator[GatewayBot]:
    b = GatewayBot(1, gateway.url, Shared(media=TINY_MEDIA))
    b.reachability_s = 0.2
    yield b
    await b.close()


async def test_a_dropped_socket_resumes_with_the_token_and_restarts_ice(gateway: FakeGateway,
                                                                         bot: GatewayBot) -> None:
    await bot.connect("m1")
    first = gateway.connections[0]
    assert first.reconnect is None
    ufrag1, cert1 = ufrag_and_fingerprint((await first.next("publish_offer"))["sdp"])
    # Every subscribe_offer is answered with its offer_id.
    await first.ws.send_json({"type": "subscribe_offer", "sdp": EMPTY_OFFER, "offer_id": 7})
    assert (await first.next("subscribe_answer"))["offer_id"] == 7

    first.abort()
    second = await gateway.next_connection()
    assert second.reconnect == "token1"
    ufrag2, cert2 = ufrag_and_fingerprint((await second.next("publish_offer"))["sdp"])
    assert ufrag2 != ufrag1 and cert2 == cert1  # an ICE restart of the same connection
    assert bot.reconnects == {"resume": 1, "media_reset": 0, "rejoin": 0, "gave_up": 0}
    assert bot.policy.phase == rc.CONNECTED and bot.retired == []

    # media_reset as a message: new connections (another certificate) and a new publish.
    await second.ws.send_json({"type": "media_reset"})
    _, cert3 = ufrag_and_fingerprint((await second.next("publish_offer"))["sdp"])
    assert cert3 != cert1 and len(bot.retired) == 1 and bot.reconnects["media_reset"] == 1

    # ...and as the welcome's flag after the next drop, which uses the newest token.
    gateway.welcome = lambda n: {"media_reset": True}
    second.abort()
    third = await gateway.next_connection()
    assert third.reconnect == "token2"
    _, cert4 = ufrag_and_fingerprint((await third.next("publish_offer"))["sdp"])
    assert cert4 != cert3 and len(bot.retired) == 2 and bot.reconnects["media_reset"] == 2
    assert [kind for _, kind in bot.history] == ["resume", "media_reset", "media_reset"]


async def test_a_welcome_for_someone_else_is_a_rejoin_with_new_media(gateway: FakeGateway, bot: GatewayBot) -> None:
    await bot.connect("m1")
    gateway.welcome = lambda n: {"participant_id": "p2", "resumed": False}  # the window had run out
    gateway.connections[0].abort()
    conn = await gateway.next_connection()
    await conn.next("publish_offer")
    assert bot.participant_id == "p2" and bot.shared.bot_of("p2") == 1
    assert bot.reconnects["rejoin"] == 1 and len(bot.retired) == 1


async def test_a_silent_socket_is_dropped_without_a_goodbye_and_resumed(gateway: FakeGateway,
                                                                        bot: GatewayBot) -> None:
    bot.ping_interval_s, bot.silence_s = 0.1, 0.5
    await bot.connect("m1")
    first = gateway.connections[0]
    assert (await first.next("ping"))["type"] == "ping"  # the bot pings
    gateway.answer_pings = False
    second = await gateway.next_connection(timeout=3.0)
    await second.next("publish_offer")
    assert second.reconnect == "token1" and bot.reconnects["resume"] == 1
    await asyncio.wait_for(first.closed.wait(), 3)
    assert first.close_code not in (1000, 1001), "a goodbye would have let the participant go"


async def test_a_blip_cuts_the_socket_and_nothing_connects_until_it_ends(gateway: FakeGateway,
                                                                         bot: GatewayBot) -> None:
    await bot.connect("m1")
    first = gateway.connections[0]
    bot.network_down()
    assert bot.media.publisher.blackout and bot.media.subscriber.blackout
    await asyncio.wait_for(first.closed.wait(), 3)
    assert first.close_code not in (1000, 1001)
    await asyncio.sleep(1.0)  # attempts at once, after 0.3 and 1.2 s fail before connecting; probes too
    assert gateway.attempts == 1 and gateway.health_checks == 0
    assert bot.policy.phase == rc.RECONNECTING and bot.policy.attempt >= 1
    bot.network_up()
    assert not bot.media.publisher.blackout
    second = await gateway.next_connection(timeout=3.0)  # the reachability probe (every 0.2 s here) finds it
    assert second.reconnect == "token1" and gateway.health_checks >= 1
    await second.next("publish_offer")
    assert bot.reconnects["resume"] == 1


async def test_it_gives_up_once_the_window_is_over_and_tries_no_more(gateway: FakeGateway,
                                                                     bot: GatewayBot) -> None:
    gateway.welcome = lambda n: {"reconnect_window_s": 1.0}
    await bot.connect("m1")
    gateway.refuse = True
    gateway.connections[0].abort()
    deadline = asyncio.get_running_loop().time() + 5
    while bot.policy.phase != rc.GAVE_UP:
        assert asyncio.get_running_loop().time() < deadline, bot.policy.phase
        await asyncio.sleep(0.05)
    # Attempts at once, after 0.3 s and after 1.2 s more: that failure is past the 1-s window.
    assert gateway.attempts == 1 + 3
    assert bot.reconnects["gave_up"] == 1 and "gave up" in bot.closed_reason
    gateway.refuse = False
    await asyncio.sleep(1.0)
    assert gateway.attempts == 4 and len(gateway.connections) == 1


async def test_a_final_refusal_ends_the_bot(gateway: FakeGateway, bot: GatewayBot) -> None:
    await bot.connect("m1")
    first = gateway.connections[0]
    await first.ws.send_json({"type": "error", "code": "kicked", "message": "removed by the host"})
    await first.ws.close(code=4405, message=b"kicked")
    await asyncio.sleep(0.8)
    assert bot.policy.phase == rc.ENDED and len(gateway.connections) == 1
    assert "kicked" in bot.closed_reason

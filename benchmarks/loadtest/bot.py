"""One simulated participant's signalling session through the gateway, with the web client's reconnect loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp
import structlog

from . import reconnect as rc
from .endpoint import CONNECT_TIMEOUT_S, MediaEndpoint, Shared
from .sdp import parse_publisher_answer

log = structlog.get_logger(__name__)

# Refusals no retry would change (room.js FATAL_ERRORS, and moderation.js's removed / ended / locked out).
FATAL_CODES = frozenset({"unauthorized", "forbidden", "meeting_not_found", "kicked", "meeting_ended",
                         "meeting_locked"})
# How a bot came back (or did not): counted per bot, summed in the report.
RECONNECT_KINDS = ("resume", "media_reset", "rejoin", "gave_up")
# Not 1000/1001: the gateway keeps the participant for its reconnect window (signaling.js drop()).
CLOSE_RECONNECTING = 4000


class Refused(RuntimeError):
    """The gateway refused the socket for good (`code`: unauthorized, kicked, meeting_ended...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class NetworkDown(ConnectionError):
    """The bot's network is cut (a blip): nothing it opens gets anywhere."""


def abort_socket(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Drop the TCP connection under a WebSocket without a close frame, as a dead link or a killed tab does."""
    # aiohttp gives no public handle to a client WebSocket's transport; its connection keeps one.
    connection = getattr(ws, "_conn", None)
    transport = getattr(connection, "transport", None)
    if transport is not None:
        transport.abort()


class GatewayBot:
    """A participant of the product: joins through the gateway's HTTP pages and WebSocket like the web client.

    It reconnects as the web client does (reconnect.py has the schedule): a socket that closes (not by close())
    or is silent for 5 s is reopened with the latest welcome's reconnect token. A resume (`welcome.resumed`, no
    `media_reset`) restarts ICE on the publisher (a new offer with new credentials) and answers the server's restart
    subscribe_offer; `media_reset` (the message or the welcome flag), or a welcome for another participant (the
    window ran out), rebuilds the media endpoint: new connections and a new publish. The old endpoint is kept,
    frozen, in `retired`, so the load generator's totals stay whole; the new one's counters start at zero.
    """

    ping_interval_s = rc.PING_INTERVAL_S
    silence_s = rc.SILENCE_S
    reachability_s = rc.REACHABILITY_S

    def __init__(self, index: int, base_url: str, shared: Shared, loss: float = 0.0, seed: int = 0,
                 notes: list[str] | None = None) -> None:
        self.index = index
        self.base_url = base_url.rstrip("/")
        self.shared = shared
        self.loss = loss
        self.seed = seed
        self.name = "host" if index == 0 else f"bot-{index:02d}"
        self.media = MediaEndpoint(index, shared, loss, seed * 1000 + index)
        self.retired: list[MediaEndpoint] = []  # endpoints replaced after media_reset, counters frozen
        # Cookies are set for 127.0.0.1: aiohttp's default jar refuses IP-address hosts.
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                          timeout=aiohttp.ClientTimeout(total=30))
        self.participant_id = ""
        self.meeting_id = ""
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.closed_reason = ""
        self.reconnect_token: str | None = None
        self.policy = rc.ReconnectPolicy(random=random.Random(seed * 1000 + index).random)
        self.reconnects = dict.fromkeys(RECONNECT_KINDS, 0)
        self.history: list[tuple[float, str]] = []  # (time.monotonic(), kind) of each comeback, and of giving up
        self.offline = False  # the network is cut (a blip): sockets and requests fail before connecting
        self.notes = notes if notes is not None else []
        self._fatal: str | None = None  # an error code after which the gateway closes for good
        self._closing = False
        self._connecting = False
        self._connect_timer: asyncio.TimerHandle | None = None
        self._reachability: asyncio.Task[Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_heard = 0.0

    # --- joining ---------------------------------------------------------------------------------

    async def login_host(self, username: str, password: str) -> None:
        async with self.http.post(f"{self.base_url}/login", data={"username": username, "password": password},
                                  allow_redirects=False) as response:
            if response.status != 302:
                raise RuntimeError(f"host login failed: HTTP {response.status} (is HOST_PASSWORD right?)")

    async def create_meeting(self) -> str:
        async with self.http.post(f"{self.base_url}/api/meetings") as response:
            body = await response.json()
            if response.status != 201:
                raise RuntimeError(f"creating a meeting failed: HTTP {response.status} {body}")
        meeting_id = body["id"]
        assert isinstance(meeting_id, str)
        return meeting_id

    async def join_guest(self, meeting_id: str) -> None:
        async with self.http.post(f"{self.base_url}/join/{meeting_id}", data={"name": self.name},
                                  allow_redirects=False) as response:
            if response.status != 302:
                raise RuntimeError(f"guest join failed: HTTP {response.status}")

    async def connect(self, meeting_id: str) -> None:
        """Open the WebSocket, take the welcome and send the publisher offer; the rest runs in the reader."""
        self.meeting_id = meeting_id
        ws, welcome = await self._open()
        self._adopt(ws)
        await self._on_welcome(ws, welcome, first=True)

    async def wait_publishing(self, timeout: float) -> bool:
        return await self.media.publisher.wait_connected(timeout)

    async def _open(self) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
        """A new socket and its welcome (with the reconnect token once there is one); raises if it gets neither."""
        if self.offline:
            raise NetworkDown("network down")
        # audio/video=1: the pre-join choice the web client passes (camera and microphone on).
        query = f"meeting={self.meeting_id}&audio=1&video=1"
        if self.reconnect_token:
            query += f"&reconnect={self.reconnect_token}"
        ws_url = self.base_url.replace("http", "ws", 1) + "/ws?" + query
        ws = await asyncio.wait_for(self.http.ws_connect(ws_url, max_msg_size=4 * 1024 * 1024),
                                    rc.CONNECT_TIMEOUT_S)
        try:
            welcome = await ws.receive_json(timeout=CONNECT_TIMEOUT_S)
            if self.offline:
                raise NetworkDown("network down")  # cut while this attempt was under way
        except BaseException:
            abort_socket(ws)
            raise
        kind = welcome.get("type") if isinstance(welcome, dict) else None
        if kind == "welcome":
            return ws, welcome
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=CLOSE_RECONNECTING), 2)
        if kind == "error" and str(welcome.get("code")) in FATAL_CODES:
            raise Refused(str(welcome.get("code")), str(welcome.get("message", ""))[:200])
        raise RuntimeError(f"bot {self.index}: expected welcome, got {welcome}")

    def _adopt(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._last_heard = time.monotonic()
        self._spawn(self._read(ws), "ws")
        self._spawn(self._ping(ws), "ping")

    async def _on_welcome(self, ws: aiohttp.ClientWebSocketResponse, welcome: dict[str, Any], first: bool) -> None:
        token = welcome.get("reconnect_token")
        self.reconnect_token = token if isinstance(token, str) and token else None
        participant_id = welcome["participant_id"]
        if first:
            self._register(participant_id)
            offer = self.media.publisher_offer(self.participant_id)
        elif participant_id != self.participant_id:
            # The window ran out: the gateway took us in as someone new. New media, as the web client does.
            self._register(participant_id)
            self._count("rejoin")
            self._rebuild_media("a rejoin as a new participant")
            offer = self.media.publisher_offer(self.participant_id)
        elif welcome.get("media_reset"):
            self._count("media_reset")
            self._rebuild_media("media_reset")
            offer = self.media.publisher_offer(self.participant_id)
        else:
            # Resumed with the media session kept: whatever cut the socket likely cut the media path too.
            self._count("resume")
            offer = self.media.publisher_restart_offer(self.participant_id)
        window = welcome.get("reconnect_window_s")
        self._feed(self.policy.welcome(time.monotonic(),
                                       float(window) if isinstance(window, int | float) else None))
        await self._send(ws, {"type": "publish_offer", "sdp": offer})

    def _register(self, participant_id: str) -> None:
        self.participant_id = participant_id
        self.shared.bot_of_participant[participant_id] = self.index
        if self.index == 0:
            self.shared.pinned_participant = participant_id

    def _count(self, kind: str) -> None:
        self.reconnects[kind] += 1
        self.history.append((time.monotonic(), kind))
        log.info("bot_reconnect", bot=self.index, kind=kind)

    def _rebuild_media(self, why: str) -> None:
        """New connections and senders (the media server lost ours); the old endpoint's counts stay in `retired`."""
        old = self.media
        old.close()
        self.retired.append(old)
        self.media = MediaEndpoint(self.index, self.shared, self.loss, self.seed * 1000 + self.index
                                   + 7919 * len(self.retired))
        self.media.blackout = self.offline
        self.notes.append(f"bot {self.index}: media rebuilt after {why}; its new connections' receive counters"
                          f" start at zero (the old ones' counts stay in the totals, their tracks count as stalled)")

    # --- reconnecting ----------------------------------------------------------------------------

    def _feed(self, actions: list[rc.Action]) -> None:
        """Apply the policy's actions (room.js feed())."""
        for action in actions:
            if isinstance(action, rc.Connect):
                self._schedule_connect(action.delay)
            elif isinstance(action, rc.Show) and action.state == "disconnected":
                self._count("gave_up")
                self.closed_reason = "gave up reconnecting: the reconnect window is over"
                self._stop_trying()
                self.media.close()
            elif isinstance(action, rc.Probe) and self.ws is not None:
                self._spawn(self._send(self.ws, {"type": "ping"}), "probe")
        self._watch_reachability()

    def _schedule_connect(self, delay: float) -> None:
        if self._connect_timer is not None:
            self._connect_timer.cancel()
        self._connect_timer = asyncio.get_running_loop().call_later(
            delay, lambda: self._spawn(self._attempt(), "reconnect"))

    def _stop_trying(self) -> None:
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    async def _attempt(self) -> None:
        self._connect_timer = None
        if self._connecting or self._closing or self.policy.finished or self.ws is not None:
            return
        self._connecting = True
        try:
            ws, welcome = await self._open()
        except Refused as exc:
            self._connecting = False
            self._end(f"refused on reconnect: {exc}")
            return
        except asyncio.CancelledError:
            self._connecting = False
            raise
        except Exception as exc:
            self._connecting = False
            log.debug("bot_reconnect_failed", bot=self.index, error=repr(exc))
            self._feed(self.policy.attempt_failed(time.monotonic()))
            return
        self._connecting = False
        if self._closing:
            abort_socket(ws)
            return
        self._adopt(ws)
        try:
            await self._on_welcome(ws, welcome, first=False)
        except Exception as exc:
            log.warning("bot_welcome_failed", bot=self.index, error=repr(exc))
            self.shared.count_error("bot_exception")

    def _end(self, reason: str) -> None:
        """A final refusal: stop reconnecting and sending."""
        self.closed_reason = reason
        self._feed(self.policy.fatal())
        self._stop_trying()
        self.media.close()

    def _socket_lost(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """The socket closed (not by close()) or went silent: once per socket."""
        if ws is not self.ws or self._closing:
            return
        self.ws = None
        abort_socket(ws)
        if self._fatal is not None:
            self._end(f"refused: {self._fatal}")
            return
        self._feed(self.policy.socket_lost(time.monotonic()))

    def _watch_reachability(self) -> None:
        """While the socket is down, GET /healthz every 2 s: an answer means reconnect now (room.js)."""
        if self._wants_reachability() and (self._reachability is None or self._reachability.done()):
            self._reachability = self._spawn(self._probe_reachability(), "reachability")

    def _wants_reachability(self) -> bool:
        return self.policy.phase == rc.RECONNECTING and not self.policy.socket_up and not self._closing

    async def _probe_reachability(self) -> None:
        while self._wants_reachability():
            await asyncio.sleep(self.reachability_s)
            if self._connecting or not self._wants_reachability():
                continue
            try:
                if self.offline:
                    raise NetworkDown("network down")
                timeout = aiohttp.ClientTimeout(total=rc.REACHABILITY_TIMEOUT_S)
                async with self.http.get(f"{self.base_url}/healthz", timeout=timeout) as response:
                    reachable = 200 <= response.status < 300
            except (aiohttp.ClientError, OSError, TimeoutError):
                continue
            if reachable and self._wants_reachability():
                self._feed(self.policy.online(time.monotonic()))

    # --- network trouble (blips) -----------------------------------------------------------------

    def network_down(self) -> None:
        """The link dies: media is dropped both ways, the socket is gone without a close frame, nothing connects."""
        self.offline = True
        self.media.blackout = True
        if self.ws is not None:
            abort_socket(self.ws)

    def network_up(self) -> None:
        """The link is back; the reconnect loop finds out by itself (backoff or the reachability probe)."""
        self.offline = False
        self.media.blackout = False

    # --- signalling ------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"bot{self.index}-{what}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> bool:
        """Send on `ws` unless it is gone (a message for a dead socket is lost, as in a browser)."""
        if ws.closed:
            return False
        try:
            await ws.send_json(message)
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                self._last_heard = time.monotonic()
                if msg.type != aiohttp.WSMsgType.TEXT or ws is not self.ws:
                    continue
                try:
                    await self._on_message(ws, json.loads(msg.data))
                except Exception as exc:
                    log.warning("bot_message_failed", bot=self.index, error=repr(exc))
                    self.shared.count_error("bot_exception")
        finally:
            if ws is self.ws:
                self.closed_reason = f"websocket closed ({ws.close_code})"
            self._socket_lost(ws)

    async def _ping(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """A ping every 2 s; 5 s without hearing anything is a dead socket (signaling.js)."""
        while ws is self.ws:
            await asyncio.sleep(self.ping_interval_s)
            if ws is not self.ws:
                return
            if time.monotonic() - self._last_heard > self.silence_s:
                self.closed_reason = "websocket silent"
                self._socket_lost(ws)
                return
            await self._send(ws, {"type": "ping"})

    async def _on_message(self, ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "publish_answer":
            remote, rids = parse_publisher_answer(message["sdp"])
            self.media.on_publisher_answer(remote, rids)
        elif kind == "subscribe_offer":
            answer = self.media.on_subscriber_offer(message["sdp"])
            reply: dict[str, Any] = {"type": "subscribe_answer", "sdp": answer}
            if message.get("offer_id") is not None:
                reply["offer_id"] = message["offer_id"]  # a late answer to a replaced offer is then ignored
            await self._send(ws, reply)
            await self._send_prefs(ws)
        elif kind == "media_reset":
            self._count("media_reset")
            self._rebuild_media("media_reset")
            await self._send(ws, {"type": "publish_offer", "sdp": self.media.publisher_offer(self.participant_id)})
        elif kind == "layers_needed":
            needed = message.get("rids")
            if isinstance(needed, list):
                self.media.layers_needed([str(r) for r in needed])
        elif kind == "ping":
            await self._send(ws, {"type": "pong"})
        elif kind == "error":
            code = str(message.get("code"))
            text = str(message.get("message", ""))
            if "video_prefs" in text:
                self.shared.video_prefs = "unsupported"
            else:
                self.shared.count_error(code)
                log.info("gateway_error", bot=self.index, code=code, message=text[:200])
                if code in FATAL_CODES:
                    self._fatal = code  # the gateway closes the socket next; no retry would change that

    async def _send_prefs(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Report tile sizes if the gateway relays them (message `video_prefs`, as set_video_prefs on the server)."""
        if self.shared.video_prefs == "unsupported":
            return
        prefs = self.media.video_prefs()
        if prefs:
            await self._send(ws, {"type": "video_prefs", "prefs": prefs})
            if self.shared.video_prefs == "untried":
                self.shared.video_prefs = "sent"

    async def close(self) -> None:
        """Leave: a goodbye (close code 1000), so the gateway lets the participant go at once."""
        self._closing = True
        self.policy.leave()
        self._stop_trying()
        self.media.close()
        ws, self.ws = self.ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.http.close()

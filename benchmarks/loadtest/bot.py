"""One simulated participant: its media (publisher and subscriber connections) and its signalling session."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.rtcp import Fir, Pli, Remb, SenderReport, build_compound, parse_rtcp
from mediaserver.transport.certificate import Certificate

from . import reconnect as rc
from .media import LAYERS, MediaSet
from .receiver import Receiver, TrackReceiver
from .sdp import (
    AUDIO_MID,
    OPUS_PT,
    VIDEO_MID,
    VP8_PT,
    RemoteTransport,
    parse_publisher_answer,
    parse_subscriber_offer,
    publisher_offer,
    subscriber_answer,
)
from .sender import StreamSender, audio_sender, video_sender
from .transport import ClientTransport

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_S = 15.0
RTCP_INTERVAL_S = 1.0
# Tile sizes (device pixels) of a 5x4 grid on a 1920x1080 screen, with one speaker pinned large.
GRID_TILE = (320, 180)
PINNED_TILE = (1280, 720)


@dataclass
class Shared:
    """State all bots of one run share: the media they loop, latency samples, who is who."""

    media: MediaSet
    latencies: list[int] = field(default_factory=list)
    bot_of_participant: dict[str, int] = field(default_factory=dict)
    pinned_participant: str | None = None
    video_prefs: str = "untried"  # untried | sent | unsupported: whether the gateway relays tile sizes
    errors: dict[str, int] = field(default_factory=dict)

    def bot_of(self, participant_id: str) -> int:
        return self.bot_of_participant.get(participant_id, -1)

    def count_error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class MediaEndpoint:
    """The media half of a bot, independent of how it is signalled: two connections, senders, a receiver."""

    def __init__(self, index: int, shared: Shared, loss: float, seed: int, host: str = "127.0.0.1",
                 server_offers_full_ice: bool = False, single_layer: int | None = None, tagged: bool = True) -> None:
        self.index = index
        self.shared = shared
        self.certificate = Certificate.generate()
        rng = random.Random(seed)
        drop = (lambda: rng.random() < loss) if loss > 0 else None
        self.publisher = ClientTransport(self.certificate, f"bot{index}/pub", host)
        # A full-ICE offerer (Janus) is the controlling agent of the subscriber connection; ICE-lite never is.
        self.subscriber = ClientTransport(self.certificate, f"bot{index}/sub", host, drop=drop,
                                          controlling=not server_offers_full_ice)
        self.rtcp_ssrc = secrets.randbits(32) or 1
        self.receiver = Receiver(self.rtcp_ssrc, shared.latencies, self.subscriber.send_rtcp, shared.bot_of,
                                 tagged=tagged)
        # Simulcast with every layer, or (for peers that cannot take simulcast) one layer without a rid.
        self.simulcast = single_layer is None
        media = shared.media
        send = self.publisher.send_rtp
        self.senders: list[StreamSender] = [audio_sender(index, AUDIO_MID, media.opus, OPUS_PT, send, tagged)]
        if single_layer is None:
            self.senders += [video_sender(index, VIDEO_MID, layer.spec.rid, i, layer, VP8_PT, send, tagged)
                             for i, layer in enumerate(media.layers)]
        else:
            self.senders.append(video_sender(index, VIDEO_MID, None, single_layer, media.layers[single_layer],
                                             VP8_PT, send, tagged))
        self.remb_bps = 0
        self.loss = loss
        self.publisher.on_rtcp = self._on_publisher_rtcp
        self.subscriber.on_rtp = self.receiver.on_rtp
        self.subscriber.on_rtcp = self._on_subscriber_rtcp
        self._start_task: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        # Each bot reports on its own phase, as independent browsers do, not all in the same millisecond.
        self._report_timer: asyncio.TimerHandle | None = loop.call_later(RTCP_INTERVAL_S * (0.5 + random.random()),
                                                                         self._report)

    def problems(self) -> dict[str, int]:
        """What went wrong on this bot's connections: each non-zero count loses or garbles packets."""
        pub, sub, inbound = self.publisher.counters, self.subscriber.counters, self.receiver.counters
        return {"srtp_errors": pub.srtp_errors + sub.srtp_errors, "send_errors": pub.send_errors + sub.send_errors,
                "unknown_ssrc": inbound.unknown_ssrc, "no_tag": inbound.no_tag,
                "dropped_injected": sub.dropped_injected}

    @property
    def tracks(self) -> Iterable[TrackReceiver]:
        return self.receiver.tracks.values()

    @property
    def blackout(self) -> bool:
        return self.publisher.blackout

    @blackout.setter
    def blackout(self, on: bool) -> None:
        """A dead network link for both connections (ClientTransport.blackout)."""
        self.publisher.blackout = on
        self.subscriber.blackout = on

    def publisher_restart_offer(self, stream_id: str) -> str:
        """An ICE restart of the publisher connection (createOffer({iceRestart: true})): new local credentials."""
        self.publisher.restart_ice()
        return self.publisher_offer(stream_id)

    def publisher_offer(self, stream_id: str) -> str:
        if self.simulcast:
            return publisher_offer(self.publisher.identity(), [spec.rid for spec in LAYERS], stream_id)
        ssrcs = {sender.kind: sender.ssrc for sender in self.senders}
        return publisher_offer(self.publisher.identity(), [], stream_id, ssrcs)

    def on_publisher_answer(self, remote: RemoteTransport, rids: list[str]) -> None:
        if self.publisher.remote is not None:
            # A later answer (an ICE restart's, with the server's new credentials): same senders, same DTLS.
            self.publisher.update_remote(remote)
            return
        if self.simulcast:
            # Layers the server did not accept are never sent; without any, Chrome sends only the first encoding.
            accepted = set(rids) or {LAYERS[0].rid}
            self.senders = [s for s in self.senders if not s.video or s.rid in accepted]
        self.publisher.start(remote)
        self._start_task = asyncio.create_task(self._start_sending(), name=f"bot{self.index}-send")

    async def _start_sending(self) -> None:
        if not await self.publisher.wait_connected(CONNECT_TIMEOUT_S):
            log.warning("publisher_not_connected", bot=self.index, state=self.publisher.state,
                        error=self.publisher.error)
            return
        loop = asyncio.get_running_loop()
        phase = random.random()  # bots' frame clocks are not aligned, as real cameras are not
        now = loop.time()
        for sender in self.senders:
            sender.start(loop, now + phase * sender.interval)

    def on_subscriber_offer(self, sdp: str, publisher_of_mid: dict[str, str] | None = None) -> str:
        """Register the offered tracks (publisher from msid, or from `publisher_of_mid`) and answer."""
        offer = parse_subscriber_offer(sdp)
        for track in offer.tracks:
            publisher = (publisher_of_mid or {}).get(track.mid, track.publisher_id)
            self.receiver.add_track(track.ssrc, track.kind, track.mid, publisher, track.track_id)
        current = self.subscriber.remote
        if offer.remote is not None and current is not None and offer.remote.ufrag != current.ufrag:
            self.subscriber.restart_ice()  # the server restarts ICE: our answer carries new credentials too
        answer = subscriber_answer(sdp, self.subscriber.identity())
        if offer.remote is not None:
            self.subscriber.update_remote(offer.remote)
        return answer

    def video_prefs(self) -> list[dict[str, Any]]:
        """A 5x4 grid of small tiles with one large pinned speaker: bot 0 for everyone, bot 1 for bot 0."""
        prefs = []
        pinned = self.shared.pinned_participant
        if self.index == 0:
            pinned = next((pid for pid, index in self.shared.bot_of_participant.items() if index == 1), None)
        for track in self.receiver.tracks.values():
            if track.video:
                width, height = PINNED_TILE if track.publisher_id == pinned else GRID_TILE
                prefs.append({"track_id": track.track_id, "width": width, "height": height, "visible": True})
        return prefs

    def _report(self) -> None:
        self._report_timer = asyncio.get_running_loop().call_later(RTCP_INTERVAL_S, self._report)
        self.tick()

    def tick(self) -> None:
        """Once a second: receiver reports on the subscriber connection, sender reports on the publisher one."""
        if self.subscriber.srtp is not None:
            # One RR per datagram: SRTCP packets must stay under the MTU and 31 blocks fill ~750 bytes.
            for report in self.receiver.receiver_reports():
                self.subscriber.send_rtcp(report.serialize())
        if self.publisher.srtp is not None and self.senders:
            reports: list[SenderReport] = [s.sender_report() for s in self.senders if s.packets_sent]
            if reports:
                self.publisher.send_rtcp(build_compound(reports))

    def _on_publisher_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_rtcp(data)
        except ParseError:
            return
        for packet in packets:
            if isinstance(packet, Pli):
                self._keyframe(packet.media_ssrc)
            elif isinstance(packet, Fir):
                for ssrc, _ in packet.entries:
                    self._keyframe(ssrc)
            elif isinstance(packet, Remb):
                self.remb_bps = packet.bitrate

    def layers_needed(self, rids: list[str]) -> None:
        """Dynacast: send only these simulcast layers; the lowest keeps running for newcomers, as in the web client."""
        video = [s for s in self.senders if s.video]
        for position, sender in enumerate(video):
            sender.set_active(position == 0 or sender.rid is None or sender.rid in rids)

    def _keyframe(self, ssrc: int) -> None:
        for sender in self.senders:
            if sender.ssrc == ssrc:
                sender.request_keyframe()

    def _on_subscriber_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_rtcp(data)
        except ParseError:
            return
        for packet in packets:
            if isinstance(packet, SenderReport):
                self.receiver.on_sender_report(packet)

    def close(self) -> None:
        if self._report_timer is not None:
            self._report_timer.cancel()
            self._report_timer = None
        for sender in self.senders:
            sender.stop()
        if self._start_task is not None:
            self._start_task.cancel()
        self.publisher.close()
        self.subscriber.close()


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

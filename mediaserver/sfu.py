"""The media server's service object: rooms on one UDP mux, and the control methods the gateway calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog

from mediaserver import control_protocol as proto
from mediaserver.rooms.call_quality import CallQuality
from mediaserver.rooms.participant import NegotiationBusy, StaleAnswer
from mediaserver.rooms.room import Room, RoomError
from mediaserver.sdp.model import SdpError
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.udp_mux import UdpMux

from .config import Config
from .loop_lag import LoopLagMonitor

log = structlog.get_logger(__name__)

EventSink = Callable[[str, dict[str, Any]], None]
# Rooms are checked for emptiness this often; one empty for the departure timeout is closed.
ROOM_SWEEP_INTERVAL_S = 1.0


def _require_str(params: dict[str, Any], key: str, limit: int = 256) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise RoomError(proto.ERR_BAD_REQUEST, f"param {key!r} must be a non-empty string of at most {limit} chars")
    return value


class Sfu:
    # Control methods that wait on other processes; the control server answers them out of order.
    SLOW_METHODS = frozenset({proto.START_RECORDING, proto.STOP_RECORDING, proto.CLOSE_ROOM})

    def __init__(self, config: Config, emit: EventSink) -> None:
        self.config = config
        self.emit = emit
        self.mux = UdpMux(consent_timeout=config.consent_timeout, reconnect_window=config.reconnect_window)
        self.certificate = Certificate.generate()
        self.ssl_context = self.certificate.ssl_context()
        self.rooms: dict[str, Room] = {}
        self.udp_port = config.udp_port
        self.loop_lag = LoopLagMonitor()
        self.call_quality = CallQuality()  # every room's samples, for /metrics
        self._sweeper: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self.rooms_closed_empty = 0
        self.draining = False  # SIGTERM: no new rooms (the gateway places them elsewhere)

    async def start(self) -> None:
        _, self.udp_port = await self.mux.start(self.config.bind, self.config.udp_port)
        self.loop_lag.start()
        self._sweeper = asyncio.get_running_loop().call_later(ROOM_SWEEP_INTERVAL_S, self._sweep_rooms)
        log.info("udp_listening", bind=self.config.bind, port=self.udp_port, public_ip=self.config.public_ip)

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for room in list(self.rooms.values()):
            if room.recorder is not None:
                await room.stop_recording()
            room.close()
        self.rooms.clear()
        self.mux.close()
        self.loop_lag.stop()

    # --- control methods ---------------------------------------------------------------------

    def _sweep_rooms(self) -> None:
        """Close rooms nobody has been in for the departure timeout: a meeting's gateway re-creates on join."""
        self._sweeper = asyncio.get_running_loop().call_later(ROOM_SWEEP_INTERVAL_S, self._sweep_rooms)
        now = time.monotonic()
        for room_id, room in list(self.rooms.items()):
            if room.empty_since is not None and now - room.empty_since > self.config.departure_timeout:
                del self.rooms[room_id]
                self.rooms_closed_empty += 1
                log.info("room_closed_empty", room=room_id, after_s=self.config.departure_timeout)
                task = asyncio.create_task(self._close(room))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(room: Room) -> None:
        if room.recorder is not None:
            await room.stop_recording()
        room.close()

    @property
    def participant_count(self) -> int:
        return sum(len(room.participants) for room in self.rooms.values())

    def client_gone(self, client: int) -> None:
        """A gateway's control connection closed: its participants wait for a gateway to resume them."""
        now = time.monotonic()
        for room in self.rooms.values():
            room.detach_owner(client, now)

    async def handle(self, method: str, params: dict[str, Any], client: int = 0) -> dict[str, Any]:
        """Run one control request from gateway connection `client`; raises RoomError for bad requests."""
        async_handler = self._async_handlers.get(method)
        if async_handler is not None:
            return await async_handler(self, params)
        handler = self._handlers.get(method)
        if handler is None:
            raise RoomError(proto.ERR_BAD_REQUEST, f"unknown method {method!r}")
        self._client = client
        try:
            return handler(self, params)
        except SdpError as exc:
            raise RoomError(proto.ERR_BAD_SDP, str(exc)) from exc
        except NegotiationBusy as exc:
            raise RoomError(proto.ERR_BUSY, str(exc)) from exc

    def _room(self, params: dict[str, Any]) -> Room:
        room_id = _require_str(params, "room_id")
        room = self.rooms.get(room_id)
        if room is None:
            raise RoomError(proto.ERR_NOT_FOUND, f"room {room_id!r} does not exist")
        return room

    def create_room(self, params: dict[str, Any]) -> dict[str, Any]:
        room_id = _require_str(params, "room_id")
        codecs = params.get("video_codecs", proto.VIDEO_CODECS)
        # Membership first: it leaves only codec names (hashable) for the set that finds a repeat.
        if (not isinstance(codecs, list | tuple) or not codecs or any(c not in proto.VIDEO_CODECS for c in codecs)
                or len(set(codecs)) != len(codecs)):
            raise RoomError(proto.ERR_BAD_REQUEST,
                            f"video_codecs must list some of {', '.join(proto.VIDEO_CODECS)}, each once")
        if room_id not in self.rooms and self.draining:
            raise RoomError(proto.ERR_DRAINING, "this media server is draining: place the room on another one")
        if room_id not in self.rooms:
            self.rooms[room_id] = Room(
                room_id, self.mux, self.ssl_context, self.certificate.fingerprint, self.config.public_ip,
                self.udp_port, self.emit, self.config.remb_bps, self.config.reconnect_window, codecs,
                call_quality=self.call_quality, upstream_nack=self.config.upstream_nack,
            )
        return {}

    _client = 0  # the gateway connection of the request being handled (set by handle)

    def join(self, params: dict[str, Any]) -> dict[str, Any]:
        room = self._room(params)
        room.join(_require_str(params, "participant_id"), _require_str(params, "name", 200), self._client)
        return {}

    def resume(self, params: dict[str, Any]) -> dict[str, Any]:
        """The participant's client came back (to this or another gateway): keep its transports and tracks."""
        room = self._room(params)
        participant = room.get(_require_str(params, "participant_id"))
        room.resume(participant, self._client)
        return {"publisher": participant.publisher_transport.state,
                "subscriber": participant.subscriber_transport.state}

    def publisher_offer(self, params: dict[str, Any]) -> dict[str, Any]:
        room = self._room(params)
        participant = room.get(_require_str(params, "participant_id"))
        return {"sdp": room.publish(participant, _require_str(params, "sdp", 65536))}

    def subscriber_offer(self, params: dict[str, Any]) -> dict[str, Any]:
        participant = self._room(params).get(_require_str(params, "participant_id"))
        ice_restart = params.get("ice_restart", False)
        if not isinstance(ice_restart, bool):
            raise RoomError(proto.ERR_BAD_REQUEST, "ice_restart must be a boolean")
        sdp, offer_id = participant.create_subscriber_offer(ice_restart)
        return {"sdp": sdp, "offer_id": offer_id}

    def subscriber_answer(self, params: dict[str, Any]) -> dict[str, Any]:
        participant = self._room(params).get(_require_str(params, "participant_id"))
        offer_id = params.get("offer_id")
        if offer_id is not None and (not isinstance(offer_id, int) or isinstance(offer_id, bool)):
            raise RoomError(proto.ERR_BAD_REQUEST, "offer_id must be an integer")
        try:
            participant.apply_subscriber_answer(_require_str(params, "sdp", 65536), offer_id)
        except StaleAnswer as exc:
            raise RoomError(proto.ERR_STALE, str(exc)) from exc
        except ValueError as exc:
            if isinstance(exc, SdpError):
                raise
            raise RoomError(proto.ERR_BAD_REQUEST, str(exc)) from exc
        return {}

    def leave(self, params: dict[str, Any]) -> dict[str, Any]:
        room = self._room(params)
        room.leave(_require_str(params, "participant_id"), "left")
        return {}

    async def close_room(self, params: dict[str, Any]) -> dict[str, Any]:
        room_id = _require_str(params, "room_id")
        room = self.rooms.pop(room_id, None)
        if room is not None:
            if room.recorder is not None:
                await room.stop_recording()
            room.close()
        return {}

    async def start_recording(self, params: dict[str, Any]) -> dict[str, Any]:
        room = self._room(params)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        directory = Path(self.config.recordings_dir) / f"{room.id}-{stamp}"
        await room.start_recording(directory)
        return {"directory": str(directory.resolve())}

    async def stop_recording(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"manifest": await self._room(params).stop_recording()}

    def stats(self, params: dict[str, Any]) -> dict[str, Any]:
        room_id = params.get("room_id")
        # The full form lists every subscription (380 at 20 people) and held the loop for milliseconds; the
        # host's panel, polled every 2 s, needs only the summaries.
        summary = params.get("summary") is True
        rooms = {rid: r.summaries() if summary else r.stats() for rid, r in self.rooms.items()
                 if room_id in (None, rid)}
        speakers = {rid: r.active_speaker for rid, r in self.rooms.items() if room_id in (None, rid)}
        counters = {**self.mux.counters.as_dict(), "rooms_closed_empty": self.rooms_closed_empty}
        return {"rooms": rooms, "active_speakers": speakers, "counters": counters,
                "loop_lag": self.loop_lag.snapshot(), "udp_port": self.udp_port, "draining": self.draining}

    def set_video_prefs(self, params: dict[str, Any]) -> dict[str, Any]:
        room = self._room(params)
        participant = room.get(_require_str(params, "participant_id"))
        prefs = params.get("prefs")
        if not isinstance(prefs, list) or len(prefs) > 100 or not all(isinstance(p, dict) for p in prefs):
            raise RoomError(proto.ERR_BAD_REQUEST, "prefs must be a list of at most 100 maps")
        room.set_video_prefs(participant, prefs)
        return {}

    def set_track_enabled(self, params: dict[str, Any]) -> dict[str, Any]:
        participant = self._room(params).get(_require_str(params, "participant_id"))
        kind = params.get("kind")
        enabled = params.get("enabled")
        if kind not in ("audio", "video") or not isinstance(enabled, bool):
            raise RoomError(proto.ERR_BAD_REQUEST, "kind must be 'audio' or 'video' and enabled a boolean")
        return {"tracks": participant.publishing.set_enabled(kind, enabled)}

    def simulate_loss(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.config.fault_injection:
            raise RoomError(proto.ERR_BAD_REQUEST, "fault injection is disabled (--enable-fault-injection)")
        participant = self._room(params).get(_require_str(params, "participant_id"))
        loss = params.get("downlink_loss")
        if not isinstance(loss, int | float) or not 0 <= loss <= 1:
            raise RoomError(proto.ERR_BAD_REQUEST, "downlink_loss must be a number from 0 to 1")
        participant.subscriber_transport.loss = float(loss)
        return {}

    _handlers: dict[str, Callable[[Sfu, dict[str, Any]], dict[str, Any]]] = {
        proto.CREATE_ROOM: create_room,
        proto.JOIN: join,
        proto.RESUME: resume,
        proto.PUBLISHER_OFFER: publisher_offer,
        proto.SUBSCRIBER_OFFER: subscriber_offer,
        proto.SUBSCRIBER_ANSWER: subscriber_answer,
        proto.LEAVE: leave,
        proto.STATS: stats,
        proto.SET_VIDEO_PREFS: set_video_prefs,
        proto.SIMULATE_LOSS: simulate_loss,
        proto.SET_TRACK_ENABLED: set_track_enabled,
    }
    _async_handlers: dict[str, Callable[[Sfu, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
        proto.CLOSE_ROOM: close_room,
        proto.START_RECORDING: start_recording,
        proto.STOP_RECORDING: stop_recording,
    }

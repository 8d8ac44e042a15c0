"""Client for the media server's control port: msgpack requests, responses and events over one TCP link."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

log = structlog.get_logger(__name__)

EventListener = Callable[[str, dict[str, Any]], None]
ConnectionListener = Callable[[bool], None]


class MediaUnavailable(Exception):
    """The control connection is down (or dropped mid-request) or the media server did not answer in time."""


class MediaApi(Protocol):
    """What the gateway needs from a media server; MediaClient is the real thing."""

    @property
    def connected(self) -> bool: ...

    def add_event_listener(self, listener: EventListener) -> None: ...

    def add_connection_listener(self, listener: ConnectionListener) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def wait_connected(self, timeout: float) -> bool: ...

    async def create_room(self, room_id: str, video_codecs: tuple[str, ...] = cp.VIDEO_CODECS) -> None: ...

    async def join(self, room_id: str, participant_id: str, name: str) -> None: ...

    async def publisher_offer(self, room_id: str, participant_id: str, sdp: str) -> str: ...

    async def resume(self, room_id: str, participant_id: str) -> None: ...

    async def subscriber_offer(
        self, room_id: str, participant_id: str, *, ice_restart: bool = False
    ) -> tuple[str, int | None]: ...

    async def subscriber_answer(
        self, room_id: str, participant_id: str, sdp: str, offer_id: int | None = None
    ) -> None: ...

    async def leave(self, room_id: str, participant_id: str) -> None: ...

    async def close_room(self, room_id: str) -> None: ...

    async def stats(self, room_id: str | None = None, summary: bool = False) -> dict[str, Any]: ...

    async def set_video_prefs(self, room_id: str, participant_id: str, prefs: list[dict[str, Any]]) -> None: ...

    async def set_track_enabled(self, room_id: str, participant_id: str, kind: str, enabled: bool) -> None: ...

    async def start_recording(self, room_id: str) -> dict[str, Any]: ...

    async def stop_recording(self, room_id: str) -> dict[str, Any]: ...


class MediaClient:
    """Keeps one control connection open, reconnecting with backoff; requests fail fast while it is down."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        request_timeout: float = 10.0,
        reconnect_min: float = 0.1,
        reconnect_max: float = 3.0,
    ) -> None:
        self._host = host
        self._port = port
        self._request_timeout = request_timeout
        self._reconnect_min = reconnect_min
        self._reconnect_max = reconnect_max
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._event_listeners: list[EventListener] = []
        self._connection_listeners: list[ConnectionListener] = []

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def address(self) -> str:
        return f"tcp://{self._host}:{self._port}"

    def add_event_listener(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        self._connection_listeners.append(listener)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="media-control")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        delay = self._reconnect_min
        failures = 0
        while True:
            try:
                reader, writer = await asyncio.open_connection(self._host, self._port)
            except OSError as exc:
                failures += 1
                # Quiet while a freshly spawned media server is still starting; loud once it is a real outage.
                if failures in (1, 10) or failures % 100 == 0:
                    log.warning("media_connect_failed", address=self.address, error=str(exc), attempts=failures)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._reconnect_max)
                continue
            delay, failures = self._reconnect_min, 0
            self._on_connected(writer)
            try:
                await self._read_loop(reader)
            except (asyncio.IncompleteReadError, ConnectionError, cp.ProtocolError) as exc:
                log.warning("media_connection_lost", address=self.address, error=repr(exc))
            finally:
                self._on_disconnected(writer)

    def _on_connected(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._connected.set()
        log.info("media_connected", address=self.address)
        self._notify_connection(True)

    def _on_disconnected(self, writer: asyncio.StreamWriter) -> None:
        self._connected.clear()
        self._writer = None
        writer.close()
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(MediaUnavailable("media server connection lost"))
        self._notify_connection(False)

    def _notify_connection(self, up: bool) -> None:
        for listener in self._connection_listeners:
            try:
                listener(up)
            except Exception:
                log.exception("media_connection_listener_failed")

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            message = await cp.read_message(reader)
            if "event" in message:
                self._dispatch_event(message)
                continue
            future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            if future is None:
                log.warning("media_unexpected_response", message_id=message.get("id"))
            elif not future.done():
                future.set_result(message)

    def _dispatch_event(self, message: dict[str, Any]) -> None:
        name, params = message.get("event"), message.get("params")
        if not isinstance(name, str) or not isinstance(params, dict):
            log.warning("media_bad_event", message=repr(message)[:200])
            return
        for listener in self._event_listeners:
            try:
                listener(name, params)
            except Exception:
                log.exception("media_event_listener_failed", media_event=name)

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """One control call; ControlError for an error answer, MediaUnavailable if it cannot be made."""
        writer = self._writer
        if writer is None or not self.connected:
            raise MediaUnavailable("media server is not connected")
        msg_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        try:
            writer.write(cp.request(msg_id, method, params))
            await writer.drain()
            reply = await asyncio.wait_for(future, self._request_timeout)
        except TimeoutError:
            raise MediaUnavailable(f"media server did not answer {method} in {self._request_timeout} s") from None
        except ConnectionError as exc:
            raise MediaUnavailable(f"media server connection failed: {exc}") from exc
        finally:
            self._pending.pop(msg_id, None)
        error = reply.get("error")
        if error is not None:
            if isinstance(error, dict):
                raise ControlError(str(error.get("code", cp.ERR_INTERNAL)), str(error.get("message", "")))
            raise ControlError(cp.ERR_INTERNAL, repr(error))
        result = reply.get("result")
        return result if isinstance(result, dict) else {}

    async def create_room(self, room_id: str, video_codecs: tuple[str, ...] = cp.VIDEO_CODECS) -> None:
        await self.request(cp.CREATE_ROOM, {"room_id": room_id, "video_codecs": list(video_codecs)})

    async def join(self, room_id: str, participant_id: str, name: str) -> None:
        await self.request(cp.JOIN, {"room_id": room_id, "participant_id": participant_id, "name": name})

    async def publisher_offer(self, room_id: str, participant_id: str, sdp: str) -> str:
        params = {"room_id": room_id, "participant_id": participant_id, "sdp": sdp}
        return _sdp_of(await self.request(cp.PUBLISHER_OFFER, params), cp.PUBLISHER_OFFER)

    async def resume(self, room_id: str, participant_id: str) -> None:
        await self.request(cp.RESUME, {"room_id": room_id, "participant_id": participant_id})

    async def subscriber_offer(
        self, room_id: str, participant_id: str, *, ice_restart: bool = False
    ) -> tuple[str, int | None]:
        params: dict[str, Any] = {"room_id": room_id, "participant_id": participant_id}
        if ice_restart:
            params["ice_restart"] = True
        result = await self.request(cp.SUBSCRIBER_OFFER, params)
        offer_id = result.get("offer_id")
        return _sdp_of(result, cp.SUBSCRIBER_OFFER), offer_id if isinstance(offer_id, int) else None

    async def subscriber_answer(
        self, room_id: str, participant_id: str, sdp: str, offer_id: int | None = None
    ) -> None:
        params: dict[str, Any] = {"room_id": room_id, "participant_id": participant_id, "sdp": sdp}
        if offer_id is not None:
            params["offer_id"] = offer_id
        await self.request(cp.SUBSCRIBER_ANSWER, params)

    async def leave(self, room_id: str, participant_id: str) -> None:
        await self.request(cp.LEAVE, {"room_id": room_id, "participant_id": participant_id})

    async def close_room(self, room_id: str) -> None:
        await self.request(cp.CLOSE_ROOM, {"room_id": room_id})

    async def stats(self, room_id: str | None = None, summary: bool = False) -> dict[str, Any]:
        params: dict[str, Any] = {"room_id": room_id} if room_id else {}
        if summary:
            params["summary"] = True
        return await self.request(cp.STATS, params)

    async def set_video_prefs(self, room_id: str, participant_id: str, prefs: list[dict[str, Any]]) -> None:
        await self.request(cp.SET_VIDEO_PREFS, {"room_id": room_id, "participant_id": participant_id, "prefs": prefs})

    async def set_track_enabled(self, room_id: str, participant_id: str, kind: str, enabled: bool) -> None:
        params = {"room_id": room_id, "participant_id": participant_id, "kind": kind, "enabled": enabled}
        await self.request(cp.SET_TRACK_ENABLED, params)

    async def start_recording(self, room_id: str) -> dict[str, Any]:
        return await self.request(cp.START_RECORDING, {"room_id": room_id})

    async def stop_recording(self, room_id: str) -> dict[str, Any]:
        return await self.request(cp.STOP_RECORDING, {"room_id": room_id})


def _sdp_of(result: dict[str, Any], method: str) -> str:
    sdp = result.get("sdp")
    if not isinstance(sdp, str):
        raise ControlError(cp.ERR_INTERNAL, f"media server answered {method} without an sdp string")
    return sdp

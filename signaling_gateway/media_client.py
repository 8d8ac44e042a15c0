"""Client for the media server's control port: msgpack requests, responses and events over one TCP link."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import structlog

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from .media_api import ConnectionListener, EventListener, MediaCalls, MediaUnavailable

log = structlog.get_logger(__name__)


def _every_room(room_id: str) -> bool:
    return True


class MediaClient(MediaCalls):
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
                listener(up, _every_room)  # one server holds every room this client drives
            except Exception:
                log.exception("media_connection_listener_failed")

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while True:
            message = await cp.read_message(reader)
            if "event" in message:
                self._dispatch_event(message)
                continue
            msg_id = message.get("id")
            # An id that is a list or map (a broken peer) cannot be a dict key: it answers nothing we sent.
            future = self._pending.pop(msg_id, None) if isinstance(msg_id, int) else None
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

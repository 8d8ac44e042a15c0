"""TCP control server: msgpack-framed requests from gateways in, responses and room events out."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from mediaserver import control_protocol as proto
from mediaserver.rooms.room import RoomError

from .sfu import Sfu

log = structlog.get_logger(__name__)


class ControlServer:
    def __init__(self) -> None:
        self.sfu: Sfu | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_client = 0
        self.port = 0

    async def start(self, sfu: Sfu, host: str, port: int) -> None:
        self.sfu = sfu
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("control_listening", host=host, port=self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _answer_later(self, writer: asyncio.StreamWriter, message: dict[str, Any], client: int) -> None:
        reply = await self._dispatch(message, client)
        if not writer.is_closing():
            writer.write(reply)

    def emit(self, name: str, params: dict[str, Any]) -> None:
        """Push an event to every connected gateway; a slow or dead one must not block the media path."""
        frame = proto.event(name, params)
        for writer in list(self._writers):
            if writer.is_closing():
                self._writers.discard(writer)
                continue
            writer.write(frame)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self._writers.add(writer)
        self._next_client += 1
        client = self._next_client  # the participants it joins or resumes are its own
        log.info("control_client_connected", peer=peer, client=client)
        try:
            while True:
                try:
                    message = await proto.read_message(reader)
                except proto.ProtocolError as exc:
                    writer.write(proto.error(None, proto.ERR_BAD_REQUEST, str(exc)))
                    break  # framing is lost after a bad frame: close and let the client reconnect
                method = message.get("method")
                # A list or map as the method cannot be looked up in a set; _dispatch answers it bad_request.
                if isinstance(method, str) and method in Sfu.SLOW_METHODS:
                    # Recording start/stop wait on a worker process: answer later, keep serving meanwhile.
                    task = asyncio.create_task(self._answer_later(writer, message, client))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    continue
                writer.write(await self._dispatch(message, client))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            if self.sfu is not None:
                self.sfu.client_gone(client)
            log.info("control_client_disconnected", peer=peer, client=client)

    async def _dispatch(self, message: dict[str, Any], client: int) -> bytes:
        msg_id = message.get("id")
        method = message.get("method")
        params = message.get("params", {})
        if not isinstance(msg_id, int) or not isinstance(method, str) or not isinstance(params, dict):
            return proto.error(msg_id if isinstance(msg_id, int) else None, proto.ERR_BAD_REQUEST,
                               "a request needs an integer id, a string method and a params map")
        assert self.sfu is not None
        try:
            result = await self.sfu.handle(method, params, client)
        except RoomError as exc:
            return proto.error(msg_id, exc.code, str(exc))
        except Exception as exc:
            log.exception("control_request_failed", method=method)
            return proto.error(msg_id, proto.ERR_INTERNAL, f"{type(exc).__name__}: {exc}")
        return proto.response(msg_id, result)

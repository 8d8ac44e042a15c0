"""What the gateway asks of media servers: the control calls, their errors, and the listener types.

`MediaCalls` turns each typed call into one `request(method, params)`; a single server's link (MediaClient) and
the pool that routes each room to its node (MediaPool) both implement that one method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

EventListener = Callable[[str, dict[str, Any]], None]
# Which rooms a connection change concerns: every room for a single server, that node's rooms in a pool.
RoomFilter = Callable[[str], bool]
ConnectionListener = Callable[[bool, RoomFilter], None]


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


class MediaCalls:
    """The typed control calls over one `request`, which a subclass provides."""

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

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

"""Several media servers behind one MediaApi: each room lives on one node, new rooms go to the least-loaded.

A room stays on the node it was placed on (a node that restarts gets its rooms back through the participants'
rejoin); a room this gateway did not place, because it restarted while the media servers ran on, is looked up
on the nodes; calls for a room no node holds answer `not_found`, as a media server that forgot a room does, so
the caller creates it again and it is placed anew.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

import structlog

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from .media_api import ConnectionListener, EventListener, MediaCalls, MediaUnavailable
from .media_client import MediaClient

log = structlog.get_logger(__name__)


def least_loaded(loads: Sequence[tuple[int, int] | None]) -> int | None:
    """The index of the node to place a room on: fewest participants, then fewest rooms, then the first;
    None marks a node that cannot take one (down). A decision only: the pool applies it."""
    candidates = [(load, index) for index, load in enumerate(loads) if load is not None]
    return min(candidates)[1] if candidates else None


class MediaPool(MediaCalls):
    """Routes every room's calls to the node holding it; events and connection changes come from all nodes."""

    def __init__(self, nodes: Sequence[MediaClient]) -> None:
        if not nodes:
            raise ValueError("a media pool needs at least one node")
        self.nodes = list(nodes)
        self._room_node: dict[str, MediaClient] = {}
        self._members: dict[str, set[str]] = {}  # room -> participants joined through this pool
        self._connection_listeners: list[ConnectionListener] = []
        for node in self.nodes:
            node.add_connection_listener(functools.partial(self._on_node_connection, node))

    @property
    def connected(self) -> bool:
        """Every node is reachable (one down is a degraded gateway: its rooms have no media)."""
        return all(node.connected for node in self.nodes)

    def node_of(self, room_id: str) -> MediaClient | None:
        return self._room_node.get(room_id)

    def add_event_listener(self, listener: EventListener) -> None:
        for node in self.nodes:
            node.add_event_listener(listener)

    def add_connection_listener(self, listener: ConnectionListener) -> None:
        self._connection_listeners.append(listener)

    async def start(self) -> None:
        for node in self.nodes:
            await node.start()

    async def close(self) -> None:
        for node in self.nodes:
            await node.close()

    async def wait_connected(self, timeout: float) -> bool:
        results = await asyncio.gather(*(node.wait_connected(timeout) for node in self.nodes))
        return all(results)

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        room_id = params.get("room_id")
        if not isinstance(room_id, str):
            raise ControlError(cp.ERR_BAD_REQUEST, f"{method} without a room goes to a node, not to the pool")
        node = self._room_node.get(room_id) or await self._find(room_id)
        if node is None:
            if method != cp.CREATE_ROOM:
                raise ControlError(cp.ERR_NOT_FOUND, f"no media server holds room {room_id}")
            node = self._place(room_id)
        try:
            result = await node.request(method, params)
        except ControlError:
            if method == cp.CREATE_ROOM and not self._members.get(room_id):
                self._forget(room_id)
            raise
        self._account(method, room_id, params.get("participant_id"))
        return result

    async def _find(self, room_id: str) -> MediaClient | None:
        """A room this pool did not place (this gateway restarted; the media servers did not): ask the nodes."""
        for node in self.nodes:
            if not node.connected:
                continue
            try:
                held = await node.request(cp.STATS, {"room_id": room_id, "summary": True})
            except (ControlError, MediaUnavailable):
                continue
            if room_id not in held.get("rooms", {}):
                continue
            self._room_node[room_id] = node
            self._members[room_id] = set()
            log.info("room_found", room_id=room_id, node=node.address)
            return node
        return None

    def _place(self, room_id: str) -> MediaClient:
        # Claimed before the create_room call returns, so rooms created at once spread over the nodes.
        loads = [self._load(node) if node.connected else None for node in self.nodes]
        index = least_loaded(loads)
        if index is None:
            raise MediaUnavailable("no media server is connected")
        node = self.nodes[index]
        self._room_node[room_id] = node
        self._members[room_id] = set()
        log.info("room_placed", room_id=room_id, node=node.address, loads=loads)
        return node

    def _load(self, node: MediaClient) -> tuple[int, int]:
        rooms = [room for room, holder in self._room_node.items() if holder is node]
        return sum(len(self._members[room]) for room in rooms), len(rooms)

    def _account(self, method: str, room_id: str, participant_id: object) -> None:
        members = self._members.get(room_id)
        if members is None:
            return
        if method == cp.JOIN and isinstance(participant_id, str):
            members.add(participant_id)
        elif method == cp.LEAVE and isinstance(participant_id, str):
            members.discard(participant_id)
        elif method == cp.CLOSE_ROOM:
            self._forget(room_id)

    def _forget(self, room_id: str) -> None:
        self._room_node.pop(room_id, None)
        self._members.pop(room_id, None)

    def _on_node_connection(self, node: MediaClient, up: bool, _every: object) -> None:
        def on_node(room_id: str) -> bool:
            return self._room_node.get(room_id) is node

        for listener in self._connection_listeners:
            try:
                listener(up, on_node)
            except Exception:
                log.exception("media_connection_listener_failed")

"""Several media servers behind one MediaApi: each room lives on one node, new rooms go to the least-loaded.

A room stays on the node it was placed on while the node lives; one unreachable for MOVE_AFTER_S has its rooms
placed again, and their participants rejoin there. A draining node (SIGTERM) takes no new room. A room this
gateway did not place, because it restarted while the media servers ran on, is looked up on the nodes; calls
for a room no node holds answer `not_found`, as a media server that forgot a room does, so the caller creates
it again and it is placed anew.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError, NodeRecord

from .media_api import ConnectionListener, EventListener, MediaCalls, MediaUnavailable
from .media_client import MediaClient

log = structlog.get_logger(__name__)

# A node unreachable this long has its rooms placed again: their participants rejoin elsewhere (media_reset).
# Shorter would turn a control-link blip, which resume rides out, into a full reconnect for everyone.
MOVE_AFTER_S = 3.0


class SharedPlacement(Protocol):
    """Where rooms are, agreed by every gateway (media_registry.RedisPlacement)."""

    async def holder(self, room_id: str) -> str | None: ...

    async def claim(self, room_id: str, node_id: str, live: set[str]) -> str:
        """Place the room on `node_id` unless a node in `live` holds it already; returns the holder."""
        ...


def least_loaded(loads: Sequence[tuple[int, int] | None]) -> int | None:
    """The index of the node to place a room on: fewest participants, then fewest rooms, then the first;
    None marks a node that cannot take one (down). A decision only: the pool applies it."""
    candidates = [(load, index) for index, load in enumerate(loads) if load is not None]
    return min(candidates)[1] if candidates else None


class MediaPool(MediaCalls):
    """Routes every room's calls to the node holding it; events and connection changes come from all nodes."""

    def __init__(self, nodes: Sequence[MediaClient], *, move_after: float = MOVE_AFTER_S,
                 shared: SharedPlacement | None = None) -> None:
        if not nodes and shared is None:
            raise ValueError("a media pool needs at least one node, or a registry that brings them")
        self.nodes = list(nodes)
        # With a registry (MEDIA_SERVER_URL=redis): rooms are placed once across gateways (`shared`), nodes come
        # and go with their heartbeats (media_registry.NodeDirectory), and their load is what they report.
        self._shared = shared
        self._ids: dict[MediaClient, str] = {}
        self._records: dict[MediaClient, NodeRecord] = {}
        self._placed_since_record: dict[MediaClient, int] = {}
        self._event_listeners: list[EventListener] = []
        self._room_node: dict[str, MediaClient] = {}
        self._members: dict[str, set[str]] = {}  # room -> participants joined through this pool
        self._connection_listeners: list[ConnectionListener] = []
        self._draining: set[MediaClient] = set()  # took no new room; cleared when the node comes back (restarted)
        self._moves: dict[MediaClient, asyncio.TimerHandle] = {}
        self.move_after = move_after
        for node in self.nodes:
            node.add_connection_listener(functools.partial(self._on_node_connection, node))

    @property
    def connected(self) -> bool:
        """Every node is reachable (one down is a degraded gateway: its rooms have no media)."""
        return bool(self.nodes) and all(node.connected for node in self.nodes)

    # --- nodes that come and go (the registry) -----------------------------------------------------------------

    async def add_node(self, node_id: str, node: MediaClient, record: NodeRecord) -> None:
        self.nodes.append(node)
        self._ids[node] = node_id
        self.set_record(node, record)
        for listener in self._event_listeners:
            node.add_event_listener(listener)
        node.add_connection_listener(functools.partial(self._on_node_connection, node))
        await node.start()
        log.info("media_node_added", node_id=node_id, node=node.address)

    async def remove_node(self, node: MediaClient) -> None:
        """Its heartbeats stopped: its rooms are placed again now (no waiting for it to come back)."""
        if node not in self.nodes:
            return
        self.nodes.remove(node)
        log.warning("media_node_removed", node_id=self._ids.pop(node, ""), node=node.address)
        self._records.pop(node, None)
        self._placed_since_record.pop(node, None)
        self._draining.discard(node)
        self._cancel_move(node)
        self._move_rooms(node)
        await node.close()

    def set_record(self, node: MediaClient, record: NodeRecord) -> None:
        self._records[node] = record
        self._placed_since_record[node] = 0
        if record.draining:
            self._draining.add(node)

    @property
    def draining(self) -> frozenset[MediaClient]:
        """The nodes that take no new room (they said so: SIGTERM) until they come back as a new process."""
        return frozenset(self._draining)

    def id_of(self, node: MediaClient) -> str | None:
        return self._ids.get(node)

    def node_by_id(self, node_id: str) -> MediaClient | None:
        return next((node for node, known in self._ids.items() if known == node_id), None)

    def node_of(self, room_id: str) -> MediaClient | None:
        return self._room_node.get(room_id)

    def add_event_listener(self, listener: EventListener) -> None:
        self._event_listeners.append(listener)
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
        node = self._room_node.get(room_id) or await self._lookup(room_id)
        if node is None and method != cp.CREATE_ROOM:
            raise ControlError(cp.ERR_NOT_FOUND, f"no media server holds room {room_id}")
        if node is None or (method == cp.CREATE_ROOM and node in self._draining):
            self._forget(room_id)  # a room closed empty on a draining node is created again elsewhere
            return await self._create(room_id, params)
        result = await node.request(method, params)
        self._account(method, room_id, params.get("participant_id"))
        return result

    async def _create(self, room_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Place and create a new room; a node that answers `draining` is passed over until it restarts."""
        while True:
            node = await self._claimed(room_id, self._place(room_id))
            try:
                return await node.request(cp.CREATE_ROOM, params)
            except ControlError as exc:
                self._forget(room_id)
                if exc.code != cp.ERR_DRAINING:
                    raise
                self._draining.add(node)
                log.info("media_node_draining", node=node.address)
            except MediaUnavailable:
                self._forget(room_id)
                raise

    async def _lookup(self, room_id: str) -> MediaClient | None:
        if self._shared is None:
            return await self._find(room_id)
        holder = self.node_by_id(await self._shared.holder(room_id) or "")
        if holder is not None:
            self._adopt(room_id, holder)
        return holder

    def _adopt(self, room_id: str, node: MediaClient) -> None:
        self._room_node[room_id] = node
        self._members.setdefault(room_id, set())

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
            self._adopt(room_id, node)
            log.info("room_found", room_id=room_id, node=node.address)
            return node
        return None

    async def _claimed(self, room_id: str, chosen: MediaClient) -> MediaClient:
        """Our choice, unless another gateway placed the room first: then where it did (the registry's lock)."""
        if self._shared is None:
            return chosen
        # A room claimed for a node that is draining now (it refused the room) is taken over like a dead one's.
        live = {self._ids[node] for node in self.nodes if node in self._ids and node not in self._draining}
        winner = self.node_by_id(await self._shared.claim(room_id, self._ids[chosen], live))
        if winner is None or winner is chosen:
            return chosen
        self._placed_since_record[chosen] = max(0, self._placed_since_record.get(chosen, 0) - 1)
        self._adopt(room_id, winner)
        return winner

    def _place(self, room_id: str) -> MediaClient:
        # Claimed before the create_room call returns, so rooms created at once spread over the nodes.
        loads = [self._load(node) if node.connected and node not in self._draining else None
                 for node in self.nodes]
        index = least_loaded(loads)
        if index is None:
            raise MediaUnavailable("no media server is connected and taking rooms")
        node = self.nodes[index]
        self._adopt(room_id, node)
        if node in self._records:
            self._placed_since_record[node] += 1
        log.info("room_placed", room_id=room_id, node=node.address, loads=loads)
        return node

    def _load(self, node: MediaClient) -> tuple[int, int]:
        record = self._records.get(node)
        if record is not None:  # every gateway's rooms, as the node counts them, plus ours since it did
            return record.participants, record.rooms + self._placed_since_record.get(node, 0)
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

        self._cancel_move(node)
        if up:
            self._draining.discard(node)  # a process that drained has exited: this one is new
        else:
            self._moves[node] = asyncio.get_running_loop().call_later(self.move_after, self._move_rooms, node)
        self._notify(up, on_node)

    def _cancel_move(self, node: MediaClient) -> None:
        move = self._moves.pop(node, None)
        if move is not None:
            move.cancel()

    def _move_rooms(self, node: MediaClient) -> None:
        """The node stayed away: forget its rooms, and have their participants brought back (on another node)."""
        self._moves.pop(node, None)
        moved = {room for room, holder in self._room_node.items() if holder is node}
        for room in moved:
            self._forget(room)
        if moved:
            log.warning("media_rooms_moved", node=node.address, rooms=len(moved))
            self._notify(True, moved.__contains__)

    def _notify(self, up: bool, concerns: Callable[[str], bool]) -> None:
        for listener in self._connection_listeners:
            try:
                listener(up, concerns)
            except Exception:
                log.exception("media_connection_listener_failed")

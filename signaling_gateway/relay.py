"""Meeting-wide delivery across gateways: to this gateway's sockets at once, to the other gateways' over the bus.

A participant's socket may sit on any gateway; whoever sends something to "the meeting" or "its hosts" sends
it through here, and each gateway hands it to the sockets it holds. Commands (a host action on a participant
held elsewhere, the end of a meeting, a resume on another gateway) go out the same way to named handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import structlog

from .bus import Bus
from .hub import Hub, Session

log = structlog.get_logger(__name__)

OP_DELIVER: Final = "deliver"
TO_ALL: Final = "all"
TO_HOSTS: Final = "hosts"

# (meeting id, event) -> None: what a gateway does with another gateway's command.
CommandHandler = Callable[[str, dict[str, Any]], None]


class MeetingRelay:
    def __init__(self, hub: Hub, bus: Bus) -> None:
        self._hub = hub
        self._bus = bus
        self._commands: dict[str, CommandHandler] = {}
        bus.on_event(self._on_event)

    @property
    def gateway_id(self) -> str:
        return self._bus.gateway_id

    async def alive(self, gateway_id: str) -> bool:
        return await self._bus.alive(gateway_id)

    def to_meeting(self, meeting_id: str, message: dict[str, Any], *, exclude: str | None = None) -> None:
        """Every announced participant of the meeting but `exclude`, on every gateway."""
        self._deliver(meeting_id, TO_ALL, exclude, message)
        self.to_other_gateways(meeting_id, message, exclude=exclude)

    def to_other_gateways(self, meeting_id: str, message: dict[str, Any], *, exclude: str | None = None) -> None:
        """Only the other gateways' participants (this gateway's got it already, e.g. in the hub's announce)."""
        self._bus.publish({"op": OP_DELIVER, "meeting": meeting_id, "to": TO_ALL, "except": exclude,
                           "message": message})

    def to_hosts(self, meeting_id: str, message: dict[str, Any]) -> None:
        self._deliver(meeting_id, TO_HOSTS, None, message)
        self._bus.publish({"op": OP_DELIVER, "meeting": meeting_id, "to": TO_HOSTS, "except": None,
                           "message": message})

    def command(self, meeting_id: str, op: str, **params: Any) -> None:
        """Ask the other gateways to do `op` for this meeting (they run the handler registered for it)."""
        self._bus.publish({**params, "op": op, "meeting": meeting_id})

    def on_command(self, op: str, handler: CommandHandler) -> None:
        self._commands[op] = handler

    def _deliver(self, meeting_id: str, audience: str, exclude: str | None, message: dict[str, Any]) -> None:
        for session in self._audience(meeting_id, audience):
            if session.participant_id != exclude:
                session.send(message)

    def _audience(self, meeting_id: str, audience: str) -> list[Session]:
        sessions = self._hub.in_meeting(meeting_id)
        return [s for s in sessions if s.is_host] if audience == TO_HOSTS else sessions

    def _on_event(self, event: dict[str, Any]) -> None:
        meeting_id, op = event["meeting"], event["op"]
        if op == OP_DELIVER:
            message, audience, exclude = event.get("message"), event.get("to"), event.get("except")
            if (isinstance(message, dict) and isinstance(message.get("type"), str)
                    and audience in (TO_ALL, TO_HOSTS) and (exclude is None or isinstance(exclude, str))):
                self._deliver(meeting_id, audience, exclude, message)
            else:
                log.warning("bus_delivery_malformed", meeting_id=meeting_id)
            return
        handler = self._commands.get(op)
        if handler is None:
            log.warning("bus_command_unknown", op=op)
            return
        handler(meeting_id, event)

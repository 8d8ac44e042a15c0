"""Meeting state behind one interface: the embedded MemoryStore now, a Redis store later."""

from __future__ import annotations

from typing import Protocol

from .memory import MemoryStore
from .records import Meeting, Participant, ReconnectGrant


class Store(Protocol):
    """Every method is async so a networked implementation fits the same calls."""

    async def put_meeting(self, meeting: Meeting) -> None: ...

    async def get_meeting(self, meeting_id: str) -> Meeting | None: ...

    async def delete_meeting(self, meeting_id: str) -> None: ...

    async def put_participant(self, participant: Participant) -> None: ...

    async def get_participant(self, participant_id: str) -> Participant | None: ...

    async def touch_participant(self, participant_id: str) -> None: ...

    async def delete_participant(self, participant_id: str) -> None: ...

    async def list_participants(self, meeting_id: str) -> list[Participant]: ...

    async def put_reconnect(self, grant: ReconnectGrant) -> None: ...

    async def take_reconnect(self, token: str) -> ReconnectGrant | None: ...

    async def close(self) -> None: ...


__all__ = ["Meeting", "MemoryStore", "Participant", "ReconnectGrant", "Store"]

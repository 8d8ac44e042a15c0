"""The one place that owns the store's key schema and TTLs (same names in memory and in Redis)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# DESIGN.md §6. Meeting, participant and reconnect keys are refreshed while a participant is connected.
MEETING_TTL: Final = 8 * 3600
PARTICIPANT_TTL: Final = 8 * 3600
ICE_TTL: Final = 5 * 60
RECONNECT_TTL: Final = 60
# Host controls on a guest (kick, mute): as long as the guest's cookie can live (auth.GUEST_TOKEN_TTL), so a
# token issued before the kick has expired by the time its revocation does.
GUEST_CONTROLS_TTL: Final = 8 * 3600


@dataclass(frozen=True)
class Ttls:
    """Seconds each kind of key lives; a store takes these so tests can shorten them."""

    meeting: float = MEETING_TTL
    participant: float = PARTICIPANT_TTL
    ice: float = ICE_TTL
    reconnect: float = RECONNECT_TTL
    guest_controls: float = GUEST_CONTROLS_TTL


DEFAULT_TTLS: Final = Ttls()


def meeting(meeting_id: str) -> str:
    return f"meeting:{meeting_id}"


def participant(participant_id: str) -> str:
    return f"participant:{participant_id}"


def ice(meeting_id: str, participant_id: str) -> str:
    return f"ice:{meeting_id}:{participant_id}"


def reconnect(token: str) -> str:
    return f"reconnect:{token}"


def host_meetings(host: str) -> str:
    """The ids of the meetings a host created (JSON list, oldest first), so the list outlives a gateway."""
    return f"hostmeetings:{host}"


# A host with more meetings than this in 8 hours is not a person: the list keeps the newest.
MAX_HOST_MEETINGS: Final = 200


def guest_controls(meeting_id: str, guest_id: str) -> str:
    return f"guestcontrols:{meeting_id}:{guest_id}"


def revoked_session(session_id: str) -> str:
    """A host session ended by logout: its cookie (or a copy of it) no longer signs anyone in."""
    return f"revokedsession:{session_id}"

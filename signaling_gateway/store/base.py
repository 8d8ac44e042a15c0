"""The `Store` protocol every implementation follows, and the one error a caller has to expect from it."""

from __future__ import annotations

from typing import Protocol

from .records import GuestControls, IceCandidates, Meeting, Participant, ReconnectGrant


class StoreUnavailable(Exception):
    """The backing service (Redis) did not answer; the in-memory store never raises it."""


class Store(Protocol):
    """Every method is async so a networked implementation fits the same calls; keys and TTLs are in keys.py."""

    async def put_meeting(self, meeting: Meeting) -> None:
        """Write the whole record (a new meeting), with the meeting TTL."""

    async def get_meeting(self, meeting_id: str) -> Meeting | None: ...

    async def delete_meeting(self, meeting_id: str) -> None: ...

    async def set_meeting_locked(self, meeting_id: str, locked: bool) -> Meeting | None:
        """The host's lock, keeping the meeting's TTL; None when the meeting is gone."""

    async def end_meeting(self, meeting_id: str) -> Meeting | None:
        """Mark the meeting ended (a tombstone with the meeting TTL, so its link can say so) and delete its
        participants' keys; returns the record as it was, None when there was none."""

    async def put_participant(self, participant: Participant) -> None:
        """Write the record and list it in its meeting's `participants` (refreshing the meeting's TTL)."""

    async def get_participant(self, participant_id: str) -> Participant | None: ...

    async def set_media_state(self, participant_id: str, audio: bool, video: bool) -> Participant | None:
        """Update what the participant sends, keeping its TTL; None when the participant is gone."""

    async def touch_participant(self, participant_id: str) -> bool:
        """Restart the participant's and its meeting's TTLs; False when the participant is gone."""

    async def delete_participant(self, participant_id: str) -> None:
        """Drop the participant, its ICE candidates, and its entry in the meeting's `participants`."""

    async def list_participants(self, meeting_id: str) -> list[Participant]:
        """The meeting's participants whose keys still exist, by join time."""

    async def put_ice(self, candidates: IceCandidates) -> None:
        """Replace the participant's ICE candidates, with the (short) ICE TTL."""

    async def get_ice(self, meeting_id: str, participant_id: str) -> IceCandidates | None: ...

    async def put_reconnect(self, grant: ReconnectGrant) -> None:
        """Store a new grant with the reconnect TTL."""

    async def refresh_reconnect(self, grant: ReconnectGrant) -> bool:
        """Restart an unused grant's TTL; False (and nothing stored) when it was used or has expired."""

    async def get_reconnect(self, token: str) -> ReconnectGrant | None:
        """Look without using it up (to check who may use it before taking it)."""

    async def take_reconnect(self, token: str) -> ReconnectGrant | None:
        """Atomically read and delete: of two callers with one token, one gets the grant."""

    async def add_host_meeting(self, host: str, meeting_id: str) -> None:
        """Remember that `host` created this meeting (the host's list lives as long as a meeting does)."""

    async def host_meetings(self, host: str) -> list[str]:
        """The ids of the meetings `host` created that the list still holds, oldest first."""

    async def get_guest_controls(self, meeting_id: str, guest_id: str) -> GuestControls | None: ...

    async def put_guest_controls(self, controls: GuestControls) -> None:
        """Write what the host imposed on a guest, with the guest-controls TTL (as long as a guest token)."""

    async def revoke_session(self, session_id: str, ttl: float) -> None:
        """Record that a host session ended, for `ttl` seconds (as long as any cookie of it can still be valid)."""

    async def session_revoked(self, session_id: str) -> bool: ...

    async def close(self) -> None: ...

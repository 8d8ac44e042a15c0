"""Taking a dropped participant back: a `?reconnect=` token gives its participant id to its new socket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from . import messages as m
from .auth import Identity
from .hub import Hub
from .store import Store, StoreUnavailable

log = structlog.get_logger(__name__)

# `?reconnect=TOKEN`: our tokens are 32 characters; anything much longer is not one of ours.
MAX_RECONNECT_TOKEN_CHARS = 64
ERR_REPLACED = "replaced"
CLOSE_REPLACED = 4409


def reconnect_identity(identity: Identity) -> str:
    """Who may use a reconnect token: the host account, or the one guest token it was issued to."""
    return "host" if identity.is_host else f"guest:{identity.guest_id}"


@dataclass(frozen=True)
class Resumed:
    """The participant a socket takes over; `joined_at` from the store when it still has the record."""

    participant_id: str
    joined_at: datetime | None
    # Known here (a parked participant or a socket this gateway still held); False after a gateway restart.
    local: bool


class Resumer:
    def __init__(self, store: Store, hub: Hub) -> None:
        self._store = store
        self._hub = hub

    async def take(self, token: str | None, identity: Identity, meeting_id: str) -> Resumed | None:
        """The participant a valid token gives back, or None: the caller joins as someone new.

        The token must be unused, unexpired, for this meeting and issued to this identity; it is used up here
        (single use: the welcome of the resumed socket carries a fresh one). A parked participant is taken out
        of the lot; a socket of the same participant still open (the gateway has not noticed the drop yet) is
        marked replaced and closed without waiting: its end changes nothing.
        """
        if not token or len(token) > MAX_RECONNECT_TOKEN_CHARS:
            return None
        try:
            grant = await self._store.get_reconnect(token)
            # Checked before taking it, so someone else's token cannot be used up by a caller it does not fit.
            if grant is None or grant.meeting_id != meeting_id or grant.identity != reconnect_identity(identity):
                log.info("reconnect_refused", meeting_id=meeting_id, known=grant is not None)
                return None
            if await self._store.take_reconnect(token) is None:
                return None  # another socket used it a moment ago
            stored = await self._store.get_participant(grant.participant_id)
        except StoreUnavailable as exc:
            log.warning("reconnect_store_unavailable", error=str(exc))
            return None
        participant_id = grant.participant_id
        local = self.release(meeting_id, participant_id)
        log.info("participant_resumed", meeting_id=meeting_id, participant_id=participant_id, local=local)
        return Resumed(participant_id, stored.joined_at if stored is not None else None, local)

    def release(self, meeting_id: str, participant_id: str) -> bool:
        """A new socket (here or on another gateway) took the participant: let go of what this gateway held
        of it, without a leave. True when it held something (parked, or a socket not yet seen to drop)."""
        held = self._hub.unpark(meeting_id, participant_id) is not None
        stale = self._hub.get(meeting_id, participant_id)
        if stale is not None:
            held = True
            stale.replaced = True
            self._hub.remove(stale)
            stale.send(m.error(ERR_REPLACED, "this participant reconnected on another socket"))
            stale.close(CLOSE_REPLACED, ERR_REPLACED)
        return held

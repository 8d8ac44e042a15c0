"""The one place that owns the store's key schema and TTLs (same names in memory and in Redis)."""

from __future__ import annotations

from typing import Final

MEETING_TTL: Final = 8 * 3600
PARTICIPANT_TTL: Final = 8 * 3600
RECONNECT_TTL: Final = 60


def meeting(meeting_id: str) -> str:
    return f"meeting:{meeting_id}"


def meeting_participants(meeting_id: str) -> str:
    # An index set, so listing a meeting's participants never scans the keyspace.
    return f"meeting:{meeting_id}:participants"


def participant(participant_id: str) -> str:
    return f"participant:{participant_id}"


def reconnect(token: str) -> str:
    return f"reconnect:{token}"

"""Connection quality notices: the media server's `connection_quality` events to the meeting's sockets here.

Every gateway hears every event of the media servers it is linked to (each has its own control link), so each
delivers to its own sockets only, as for the active speaker: sending through relay.py as well would give a
socket every notice once per gateway. The last notice of each participant is kept per meeting, so somebody
joining later sees the levels at once instead of after the next change.
"""

from __future__ import annotations

from typing import Any

import structlog

from mediaserver import control_protocol as cp

from . import messages as m
from .hub import Hub, Session

log = structlog.get_logger(__name__)


def connection_quality(participant_id: str, level: str, mos: float) -> dict[str, Any]:
    """To everyone in the meeting: that participant's connection quality level (its tile's indicator) and MOS."""
    return {"type": m.CONNECTION_QUALITY, "participant_id": participant_id, "level": level, "mos": mos}


def _notice(params: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(meeting id, message) of a well-formed event; None for anything else (it is dropped, not relayed)."""
    room_id, participant_id = params.get("room_id"), params.get("participant_id")
    level, mos = params.get("level"), params.get("mos")
    if not isinstance(room_id, str) or not isinstance(participant_id, str) or level not in cp.QUALITY_LEVELS:
        return None
    if isinstance(mos, bool) or not isinstance(mos, int | float) or not 1.0 <= mos <= 4.5:
        return None
    return room_id, connection_quality(participant_id, str(level), round(float(mos), 2))


class QualityNotices:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self.levels: dict[str, dict[str, dict[str, Any]]] = {}  # meeting id -> participant id -> last notice

    def on_media_event(self, name: str, params: dict[str, Any]) -> None:
        if name != cp.CONNECTION_QUALITY:
            return
        notice = _notice(params)
        if notice is None:
            log.warning("bad_connection_quality_event", params=str(params)[:200])
            return
        meeting_id, message = notice
        self.levels.setdefault(meeting_id, {})[message["participant_id"]] = message
        for session in self._hub.in_meeting(meeting_id):
            session.send(message)

    def joined(self, session: Session) -> None:
        """The levels known so far (its own included: its own tile shows it too)."""
        for message in self.levels.get(session.meeting_id, {}).values():
            session.send(message)

    def forget(self, meeting_id: str) -> None:
        self.levels.pop(meeting_id, None)

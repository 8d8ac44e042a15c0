"""Keeps each participant's media in step with the media server: its events, subscriber offers, and its comebacks.

When the media server restarts (or a participant's transport ran out of its reconnect window while the socket
stayed up), the participant is joined again under the same id and told `media_reset`: its client builds new
peer connections, and nobody sees a leave or a join.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from . import messages as m
from .host_controls import HostControls
from .hub import Hub, Session
from .media_api import MediaApi, MediaUnavailable, RoomFilter
from .meetings import Meetings
from .metrics import Metrics
from .store import StoreUnavailable

log = structlog.get_logger(__name__)

# Called for a participant the media server dropped that has no socket here (parked, or never resumed here).
Departure = Callable[[str, str], Coroutine[Any, Any, None]]


class MediaSync:
    def __init__(self, *, media: MediaApi, meetings: Meetings, hub: Hub, controls: HostControls,
                 metrics: Metrics, depart: Departure) -> None:
        self._media = media
        self._meetings = meetings
        self._hub = hub
        self._controls = controls
        self._metrics = metrics
        self._depart = depart
        self._departures: set[asyncio.Task[None]] = set()
        media.add_event_listener(self.on_media_event)
        media.add_connection_listener(self.on_media_connection)

    # --- events from the media server ----------------------------------------------------------------------

    def on_media_event(self, name: str, params: dict[str, Any]) -> None:
        self._controls.on_media_event(name, params)  # recording, active speaker, screen shares: meeting-wide
        room_id, participant_id = params.get("room_id"), params.get("participant_id")
        if not isinstance(room_id, str) or not isinstance(participant_id, str):
            return
        session = self._hub.get(room_id, participant_id)
        if name == cp.PARTICIPANT_LEFT:
            reason = params.get("reason")
            if session is not None and isinstance(reason, str) and reason.startswith(cp.REASON_OVER_LIMIT):
                # Cut off for flooding the media server: no media anew, and the client is told why.
                log.warning("participant_over_media_limit", participant_id=participant_id, reason=reason)
                self._metrics.error(m.ERR_MEDIA_LIMIT)
                session.send(m.error(m.ERR_MEDIA_LIMIT, f"disconnected by the media server ({reason})"))
                session.close(m.CLOSE_MEDIA_LIMIT, m.ERR_MEDIA_LIMIT)
            elif session is not None:
                # Its transport ran out of time while the socket stayed up: media anew, same participant.
                session.spawn(self.rejoin(session), "media-rejoin")
            else:
                self._spawn_departure(room_id, participant_id)
            return
        if session is None:
            return
        if name == cp.RENEGOTIATION_NEEDED:
            session.spawn(self.renegotiate(session), "renegotiate")
        elif name == cp.LAYERS_NEEDED:
            # Dynacast goes to the publisher only: it pauses the simulcast layers no subscriber needs.
            track_id, rids = params.get("track_id"), params.get("rids")
            if isinstance(track_id, str) and isinstance(rids, list) and all(isinstance(r, str) for r in rids):
                session.send(m.layers_needed(track_id, rids))
        elif name == cp.TRACK_UNDECODABLE:
            fields = [value for key in ("publisher_id", "track_id", "kind", "codec")
                      if isinstance(value := params.get(key), str)]
            if len(fields) == 4:
                publisher_id, track_id, kind, codec = fields
                active = params.get("active") is not False
                session.send(m.track_unavailable(publisher_id, track_id, kind, codec, active))
        elif name == cp.PUBLISHER_RENEGOTIATE:
            session.send(m.renegotiate_publisher())

    def _spawn_departure(self, room_id: str, participant_id: str) -> None:
        task = asyncio.create_task(self._depart(room_id, participant_id), name=f"depart:{participant_id}")
        self._departures.add(task)
        task.add_done_callback(self._departures.discard)

    def on_media_connection(self, up: bool, concerns: RoomFilter) -> None:
        self._metrics.media_connected.set(1 if self._media.connected else 0)
        sessions = [session for session in self._hub.all_sessions() if concerns(session.meeting_id)]
        if not up:
            log.warning("media_connection_down", sessions=len(sessions))
            return
        # Back: the same media server (a control-link blip: resume keeps everything) or a new one (rejoin).
        # Only the rooms of the node that came back: the others' media never stopped.
        for session in sessions:
            if session.announced.is_set() and not session.closing:
                session.spawn(self.resync(session), "media-resync")

    # --- bringing one participant's media back -------------------------------------------------------------

    async def resync(self, session: Session) -> None:
        try:
            await self._media.resume(session.meeting_id, session.participant_id)
        except ControlError as exc:
            if exc.code != cp.ERR_NOT_FOUND:
                log.warning("media_resume_failed", participant_id=session.participant_id, error=str(exc))
                return
            await self.rejoin(session)
            return
        except MediaUnavailable:
            return  # down again: the next connection brings the next resync
        # Whatever offer was outstanding went to the old control link's era: replace it.
        await self.renegotiate(session, ice_restart=True)

    async def rejoin(self, session: Session) -> None:
        """The media server no longer has this participant: join it again and have its client start over."""
        if session.closing:
            return
        try:
            await self._meetings.join_room(session.meeting_id, session.participant_id, session.name)
            await self._controls.prepare(session)  # the host's blocks hold before any new track forwards
        except (ControlError, MediaUnavailable, StoreUnavailable) as exc:
            log.warning("media_rejoin_failed", participant_id=session.participant_id, error=str(exc))
            return
        self._metrics.reconnections.labels(kind="media_reset").inc()
        log.info("media_reset", meeting_id=session.meeting_id, participant_id=session.participant_id)
        session.send(m.media_reset())

    async def renegotiate(self, session: Session, *, ice_restart: bool = False) -> None:
        """Relay a subscriber offer; `ice_restart` gives it new ICE credentials and drops an outstanding one
        (it went to a socket that is gone, or the browser's connection to the media server failed)."""
        await session.announced.wait()
        # One subscriber offer at a time per participant; a second event while one is pending gets `busy`.
        async with session.negotiation_lock:
            if session.closing:
                return
            try:
                sdp, offer_id = await self._media.subscriber_offer(
                    session.meeting_id, session.participant_id, ice_restart=ice_restart
                )
            except ControlError as exc:
                if exc.code not in (cp.ERR_BUSY, cp.ERR_NOT_FOUND):  # busy: re-emitted once the answer is in
                    session.send(m.error(exc.code, exc.message))
                return
            except MediaUnavailable as exc:
                log.info("subscriber_offer_failed", participant_id=session.participant_id, error=str(exc))
                return
            session.send(m.subscribe_offer(sdp, offer_id))

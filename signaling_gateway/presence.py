"""Who is still in a meeting: a dropped socket's participant parked for its window, and leaving for good.

A socket is not the participant: when a socket drops without a goodbye, the participant is parked for the
reconnect window (the others keep its tile, frozen) and a socket with its reconnect token takes it back, on this
gateway or another (which says so over the bus). When the window runs out, or the media server drops it, the
participant leaves: the others are told, its keys and its media session go.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from mediaserver.control_protocol import ControlError

from . import messages as m
from .host_controls import HostControls
from .hub import Hub, ParkedParticipant, Session
from .media_api import MediaApi, MediaUnavailable
from .metrics import Metrics
from .relay import MeetingRelay
from .resume import Resumer
from .store import Store, StoreUnavailable

log = structlog.get_logger(__name__)


class Presence:
    def __init__(self, *, store: Store, media: MediaApi, hub: Hub, relay: MeetingRelay, metrics: Metrics,
                 controls: HostControls, resumer: Resumer, reconnect_window: float) -> None:
        self._store = store
        self._media = media
        self._hub = hub
        self._relay = relay
        self._metrics = metrics
        self._controls = controls
        self._resumer = resumer
        self.reconnect_window = reconnect_window
        self._background: set[asyncio.Task[None]] = set()

    def count(self) -> None:
        """The gauges of who is here: sockets and parked participants, meetings, TURN-relayed participants."""
        sessions = self._hub.all_sessions()
        parked = sum(len(self._hub.parked_in(mid)) for mid in {s.meeting_id for s in sessions})
        self._metrics.participants.set(len(sessions) + parked)
        self._metrics.meetings.set(self._hub.meeting_count)
        self._metrics.relayed.set(sum(1 for s in sessions if s.relayed))

    def park(self, session: Session) -> None:
        """The socket dropped: keep the participant (media, tracks, tile) for the reconnect window."""
        self._hub.remove(session)
        parked = ParkedParticipant.of(session)
        self._hub.park(parked)
        self._controls.left(session)
        self._relay.to_meeting(session.meeting_id, m.participant_connection(session.participant_id, False),
                               exclude=session.participant_id)
        parked.expiry = asyncio.get_running_loop().call_later(self.reconnect_window, self._expire, parked)
        log.info("participant_parked", meeting_id=session.meeting_id, participant_id=session.participant_id,
                 close_code=session.ws.close_code, window_s=self.reconnect_window)

    def _expire(self, parked: ParkedParticipant) -> None:
        if self._hub.unpark(parked.meeting_id, parked.participant_id) is not parked:
            return  # resumed meanwhile
        self._metrics.reconnections.labels(kind="expired").inc()
        log.info("reconnect_window_over", meeting_id=parked.meeting_id, participant_id=parked.participant_id)
        task = asyncio.create_task(self.depart(parked.meeting_id, parked.participant_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        self.count()

    def resumed_elsewhere(self, meeting_id: str, event: dict[str, Any]) -> None:
        participant_id = event.get("participant")
        if isinstance(participant_id, str) and self._resumer.release(meeting_id, participant_id):
            log.info("participant_resumed_elsewhere", meeting_id=meeting_id, participant_id=participant_id)
            self._metrics.experience.forget(participant_id)  # its call goes on, counted by the other gateway
            self.count()

    async def depart_unseen(self, meeting_id: str, participant_id: str) -> None:
        """The media server dropped a participant with no socket here (parked, on another gateway, or never
        back after a restart): gone for good unless a live gateway other than this one holds it."""
        if self._hub.unpark(meeting_id, participant_id) is not None:
            log.info("parked_participant_dropped_by_media", participant_id=participant_id)
        else:
            try:
                stored = await self._store.get_participant(participant_id)
            except StoreUnavailable:
                return  # the keys expire by their TTLs; its own gateway (if any) gets the same event
            if stored is None:
                return  # already departed (by its gateway, or by another one that got this event first)
            if stored.gateway != self._relay.gateway_id and await self._relay.alive(stored.gateway):
                return  # its gateway got the same event: it rejoins the participant or departs it
        await self.depart(meeting_id, participant_id, in_media=False)
        self.count()

    async def depart(self, meeting_id: str, participant_id: str, *, in_media: bool = True) -> None:
        """The participant is gone for good: the others are told, its keys and its media session go.

        Told even when it was never announced here: another gateway's welcome may have listed it from the store.
        """
        self._metrics.experience.departed(participant_id)
        self._relay.to_meeting(meeting_id, m.participant_left(participant_id), exclude=participant_id)
        try:
            # The reconnect grant stays: it expires on its own 60 s after the socket closed.
            await self._store.delete_participant(participant_id)
        except StoreUnavailable as exc:
            # The media server must still hear about the leave; the keys expire by their TTLs.
            log.warning("store_leave_failed", participant_id=participant_id, error=str(exc))
        if in_media:
            try:
                await self._media.leave(meeting_id, participant_id)
            except (ControlError, MediaUnavailable) as exc:
                # not_found is normal when the media server dropped the participant first.
                log.info("media_leave_failed", participant_id=participant_id, error=str(exc))
        log.info("participant_left", meeting_id=meeting_id, participant_id=participant_id)

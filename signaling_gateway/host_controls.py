"""Host controls: mute / video off, kick, end, lock, recording, and the host's live call statistics.

Every control is enforced by the servers, never only drawn in the host's browser:
* mute and video off call the media server's `set_track_enabled`, which stops forwarding at once; the block
  is kept per guest token (store: `guestcontrols:`), re-applied on every join and publish, and a blocked
  guest's `media_state` is clamped, so a client that ignores `force_mute` still sends to nobody;
* kick marks the guest token removed (admission refuses it from then on), revokes the socket's reconnect
  token, closes the socket and tells the media server the participant left;
* end turns the meeting record into a tombstone (no admission, the link says it ended), revokes reconnect
  tokens, closes every socket and closes the media room;
* lock is a field of the meeting record checked at admission (pages.py for the join form, `lock_refusal`
  for sockets); recording runs in the media server.
Only a host session may send `host_action`; anything else gets `error forbidden` and changes nothing.
With several gateways the host and a guest may sit on different ones: an action on a participant held
elsewhere is a bus command its gateway carries out, and the end of a meeting closes every gateway's sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from mediaserver import control_protocol as cp
from mediaserver.control_protocol import ControlError

from . import host_messages as hm
from . import messages as m
from .auth import Identity
from .call_stats import STATS_INTERVAL, CallStats
from .hub import Hub, Session
from .media_api import MediaApi, MediaUnavailable
from .meetings import Meetings
from .quality_notices import QualityNotices
from .relay import MeetingRelay
from .store import GuestControls, Participant, Store, StoreUnavailable

log = structlog.get_logger(__name__)

KINDS = ("audio", "video")
# A blocked guest may ask again after this long: the host is not to be flooded with requests.
UNMUTE_REQUEST_INTERVAL = 5.0
ERR_NOT_FOUND = "not_found"
ERR_BAD_REQUEST = "bad_request"
# Bus commands (relay.py) between gateways.
OP_PARTICIPANT_ACTION = "host_action"
OP_END = "end_meeting"
OP_HOST_JOINED = "host_joined"


@dataclass(frozen=True)
class Refusal:
    """Why a request or an admission is refused: sent as `error {code, message}` (and a close code)."""

    code: str
    message: str
    close_code: int = 1000


FORBIDDEN = Refusal(m.ERR_FORBIDDEN, "only the host can do this")


class HostControls:
    def __init__(
        self, *, store: Store, media: MediaApi, hub: Hub, relay: MeetingRelay, meetings: Meetings,
        stats_interval: float = STATS_INTERVAL,
    ) -> None:
        self._store = store
        self._media = media
        self._hub = hub
        self._relay = relay
        self._meetings = meetings
        # Live per-socket copy of the store's blocks, for the synchronous clamp of media_state.
        self._blocked: dict[tuple[str, str], set[str]] = {}
        # Per meeting, for people who join later: recording on, current speaker, screen shares by publisher.
        self._recording: dict[str, bool] = {}
        self._speaker: dict[str, str] = {}
        self._screens: dict[str, dict[str, str]] = {}
        self._quality = QualityNotices(hub)
        self._stats = CallStats(store=store, media=media, hub=hub, meetings=meetings, gateway_id=relay.gateway_id,
                                blocked=lambda meeting_id, pid: self._blocked.get((meeting_id, pid), set()),
                                interval=stats_interval)
        self._unmute_asked: dict[tuple[str, str, str], float] = {}
        self._commands: set[asyncio.Task[None]] = set()
        relay.on_command(OP_PARTICIPANT_ACTION, self._on_remote_action)
        relay.on_command(OP_END, self._on_remote_end)
        relay.on_command(OP_HOST_JOINED, self._on_remote_host)

    # --- admission -----------------------------------------------------------------------------------------

    async def refusal(self, identity: Identity, meeting_id: str) -> Refusal | None:
        """Why this caller may not open a socket in this meeting (unknown, ended, removed), or None."""
        if await self._meetings.get(meeting_id) is None:
            if await self._meetings.has_ended(meeting_id):
                return Refusal(m.ERR_MEETING_ENDED, "the host ended this meeting", m.CLOSE_MEETING_ENDED)
            return Refusal(m.ERR_MEETING_NOT_FOUND, "this meeting does not exist", m.CLOSE_NOT_FOUND)
        if await self.removed(identity, meeting_id):
            return Refusal(m.ERR_KICKED, "the host removed you from this meeting", m.CLOSE_KICKED)
        return None

    async def removed(self, identity: Identity, meeting_id: str) -> bool:
        if identity.is_host or identity.guest_id is None:
            return False
        controls = await self._store.get_guest_controls(meeting_id, identity.guest_id)
        return controls is not None and controls.removed

    async def lock_refusal(self, identity: Identity, meeting_id: str, *, resumed: bool) -> Refusal | None:
        """A locked meeting takes no one new; the host and a participant resuming its own session get in."""
        if identity.is_host or resumed:
            return None
        meeting = await self._meetings.get(meeting_id)
        if meeting is not None and meeting.locked:
            return Refusal(m.ERR_MEETING_LOCKED, "the host has locked this meeting", m.CLOSE_LOCKED)
        return None

    # --- a participant's socket ----------------------------------------------------------------------------

    async def prepare(self, session: Session) -> None:
        """After the media join, before anyone hears of the newcomer: re-apply the host's blocks on this guest."""
        if session.guest_id is None:
            return
        controls = await self._store.get_guest_controls(session.meeting_id, session.guest_id)
        blocked = {kind for kind in KINDS if controls is not None and controls.blocked(kind)}
        if not blocked:
            return
        self._blocked[(session.meeting_id, session.participant_id)] = blocked
        session.audio = session.audio and "audio" not in blocked
        session.video = session.video and "video" not in blocked
        await self._enforce(session)

    def joined(self, session: Session) -> None:
        """After welcome: the meeting's current state, and the blocks, for this client."""
        meeting_id = session.meeting_id
        blocked = sorted(self._blocked.get((meeting_id, session.participant_id), ()))
        for kind in blocked:
            session.send(hm.force_mute(kind))
        if blocked:
            self._relay.to_hosts(meeting_id, self._moderation(session))
        if self._recording.get(meeting_id):
            session.send(hm.recording(True))
        if meeting_id in self._speaker:
            session.send(hm.active_speaker(self._speaker[meeting_id]))
        for publisher, track_id in self._screens.get(meeting_id, {}).items():
            session.send(hm.screen_share(publisher, track_id, True))
        self._quality.joined(session)
        if session.is_host:
            self._send_moderation(meeting_id, session.send)
            self._relay.command(meeting_id, OP_HOST_JOINED)  # the other gateways' blocked guests, too
            self._stats.ensure(meeting_id)

    def left(self, session: Session) -> None:
        meeting_id = session.meeting_id
        self._blocked.pop((meeting_id, session.participant_id), None)
        for kind in KINDS:
            self._unmute_asked.pop((meeting_id, session.participant_id, kind), None)
        if not self._hosts(meeting_id):
            self._stats.stop(meeting_id)
        if not self._hub.in_meeting(meeting_id):
            self._speaker.pop(meeting_id, None)
            self._screens.pop(meeting_id, None)
            self._quality.forget(meeting_id)

    def clamp_media(self, session: Session, audio: bool, video: bool) -> tuple[bool, bool]:
        """A blocked kind stays off whatever the client says: the others' indicators show the truth."""
        blocked = self._blocked.get((session.meeting_id, session.participant_id), set())
        return audio and "audio" not in blocked, video and "video" not in blocked

    async def after_publish(self, session: Session) -> None:
        """A new publisher offer may have created publications: block them before the client has its answer."""
        if self._blocked.get((session.meeting_id, session.participant_id)):
            await self._enforce(session)

    async def _enforce(self, session: Session) -> None:
        for kind in sorted(self._blocked.get((session.meeting_id, session.participant_id), ())):
            await self._media.set_track_enabled(session.meeting_id, session.participant_id, kind, False)

    # --- messages from clients -----------------------------------------------------------------------------

    async def handle(self, session: Session, message: m.ClientMessage) -> Refusal | None:
        if message.type == m.REQUEST_UNMUTE:
            assert message.kind is not None  # parse_client_message guarantees it
            self._request_unmute(session, message.kind)
            return None
        if not session.is_host:
            log.warning("host_action_forbidden", participant_id=session.participant_id, action=message.action)
            return FORBIDDEN
        action = message.action
        log.info("host_action", meeting_id=session.meeting_id, action=action, target=message.participant_id)
        if action in ("lock", "unlock"):
            await self._lock(session.meeting_id, action == "lock")
        elif action == "record_start":
            await self._media.start_recording(session.meeting_id)
        elif action == "record_stop":
            await self._media.stop_recording(session.meeting_id)
        elif action == "end":
            await self.end(session.meeting_id)
        else:
            return await self._participant_action(session, action, message.participant_id)
        return None

    async def _participant_action(self, host: Session, action: str | None, target_id: str | None) -> Refusal | None:
        target = self._hub.get(host.meeting_id, target_id or "")
        if target is None or target.closing:
            return await self._remote_action(host.meeting_id, action, target_id)
        if target.guest_id is None:
            return Refusal(ERR_BAD_REQUEST, "host controls apply to guests, not to the host")
        await self._apply(target, action)
        return None

    async def _remote_action(self, meeting_id: str, action: str | None, target_id: str | None) -> Refusal | None:
        """A participant with no socket here: if the store has it in this meeting, its gateway acts."""
        stored: Participant | None = await self._store.get_participant(target_id) if target_id else None
        if stored is None or stored.meeting_id != meeting_id or stored.gateway == self._relay.gateway_id:
            return Refusal(ERR_NOT_FOUND, "that participant is not in the meeting")
        if stored.is_host:
            return Refusal(ERR_BAD_REQUEST, "host controls apply to guests, not to the host")
        self._relay.command(meeting_id, OP_PARTICIPANT_ACTION, action=action, participant=target_id)
        return None

    def _on_remote_action(self, meeting_id: str, event: dict[str, Any]) -> None:
        action, target_id = event.get("action"), event.get("participant")
        if action not in m.PARTICIPANT_ACTIONS or not isinstance(target_id, str):
            return
        target = self._hub.get(meeting_id, target_id)
        if target is None or target.closing or target.guest_id is None:
            return  # not ours (every gateway hears the command), or gone meanwhile
        log.info("host_action_relayed", meeting_id=meeting_id, action=action, target=target_id)
        self._spawn(self._apply(target, action))

    def _on_remote_end(self, meeting_id: str, event: dict[str, Any]) -> None:
        if any(s.meeting_id == meeting_id for s in self._hub.all_sessions()):
            self._spawn(self._close_meeting(meeting_id))

    def _on_remote_host(self, meeting_id: str, event: dict[str, Any]) -> None:
        self._send_moderation(meeting_id, lambda message: self._relay.to_hosts(meeting_id, message))

    def _send_moderation(self, meeting_id: str, send: Callable[[dict[str, Any]], None]) -> None:
        """What the host has blocked on each of this gateway's participants, for a host who just joined."""
        for other in self._hub.in_meeting(meeting_id):
            if self._blocked.get((meeting_id, other.participant_id)):
                send(self._moderation(other))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._logged(coro))
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)

    @staticmethod
    async def _logged(coro: Coroutine[Any, Any, None]) -> None:
        try:
            await coro
        except (ControlError, MediaUnavailable, StoreUnavailable) as exc:
            log.warning("relayed_host_action_failed", error=str(exc))

    async def _apply(self, target: Session, action: str | None) -> None:
        if action == "kick":
            await self._kick(target)
        elif action in ("mute", "video_off"):
            await self._block(target, "audio" if action == "mute" else "video", True)
        else:
            kind = "audio" if action == "unmute" else "video"
            if kind in self._blocked.get((target.meeting_id, target.participant_id), ()):
                await self._block(target, kind, False)  # else nothing to lift: the guest's button works

    async def _block(self, target: Session, kind: str, blocked: bool) -> None:
        meeting_id, guest_id = target.meeting_id, target.guest_id
        assert guest_id is not None
        if blocked:
            # The media server first: forwarding stops before anyone is told.
            for session in self._sessions_of(meeting_id, guest_id):
                self._blocked.setdefault((meeting_id, session.participant_id), set()).add(kind)
                await self._media.set_track_enabled(meeting_id, session.participant_id, kind, False)
        controls = await self._store.get_guest_controls(meeting_id, guest_id) or GuestControls(meeting_id, guest_id)
        await self._store.put_guest_controls(controls.with_blocked(kind, blocked))
        for session in self._sessions_of(meeting_id, guest_id):
            if not blocked:
                self._blocked.get((meeting_id, session.participant_id), set()).discard(kind)
                await self._media.set_track_enabled(meeting_id, session.participant_id, kind, True)
                session.send(hm.unmute_allowed(kind))
            else:
                session.send(hm.force_mute(kind))
                await self._show_off(session, kind)
            self._relay.to_hosts(meeting_id, self._moderation(session))

    async def _show_off(self, session: Session, kind: str) -> None:
        """Everyone's indicator shows the blocked kind off at once, without waiting for the guest's client."""
        audio, video = self.clamp_media(session, session.audio, session.video)
        if (audio, video) == (session.audio, session.video):
            return
        session.audio, session.video = audio, video
        # Not to itself: its own client turns the device off on force_mute.
        self._relay.to_meeting(session.meeting_id, m.participant_media(session.participant_id, audio, video),
                               exclude=session.participant_id)
        await self._store.set_media_state(session.participant_id, audio, video)

    async def _kick(self, target: Session) -> None:
        meeting_id, guest_id = target.meeting_id, target.guest_id
        assert guest_id is not None
        # Stored first: from this moment admission refuses the token, whatever happens to the sockets.
        controls = await self._store.get_guest_controls(meeting_id, guest_id) or GuestControls(meeting_id, guest_id)
        await self._store.put_guest_controls(GuestControls(meeting_id, guest_id, removed=True,
                                                           audio_blocked=controls.audio_blocked,
                                                           video_blocked=controls.video_blocked))
        for session in self._sessions_of(meeting_id, guest_id):
            await self._revoke_reconnect(session)
            session.send(hm.kicked())
            session.close(m.CLOSE_KICKED, m.ERR_KICKED)
            # The media connections close now, not when the socket's own cleanup gets to it.
            with contextlib.suppress(ControlError, MediaUnavailable):
                await self._media.leave(meeting_id, session.participant_id)
        log.info("participant_kicked", meeting_id=meeting_id, participant_id=target.participant_id)

    async def end(self, meeting_id: str) -> None:
        await self._store.end_meeting(meeting_id)
        self._relay.command(meeting_id, OP_END)
        await self._close_meeting(meeting_id)
        try:
            await self._media.close_room(meeting_id)  # also stops a recording and closes its files
        except (ControlError, MediaUnavailable) as exc:
            log.warning("close_room_failed", meeting_id=meeting_id, error=str(exc))
        log.info("meeting_ended", meeting_id=meeting_id)

    async def _close_meeting(self, meeting_id: str) -> None:
        """This gateway's part of the end: every socket of the meeting told and closed, its state dropped."""
        for session in [s for s in self._hub.all_sessions() if s.meeting_id == meeting_id]:
            await self._revoke_reconnect(session)
            session.send(hm.meeting_ended())
            session.close(m.CLOSE_MEETING_ENDED, m.ERR_MEETING_ENDED)
        self._stats.stop(meeting_id)
        for cache in (self._recording, self._speaker, self._screens):
            cache.pop(meeting_id, None)
        self._quality.forget(meeting_id)

    async def _revoke_reconnect(self, session: Session) -> None:
        if session.reconnect_token is not None:
            await self._store.take_reconnect(session.reconnect_token)

    async def _lock(self, meeting_id: str, locked: bool) -> None:
        if await self._store.set_meeting_locked(meeting_id, locked) is None:
            return
        self._relay.to_meeting(meeting_id, hm.meeting_locked(locked))

    def _request_unmute(self, session: Session, kind: str) -> None:
        if kind not in self._blocked.get((session.meeting_id, session.participant_id), ()):
            return  # nothing to ask: the guest's own button works
        key = (session.meeting_id, session.participant_id, kind)
        now = time.monotonic()
        if now - self._unmute_asked.get(key, -1e9) < UNMUTE_REQUEST_INTERVAL:
            return
        self._unmute_asked[key] = now
        self._relay.to_hosts(session.meeting_id, hm.unmute_requested(session.participant_id, session.name, kind))

    # --- media server events -------------------------------------------------------------------------------

    def on_media_event(self, name: str, params: dict[str, Any]) -> None:
        self._quality.on_media_event(name, params)
        room_id, participant_id = params.get("room_id"), params.get("participant_id")
        if not isinstance(room_id, str):
            return
        message: dict[str, Any] | None = None
        if name == cp.RECORDING and isinstance(params.get("active"), bool):
            active = bool(params["active"])
            if active:
                self._recording[room_id] = True
            else:
                self._recording.pop(room_id, None)
            message = hm.recording(active)
        elif name == cp.ACTIVE_SPEAKER and isinstance(participant_id, str):
            self._speaker[room_id] = participant_id
            message = hm.active_speaker(participant_id)
        elif name in (cp.TRACK_PUBLISHED, cp.TRACK_UNPUBLISHED) and params.get("source") == "screen":
            track_id = params.get("track_id")
            if not isinstance(participant_id, str) or not isinstance(track_id, str):
                return
            screens = self._screens.setdefault(room_id, {})
            active = name == cp.TRACK_PUBLISHED
            if active:
                screens[participant_id] = track_id
            elif screens.get(participant_id) == track_id:
                del screens[participant_id]
            message = hm.screen_share(participant_id, track_id, active)
        if message is not None:
            for session in self._hub.in_meeting(room_id):
                session.send(message)

    # --- helpers -------------------------------------------------------------------------------------------

    def _hosts(self, meeting_id: str) -> list[Session]:
        return [s for s in self._hub.in_meeting(meeting_id) if s.is_host]

    def _sessions_of(self, meeting_id: str, guest_id: str) -> list[Session]:
        """Every open socket of one guest token (a guest may have the meeting open in two tabs)."""
        return [s for s in self._hub.all_sessions() if s.meeting_id == meeting_id and s.guest_id == guest_id
                and not s.closing]  # fmt: skip

    def _moderation(self, session: Session) -> dict[str, Any]:
        blocked = self._blocked.get((session.meeting_id, session.participant_id), set())
        return hm.moderation(session.participant_id, "audio" in blocked, "video" in blocked)

    async def close(self) -> None:
        await self._stats.close()
        tasks = list(self._commands)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

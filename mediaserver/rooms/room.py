"""Room: one meeting on this media server; wires publications to every other participant's subscriptions."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from OpenSSL import SSL

from mediaserver import control_protocol as proto
from mediaserver.recording.recorder import RoomRecorder
from mediaserver.sdp.identity import announced_addresses
from mediaserver.sdp.negotiation import VIDEO_CODECS
from mediaserver.transport.ports import MuxPort

from .call_quality import CallQuality
from .participant import Participant, TilePrefs
from .publication import Publication
from .speaker import SPEAKER_INTERVAL_S, SpeakerDetector

log = structlog.get_logger(__name__)

EventSink = Callable[[str, dict[str, Any]], None]
RTCP_INTERVAL_S = 1.0
# Transport-wide feedback goes to each publisher every other slice (~100 ms, as libwebrtc's receivers send it):
# its send-side estimator needs it that often, the once-a-second reports would starve it. TICK_SLICES is even,
# so a participant's turn stays every other slice across the second's wrap.
FEEDBACK_EVERY_SLICES = 2
# Each participant's once-a-second work (RTCP, layer choice, dynacast) runs in its own slice of the second:
# done for all 20 at once it held the loop for 5-10 ms, and every packet queued behind it.
TICK_SLICES = 20
SPEAKER_EVERY_SLICES = max(1, round(SPEAKER_INTERVAL_S * TICK_SLICES / RTCP_INTERVAL_S))
# A participant no gateway speaks for (its gateway's control connection went away) waits this long for
# another gateway to resume it before it leaves; the same default as the clients' reconnect window.
DETACHED_WINDOW_S = 60.0


class RoomError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Room:
    def __init__(
        self,
        room_id: str,
        mux: MuxPort,
        ssl_context: SSL.Context,
        fingerprint: str,
        public_ip: str,
        public_port: int,
        emit: EventSink,
        remb_bps: int,
        detached_window: float = DETACHED_WINDOW_S,
        video_codecs: Sequence[str] = VIDEO_CODECS,
        call_quality: CallQuality | None = None,
        upstream_nack: bool = True,
    ) -> None:
        self.id = room_id
        # The media server's histograms (one for all rooms); a room of its own in tests that pass none.
        self.call_quality = call_quality or CallQuality()
        # The room's video codec preference, best first: what publishers are asked for when everyone decodes it.
        self.video_codecs = tuple(video_codecs)
        self.mux = mux
        self.ssl_context = ssl_context
        self.fingerprint = fingerprint
        self.public_ips = tuple(announced_addresses(public_ip))  # MEDIA_PUBLIC_IP, read once
        self.public_port = public_port
        self.remb_bps = remb_bps
        self.upstream_nack = upstream_nack
        self._emit = emit
        self.detached_window = detached_window
        self.participants: dict[str, Participant] = {}
        # Since when nobody is in the room (the media server closes it after its departure timeout).
        self.empty_since: float | None = time.monotonic()
        self._speaker = SpeakerDetector()
        self.recorder: RoomRecorder | None = None
        self._slice = 0
        loop = asyncio.get_running_loop()
        # Ticks on a fixed grid (call_at), not 50 ms after the last one ran: under load a relative timer drifts,
        # and the publishers' ~100-ms feedback and the once-a-second work stretch with it.
        self._next_tick_at = loop.time() + RTCP_INTERVAL_S / TICK_SLICES
        self._rtcp_timer: asyncio.TimerHandle | None = loop.call_at(self._next_tick_at, self._tick)

    def get(self, participant_id: str) -> Participant:
        participant = self.participants.get(participant_id)
        if participant is None:
            raise RoomError(proto.ERR_NOT_FOUND, f"participant {participant_id!r} is not in room {self.id!r}")
        return participant

    def join(self, participant_id: str, name: str, owner: int = 0) -> Participant:
        if participant_id in self.participants:
            # A client that lost its media (new peer connections) replaces its stale session.
            self.leave(participant_id, "replaced by a new session")
        participant = Participant(self, participant_id, name)
        participant.tick_slice = self._least_used_slice()
        participant.owner = owner
        self.participants[participant_id] = participant
        self.empty_since = None
        for other in self.participants.values():
            if other is participant:
                continue
            for pub in other.publications.values():
                participant.subscribing.subscribe(pub)
        log.info("participant_joined", room=self.id, participant=participant_id)
        return participant

    def publish(self, participant: Participant, offer_sdp: str) -> str:
        answer, created, removed = participant.answer_publisher(offer_sdp)
        for pub in removed:
            self._withdraw(participant, pub)
        for pub in created:
            self._announce(participant, pub)
        return answer

    def _withdraw(self, publisher: Participant, pub: Publication) -> None:
        for other in self.participants.values():
            other.subscribing.unsubscribe(pub)
        if self.recorder is not None:
            self.recorder.remove(pub)
        self._emit(proto.TRACK_UNPUBLISHED, {"room_id": self.id, "participant_id": publisher.id,
                                             "track_id": pub.id, "kind": pub.kind, "source": pub.source})

    def _announce(self, publisher: Participant, pub: Publication) -> None:
        for other in self.participants.values():
            if other is not publisher:
                other.subscribing.subscribe(pub)
        if self.recorder is not None:
            self.recorder.add(pub, publisher.name)
        self._emit(proto.TRACK_PUBLISHED, {
            "room_id": self.id, "participant_id": publisher.id, "track_id": pub.id, "kind": pub.kind,
            "source": pub.source,
        })

    def leave(self, participant_id: str, reason: str) -> bool:
        participant = self.participants.pop(participant_id, None)
        if participant is None:
            return False
        participant.close()
        if not self.participants:
            self.empty_since = time.monotonic()
        for pub in participant.publications.values():
            for other in self.participants.values():
                other.subscribing.unsubscribe(pub)
            if self.recorder is not None:
                self.recorder.remove(pub)
        log.info("participant_left", room=self.id, participant=participant_id, reason=reason)
        return True

    def transport_lost(self, participant: Participant, reason: str) -> None:
        """A transport died (no ICE restart within the reconnect window, DTLS failure): gone for everyone."""
        if self.leave(participant.id, reason):
            self._emit(proto.PARTICIPANT_LEFT, {"room_id": self.id, "participant_id": participant.id,
                                                "reason": reason})

    def resume(self, participant: Participant, owner: int) -> None:
        """A gateway speaks for this participant again (its client's socket came back, maybe elsewhere)."""
        participant.owner = owner
        participant.detached_at = None
        participant.publishing.forget_dynacast()
        log.info("participant_resumed", room=self.id, participant=participant.id, owner=owner)

    def detach_owner(self, owner: int, now: float) -> None:
        """The gateway connection `owner` went away: its participants wait for another to resume them."""
        for participant in self.participants.values():
            if participant.owner == owner and participant.detached_at is None:
                participant.detached_at = now

    def expire_detached(self, now: float) -> None:
        for participant in list(self.participants.values()):
            if participant.detached_at is not None and now - participant.detached_at > self.detached_window:
                self.transport_lost(participant, f"no gateway resumed it within {self.detached_window:g} s")

    def codec_order(self, participant: Participant) -> Sequence[str]:
        """The room's preference, with the codecs every other participant's browser decodes first."""
        decoders = [d for p in self.participants.values()
                    if p is not participant and (d := p.subscribing.video_decodes) is not None]
        # A preference, not a restriction: a publisher that has only a codec the room does not list still sends.
        order = [*self.video_codecs, *(c for c in VIDEO_CODECS if c not in self.video_codecs)]
        return sorted(order, key=lambda codec: not all(codec in d for d in decoders))

    def track_undecodable(self, participant: Participant, pub: Publication, active: bool) -> None:
        """The participant's browser cannot decode `pub` (or, `active` False, that track is gone): tell its client,
        and ask the publisher for a codec it can decode when its offer had one (Chrome offering VP8 and H.264,
        a Firefox without H.264 joining)."""
        publisher = self.participants.get(pub.participant_id)
        decodes = participant.subscribing.video_decodes or frozenset()
        log.info("track_undecodable", room=self.id, participant=participant.id, track=pub.id, codec=pub.codec_name,
                 decodes=sorted(decodes), active=active)
        self._emit(proto.TRACK_UNDECODABLE, {"room_id": self.id, "participant_id": participant.id,
                                             "publisher_id": pub.participant_id, "track_id": pub.id,
                                             "kind": pub.kind, "codec": pub.codec_name, "active": active})
        if active and publisher is not None and any(c in decodes for c in pub.offered_codecs if c != pub.codec_name):
            self._emit(proto.PUBLISHER_RENEGOTIATE, {"room_id": self.id, "participant_id": publisher.id,
                                                     "reason": f"{participant.id} cannot decode {pub.codec_name}"})

    def renegotiation_needed(self, participant: Participant) -> None:
        self._emit(proto.RENEGOTIATION_NEEDED, {"room_id": self.id, "participant_id": participant.id})

    def _least_used_slice(self) -> int:
        load = [0] * TICK_SLICES
        for participant in self.participants.values():
            load[participant.tick_slice] += 1
        # Slice 0 also carries the room's own work: fill it last.
        return min(range(TICK_SLICES), key=lambda i: (load[i] + (i == 0), i))

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        step = RTCP_INTERVAL_S / TICK_SLICES
        # A loop stalled past several ticks skips them rather than running them back to back.
        self._next_tick_at = max(self._next_tick_at + step, loop.time())
        self._rtcp_timer = loop.call_at(self._next_tick_at, self._tick)
        now = time.monotonic()
        current = self._slice
        self._slice = (current + 1) % TICK_SLICES
        for participant in list(self.participants.values()):
            try:
                participant.publishing.repair_tick(now)  # NACK retries: within 50 ms, not in the second's slice
                participant.subscribing.send_padding(now)  # a downlink probe's padding, paced in these 50-ms steps
            except Exception:
                log.exception("participant_fast_tick_failed", room=self.id, participant=participant.id)
        for participant in [p for p in self.participants.values() if p.tick_slice == current]:
            if participant.closed:
                continue  # left during an earlier participant's tick in this slice
            try:
                participant.tick(now)
                if participant.quality.update(now):
                    self._quality_changed(participant)
                self.call_quality.sample(participant)  # once a second, right after its receiver reports
                participant.publishing.dynacast(now, functools.partial(self._layers_needed, participant))
            except Exception:
                log.exception("participant_tick_failed", room=self.id, participant=participant.id)
        # Half of the room each slice (by the parity of its own slice), so no slice carries everyone's feedback.
        for participant in [p for p in self.participants.values()
                            if (current - p.tick_slice) % FEEDBACK_EVERY_SLICES == 0]:
            if participant.closed:
                continue
            try:
                participant.publishing.send_feedback(now)
            except Exception:
                log.exception("participant_feedback_failed", room=self.id, participant=participant.id)
        if current % SPEAKER_EVERY_SLICES == 0:
            self._speaker_tick(now)
        if current == 0:
            self._room_tick(now)
            self.expire_detached(now)

    def _room_tick(self, now: float) -> None:
        """Once a second, for the room as a whole: recording targets."""
        if self.recorder is not None:
            self.recorder.retarget(now)

    def _speaker_tick(self, now: float) -> None:
        loudness = {pid: p.publishing.loudness() for pid, p in self.participants.items()}
        speaker = self._speaker.update(loudness, now)
        if speaker is not None:
            for participant in self.participants.values():
                participant.subscribing.speaker = speaker
            self._emit(proto.ACTIVE_SPEAKER, {"room_id": self.id, "participant_id": speaker})

    def _quality_changed(self, participant: Participant) -> None:
        shown = participant.quality.shown
        if shown is None:
            return
        mos = round(shown.mos, 2)
        up, down = participant.quality.uplink, participant.quality.downlink
        log.info("connection_quality", room=self.id, participant=participant.id, quality=shown.level, mos=mos,
                 uplink=None if up is None else (round(up.loss, 3), round(up.jitter_ms, 1), up.rtt_ms),
                 downlink=None if down is None else (round(down.loss, 3), round(down.jitter_ms, 1), down.rtt_ms))
        self._emit(proto.CONNECTION_QUALITY, {"room_id": self.id, "participant_id": participant.id,
                                              "level": shown.level, "mos": mos})

    def _layers_needed(self, publisher: Participant, pub: Publication, rids: list[str]) -> None:
        log.info("dynacast", room=self.id, participant=publisher.id, track=pub.id, rids=rids)
        self._emit(proto.LAYERS_NEEDED, {"room_id": self.id, "participant_id": publisher.id,
                                         "track_id": pub.id, "rids": rids})

    def set_video_prefs(self, participant: Participant, prefs: list[dict[str, Any]]) -> None:
        for item in prefs:
            track_id = item.get("track_id")
            if not isinstance(track_id, str):
                raise RoomError(proto.ERR_BAD_REQUEST, "each video pref needs a string track_id")
            try:
                width = int(item.get("width", 0))
                height = int(item.get("height", 0))
            except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(inf), msgpack has floats
                raise RoomError(proto.ERR_BAD_REQUEST, "width and height must be integers") from exc
            visible = bool(item.get("visible", True))
            participant.subscribing.set_prefs(track_id, TilePrefs(max(width, 0), max(height, 0), visible))

    def close(self) -> None:
        if self._rtcp_timer is not None:
            self._rtcp_timer.cancel()
            self._rtcp_timer = None
        for participant_id in list(self.participants):
            self.leave(participant_id, "room closed")

    def stats(self) -> dict[str, Any]:
        return {pid: p.stats() for pid, p in self.participants.items()}

    def summaries(self) -> dict[str, Any]:
        return {pid: p.summary() for pid, p in self.participants.items()}

    async def start_recording(self, directory: Path) -> None:
        if self.recorder is not None:
            raise RoomError(proto.ERR_BUSY, f"room {self.id!r} is already being recorded")
        recorder = RoomRecorder(self.id, directory)
        await recorder.start()
        self.recorder = recorder
        for participant in self.participants.values():
            for pub in participant.publications.values():
                recorder.add(pub, participant.name)
        self._emit(proto.RECORDING, {"room_id": self.id, "active": True})

    async def stop_recording(self) -> dict[str, Any]:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            raise RoomError(proto.ERR_NOT_FOUND, f"room {self.id!r} is not being recorded")
        manifest = await recorder.stop()
        self._emit(proto.RECORDING, {"room_id": self.id, "active": False})
        return manifest

    @property
    def active_speaker(self) -> str | None:
        return self._speaker.current

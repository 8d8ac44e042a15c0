"""The media half of a bot: its two connections, senders and receiver, and the state all bots of a run share."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.rtcp import Fir, Pli, Remb, SenderReport, build_compound, parse_rtcp
from mediaserver.transport.certificate import Certificate

from .media import LAYERS, MediaSet
from .receiver import Receiver, TrackReceiver
from .sdp import (
    AUDIO_MID,
    OPUS_PT,
    VIDEO_MID,
    VP8_PT,
    RemoteTransport,
    parse_subscriber_offer,
    publisher_offer,
    subscriber_answer,
)
from .sender import StreamSender, audio_sender, video_sender
from .transport import ClientTransport

log = structlog.get_logger(__name__)

CONNECT_TIMEOUT_S = 15.0
RTCP_INTERVAL_S = 1.0
# Transport-wide feedback goes out this often (Chrome: every 50-100 ms), when the server numbers its packets.
FEEDBACK_INTERVAL_S = 0.1
# Tile sizes (device pixels) of a 5x4 grid on a 1920x1080 screen, with one speaker pinned large.
GRID_TILE = (320, 180)
PINNED_TILE = (1280, 720)


@dataclass
class Shared:
    """State all bots of one run share: the media they loop, latency samples, who is who."""

    media: MediaSet
    latencies: list[int] = field(default_factory=list)
    bot_of_participant: dict[str, int] = field(default_factory=dict)
    pinned_participant: str | None = None
    video_prefs: str = "untried"  # untried | sent | unsupported: whether the gateway relays tile sizes
    errors: dict[str, int] = field(default_factory=dict)

    def bot_of(self, participant_id: str) -> int:
        return self.bot_of_participant.get(participant_id, -1)

    def count_error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class MediaEndpoint:
    """The media half of a bot, independent of how it is signalled: two connections, senders, a receiver."""

    def __init__(self, index: int, shared: Shared, loss: float, seed: int, host: str = "127.0.0.1",
                 server_offers_full_ice: bool = False, single_layer: int | None = None, tagged: bool = True) -> None:
        self.index = index
        self.shared = shared
        self.certificate = Certificate.generate()
        rng = random.Random(seed)
        drop = (lambda: rng.random() < loss) if loss > 0 else None
        self.publisher = ClientTransport(self.certificate, f"bot{index}/pub", host)
        # A full-ICE offerer (Janus) is the controlling agent of the subscriber connection; ICE-lite never is.
        self.subscriber = ClientTransport(self.certificate, f"bot{index}/sub", host, drop=drop,
                                          controlling=not server_offers_full_ice)
        self.rtcp_ssrc = secrets.randbits(32) or 1
        self.receiver = Receiver(self.rtcp_ssrc, shared.latencies, self.subscriber.send_rtcp, shared.bot_of,
                                 tagged=tagged)
        # Simulcast with every layer, or (for peers that cannot take simulcast) one layer without a rid.
        self.simulcast = single_layer is None
        media = shared.media
        send = self.publisher.send_rtp
        self.senders: list[StreamSender] = [audio_sender(index, AUDIO_MID, media.opus, OPUS_PT, send, tagged)]
        if single_layer is None:
            self.senders += [video_sender(index, VIDEO_MID, layer.spec.rid, i, layer, VP8_PT, send, tagged)
                             for i, layer in enumerate(media.layers)]
        else:
            self.senders.append(video_sender(index, VIDEO_MID, None, single_layer, media.layers[single_layer],
                                             VP8_PT, send, tagged))
        self.remb_bps = 0
        self.loss = loss
        self.publisher.on_rtcp = self._on_publisher_rtcp
        self.subscriber.on_rtp = self.receiver.on_rtp
        self.subscriber.on_rtcp = self._on_subscriber_rtcp
        self._start_task: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        # Each bot reports on its own phase, as independent browsers do, not all in the same millisecond.
        self._report_timer: asyncio.TimerHandle | None = loop.call_later(RTCP_INTERVAL_S * (0.5 + random.random()),
                                                                         self._report)
        self._feedback_timer: asyncio.TimerHandle | None = loop.call_later(FEEDBACK_INTERVAL_S * random.random(),
                                                                           self._feedback)

    def problems(self) -> dict[str, int]:
        """What went wrong on this bot's connections: each non-zero count loses or garbles packets."""
        pub, sub, inbound = self.publisher.counters, self.subscriber.counters, self.receiver.counters
        return {"srtp_errors": pub.srtp_errors + sub.srtp_errors, "send_errors": pub.send_errors + sub.send_errors,
                "unknown_ssrc": inbound.unknown_ssrc, "no_tag": inbound.no_tag,
                "dropped_injected": sub.dropped_injected}

    @property
    def feedback_sent(self) -> int:
        return self.receiver.feedback_sent

    @property
    def tracks(self) -> Iterable[TrackReceiver]:
        return self.receiver.tracks.values()

    @property
    def blackout(self) -> bool:
        return self.publisher.blackout

    @blackout.setter
    def blackout(self, on: bool) -> None:
        """A dead network link for both connections (ClientTransport.blackout)."""
        self.publisher.blackout = on
        self.subscriber.blackout = on

    def publisher_restart_offer(self, stream_id: str) -> str:
        """An ICE restart of the publisher connection (createOffer({iceRestart: true})): new local credentials."""
        self.publisher.restart_ice()
        return self.publisher_offer(stream_id)

    def publisher_offer(self, stream_id: str) -> str:
        if self.simulcast:
            return publisher_offer(self.publisher.identity(), [spec.rid for spec in LAYERS], stream_id)
        ssrcs = {sender.kind: sender.ssrc for sender in self.senders}
        return publisher_offer(self.publisher.identity(), [], stream_id, ssrcs)

    def on_publisher_answer(self, remote: RemoteTransport, rids: list[str]) -> None:
        if self.publisher.remote is not None:
            # A later answer (an ICE restart's, with the server's new credentials): same senders, same DTLS.
            self.publisher.update_remote(remote)
            return
        if self.simulcast:
            # Layers the server did not accept are never sent; without any, Chrome sends only the first encoding.
            accepted = set(rids) or {LAYERS[0].rid}
            self.senders = [s for s in self.senders if not s.video or s.rid in accepted]
        self.publisher.start(remote)
        self._start_task = asyncio.create_task(self._start_sending(), name=f"bot{self.index}-send")

    async def _start_sending(self) -> None:
        if not await self.publisher.wait_connected(CONNECT_TIMEOUT_S):
            log.warning("publisher_not_connected", bot=self.index, state=self.publisher.state,
                        error=self.publisher.error)
            return
        loop = asyncio.get_running_loop()
        phase = random.random()  # bots' frame clocks are not aligned, as real cameras are not
        now = loop.time()
        for sender in self.senders:
            sender.start(loop, now + phase * sender.interval)

    def on_subscriber_offer(self, sdp: str, publisher_of_mid: dict[str, str] | None = None) -> str:
        """Register the offered tracks (publisher from msid, or from `publisher_of_mid`) and answer."""
        offer = parse_subscriber_offer(sdp)
        self.receiver.transport_cc_id = offer.transport_cc_id
        for track in offer.tracks:
            publisher = (publisher_of_mid or {}).get(track.mid, track.publisher_id)
            self.receiver.add_track(track.ssrc, track.kind, track.mid, publisher, track.track_id)
        current = self.subscriber.remote
        if offer.remote is not None and current is not None and offer.remote.ufrag != current.ufrag:
            self.subscriber.restart_ice()  # the server restarts ICE: our answer carries new credentials too
        answer = subscriber_answer(sdp, self.subscriber.identity())
        if offer.remote is not None:
            self.subscriber.update_remote(offer.remote)
        return answer

    def video_prefs(self) -> list[dict[str, Any]]:
        """A 5x4 grid of small tiles with one large pinned speaker: bot 0 for everyone, bot 1 for bot 0."""
        prefs = []
        pinned = self.shared.pinned_participant
        if self.index == 0:
            pinned = next((pid for pid, index in self.shared.bot_of_participant.items() if index == 1), None)
        for track in self.receiver.tracks.values():
            if track.video:
                width, height = PINNED_TILE if track.publisher_id == pinned else GRID_TILE
                prefs.append({"track_id": track.track_id, "width": width, "height": height, "visible": True})
        return prefs

    def _feedback(self) -> None:
        self._feedback_timer = asyncio.get_running_loop().call_later(FEEDBACK_INTERVAL_S, self._feedback)
        if self.subscriber.srtp is not None:
            self.receiver.send_feedback()

    def _report(self) -> None:
        self._report_timer = asyncio.get_running_loop().call_later(RTCP_INTERVAL_S, self._report)
        self.tick()

    def tick(self) -> None:
        """Once a second: receiver reports on the subscriber connection, sender reports on the publisher one."""
        if self.subscriber.srtp is not None:
            # One RR per datagram: SRTCP packets must stay under the MTU and 31 blocks fill ~750 bytes.
            for report in self.receiver.receiver_reports():
                self.subscriber.send_rtcp(report.serialize())
        if self.publisher.srtp is not None and self.senders:
            reports: list[SenderReport] = [s.sender_report() for s in self.senders if s.packets_sent]
            if reports:
                self.publisher.send_rtcp(build_compound(reports))

    def _on_publisher_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_rtcp(data)
        except ParseError:
            return
        for packet in packets:
            if isinstance(packet, Pli):
                self._keyframe(packet.media_ssrc)
            elif isinstance(packet, Fir):
                for ssrc, _ in packet.entries:
                    self._keyframe(ssrc)
            elif isinstance(packet, Remb):
                self.remb_bps = packet.bitrate

    def layers_needed(self, rids: list[str]) -> None:
        """Dynacast: send only these simulcast layers; the lowest keeps running for newcomers, as in the web client."""
        video = [s for s in self.senders if s.video]
        for position, sender in enumerate(video):
            sender.set_active(position == 0 or sender.rid is None or sender.rid in rids)

    def _keyframe(self, ssrc: int) -> None:
        for sender in self.senders:
            if sender.ssrc == ssrc:
                sender.request_keyframe()

    def _on_subscriber_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_rtcp(data)
        except ParseError:
            return
        for packet in packets:
            if isinstance(packet, SenderReport):
                self.receiver.on_sender_report(packet)

    def close(self) -> None:
        if self._report_timer is not None:
            self._report_timer.cancel()
            self._report_timer = None
        if self._feedback_timer is not None:
            self._feedback_timer.cancel()
            self._feedback_timer = None
        for sender in self.senders:
            sender.stop()
        if self._start_task is not None:
            self._start_task.cancel()
        self.publisher.close()
        self.subscriber.close()

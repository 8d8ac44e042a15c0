"""The subscriber side of a participant: its m-line slots, offer/answer, subscriptions, feedback and layer choice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.ntp import ntp_now
from mediaserver.rtp.rtcp import Fir, Nack, Pli, ReceiverReport, RtcpPacket, SenderReport, build_compound, parse_rtcp
from mediaserver.rtp.rtcpfb import TransportCC
from mediaserver.sdp.negotiation import (
    SUBSCRIBER_PAYLOAD_TYPES,
    TRANSPORT_CC_ID,
    InactiveSlot,
    OutboundTrack,
    ServerIdentity,
    build_subscriber_offer,
    read_subscriber_answer,
)
from mediaserver.transport.peer import PeerTransport
from mediaserver.transport.token_bucket import RTCP_BURST, RTCP_PER_S, TokenBucket

from . import layer_selector
from .downlink import DownlinkController
from .downlink_bandwidth import DownlinkBandwidth, VideoWish
from .publication import Publication
from .subscription import Subscription
from .subscriptions import new_subscription

SR_PER_COMPOUND = 16  # keeps each compound well under the MTU
# An offer whose answer has not come back by then is dropped and made again (the browser may never answer
# it: its socket dropped, or it failed to apply the offer); one lost answer must not stop all later tracks.
ANSWER_TIMEOUT_S = 10.0


class NegotiationBusy(Exception):
    """A subscriber offer is outstanding: its answer must arrive before the next offer."""


class StaleAnswer(ValueError):
    """An answer to an earlier offer than the outstanding one (it was replaced after a timeout or restart)."""


@dataclass
class Slot:
    """One m-line of the subscriber connection; reused by a later track of the same kind when freed."""

    mid: str
    kind: str
    subscription: Subscription | None = None


@dataclass
class TilePrefs:
    """What the subscriber's client reported for one remote video: rendered size in device pixels, visibility."""

    width: int
    height: int
    visible: bool = True


class SubscriberSide:
    def __init__(self, participant_id: str, transport: PeerTransport, cname: str, on_dirty: Callable[[], None],
                 on_undecodable: Callable[[Publication, bool], None] = lambda *_: None) -> None:
        self.participant_id = participant_id
        self.transport = transport
        self.cname = cname
        self._on_dirty = on_dirty
        self._on_undecodable = on_undecodable
        # The video codecs this browser decodes, from its answers (None before its first answer with video).
        self.video_decodes: frozenset[str] | None = None
        self.undecodable: set[str] = set()  # publication ids this browser cannot show (the client was told)
        self.subscriptions: dict[str, Subscription] = {}  # by publication id
        self._by_ssrc: dict[int, Subscription] = {}
        self.slots: list[Slot] = []
        self._offered_mids: list[str] = []
        self._offered_subs: list[Subscription] = []
        self.negotiating = False
        self._offered_at = 0.0
        # Negotiations that did not complete: a bad answer, no answer in time, an offer replaced by a restart.
        self.negotiation_failures = 0
        self.answer_timeouts = 0
        self._dirty = False
        self._announced = False
        self._session_version = 0
        self.prefs: dict[str, TilePrefs] = {}  # by publication id
        self.downlink = DownlinkController(participant_id)  # a browser without transport-wide feedback
        self.bandwidth = DownlinkBandwidth(participant_id, TRANSPORT_CC_ID)
        self.speaker = ""  # the room's active speaker: its video comes right after a spotlit one
        self._nacked_mark = 0
        self._sent_mark = 0
        self._rr_loss = 0.0
        self._rr_fresh = False
        self.rtcp_limit = TokenBucket(RTCP_PER_S, RTCP_BURST, time.monotonic())
        self._octets_mark = 0
        self._measured_at = 0.0
        self.bitrate_bps = 0
        self.last_rtt_ms: float | None = None
        self.rtp_errors = 0
        transport.on_rtcp = self.on_rtcp
        transport.on_connected = self._on_connected

    # --- subscriptions and negotiation ------------------------------------------------------

    def subscribe(self, pub: Publication) -> Subscription:
        slot = next((s for s in self.slots if s.subscription is None and s.kind == pub.kind), None)
        if slot is None:
            slot = Slot(mid=str(len(self.slots)), kind=pub.kind)
            self.slots.append(slot)
        sub = new_subscription(pub, slot.mid, SUBSCRIBER_PAYLOAD_TYPES[pub.codec_name], self.transport.send_rtp,
                               self.participant_id)
        if pub.is_video:
            sub.pack = self.bandwidth.headers.pack  # audio goes unnumbered (sdp/subscriber.py says why)
        slot.subscription = sub
        self.subscriptions[pub.id] = sub
        self._by_ssrc[sub.ssrc] = sub
        pub.subscribe(sub)
        self._choose(sub, time.monotonic())
        self._mark_dirty()
        return sub

    def unsubscribe(self, pub: Publication) -> None:
        sub = self.subscriptions.pop(pub.id, None)
        if sub is None:
            return
        sub.deactivate()
        pub.unsubscribe(sub)
        self._by_ssrc.pop(sub.ssrc, None)
        self.prefs.pop(pub.id, None)
        self.bandwidth.forget(pub.id)
        if pub.id in self.undecodable:
            self.undecodable.discard(pub.id)
            self._on_undecodable(pub, False)  # gone: its placeholder goes too (its sender may have switched)
        for slot in self.slots:
            if slot.subscription is sub:
                slot.subscription = None
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        self._dirty = True
        if not self.negotiating and not self._announced:
            self._announced = True
            self._on_dirty()

    def create_offer(self, identity: ServerIdentity, session_id: int, *, restart: bool = False) -> tuple[str, int]:
        """The next offer and its id (the session version the answer must name).

        `restart`: a resumed client's offer (new ICE credentials in `identity`); it replaces an outstanding
        offer instead of waiting for its answer, which went to a socket that is gone.
        """
        if self.negotiating and not restart:
            raise NegotiationBusy("an offer is waiting for its answer")
        if self.negotiating:
            self.negotiation_failures += 1
        entries: list[OutboundTrack | InactiveSlot] = []
        for slot in self.slots:
            sub = slot.subscription
            if sub is None:
                entries.append(InactiveSlot(mid=slot.mid, kind=slot.kind))
            else:
                entries.append(OutboundTrack(mid=slot.mid, kind=slot.kind, ssrc=sub.ssrc,
                                             rtx_ssrc=sub.rtx_ssrc if sub.kind == "video" else None,
                                             stream_id=sub.publication.participant_id,
                                             track_id=sub.publication.id, cname=self.cname,
                                             codec=sub.publication.codec_name))
        self._session_version += 1
        offer = build_subscriber_offer(entries, identity, self._session_version, session_id)
        self._offered_mids = [slot.mid for slot in self.slots]
        self._offered_subs = [s.subscription for s in self.slots if s.subscription is not None]
        self.negotiating = True
        self._offered_at = time.monotonic()
        self._dirty = False
        self._announced = False
        return offer, self._session_version

    def apply_answer(self, answer_sdp: str, offer_id: int | None = None) -> None:
        """Apply the browser's answer; a broken one ends this negotiation and a fresh offer follows."""
        if not self.negotiating:
            raise ValueError("no subscriber offer is outstanding")
        if offer_id is not None and offer_id != self._session_version:
            raise StaleAnswer(f"answer to offer {offer_id}, but offer {self._session_version} is outstanding")
        try:
            answer = read_subscriber_answer(answer_sdp, self._offered_mids)
        except ValueError:
            self._fail_negotiation()
            raise
        if answer.peer is not None:  # None: the offer had no m-lines, so there is no transport yet
            self.transport.set_remote_fingerprint(answer.peer.fingerprint[1])
        self.negotiating = False
        if answer.peer is not None:
            self.bandwidth.headers.numbering = answer.transport_cc
            self.bandwidth.rtx = answer.rtx
        video = [answer.decodes[s.mid] for s in self.slots if s.kind == "video" and s.mid in answer.decodes]
        if video:
            self.video_decodes = frozenset().union(*video)
        for sub in self._offered_subs:
            if sub.publication.id not in self.subscriptions:
                continue
            if sub.publication.codec_name not in answer.decodes.get(sub.mid, frozenset()):
                self._cannot_decode(sub)
                continue
            sub.negotiated = True
            if self.transport.state == "connected" and not sub.paused:
                sub.activate()
        self._offered_subs = []
        if self._dirty:
            self._announced = False
            self._mark_dirty()

    def _cannot_decode(self, sub: Subscription) -> None:
        # Never forwarded (the browser would show a black tile): its client gets a placeholder and the reason.
        sub.negotiated = False
        sub.deactivate()
        pub = sub.publication
        if pub.id not in self.undecodable:
            self.undecodable.add(pub.id)
            self._on_undecodable(pub, True)

    def check_answer_timeout(self, now: float) -> None:
        """Once a second: an offer unanswered for ANSWER_TIMEOUT_S is given up and made again."""
        if self.negotiating and now - self._offered_at > ANSWER_TIMEOUT_S:
            self.answer_timeouts += 1
            self._fail_negotiation()

    def _fail_negotiation(self) -> None:
        # The browser keeps what it last applied; a fresh offer lists every current subscription again.
        self.negotiation_failures += 1
        self.negotiating = False
        self._offered_subs = []
        self._announced = False
        self._mark_dirty()

    def restart_video(self) -> None:
        """The subscriber's path came back (ICE restart, new address): each video starts on a fresh keyframe."""
        for sub in self.subscriptions.values():
            if sub.kind == "video":
                sub.restart()

    def _on_connected(self, _: PeerTransport) -> None:
        for sub in self.subscriptions.values():
            if sub.negotiated and not sub.paused:
                sub.activate()

    # --- layer choice ---------------------------------------------------------------------------

    def set_prefs(self, track_id: str, prefs: TilePrefs) -> None:
        sub = self.subscriptions.get(track_id)
        if sub is None or sub.kind != "video":
            return
        self.prefs[track_id] = prefs
        self._choose(sub, time.monotonic())

    def wanted_layer(self, sub: Subscription) -> int:
        """The tile's wish: without a report yet, the low layer (cheap, and what a grid tile needs)."""
        prefs = self.prefs.get(sub.publication.id)
        if prefs is None:
            return 0
        widths = layer_selector.layer_widths([layer.width for layer in sub.publication.layers])
        return layer_selector.layer_for_tile(widths, prefs.width, prefs.height)

    def _choose(self, sub: Subscription, now: float) -> None:
        if sub.kind != "video":
            return
        prefs = self.prefs.get(sub.publication.id)
        hidden = prefs is not None and not prefs.visible
        if hidden != sub.paused:
            sub.paused = hidden
            if hidden:
                sub.deactivate()
            elif sub.negotiated and self.transport.state == "connected":
                sub.activate()
        if self.bandwidth.active:
            self._allocate_bandwidth(now, stepwise=False)
            return
        pub = sub.publication
        temporal = True  # Chrome's VP8 simulcast carries temporal layers; without them max_tid is moot
        wanted = self.wanted_layer(sub)
        sub.wanted_layer = layer_selector.choose(wanted, self.downlink.steps_down, temporal, -1).layer
        quality = layer_selector.choose(wanted, self.downlink.steps_down, temporal, pub.highest_live(now))
        sub.select(quality.layer, quality.max_tid)
        self._retry_keyframe(sub)

    @staticmethod
    def _retry_keyframe(sub: Subscription) -> None:
        if sub.active and sub.current_layer != sub.target_layer:
            # Still waiting for the target's keyframe: ask again (the publication throttles). A request dropped
            # by that throttle, or a PLI lost on the way, would otherwise leave this video frozen: Chrome sends
            # no periodic keyframes.
            sub.publication.request_keyframe(sub.target_layer)

    def _allocate_bandwidth(self, now: float, stepwise: bool) -> None:
        """Every visible video's level from the downlink estimate, in one pass (they share the link)."""
        for sub in self.bandwidth.apply(self.subscriptions.values(), self._wish, now, stepwise):
            self._retry_keyframe(sub)

    def _wish(self, sub: Subscription) -> VideoWish:
        prefs = self.prefs.get(sub.publication.id)
        area = prefs.width * prefs.height if prefs is not None else 0
        return VideoWish(sub, self.wanted_layer(sub), area, sub.publication.participant_id == self.speaker)

    def allocate(self, now: float) -> None:
        """Once a second after evaluate_downlink (layers come and go at the publisher); the estimate's pass
        already ran there, and a second pass would climb twice."""
        if self.bandwidth.active:
            return
        for sub in self.subscriptions.values():
            self._choose(sub, now)

    def evaluate_downlink(self, now: float) -> None:
        """Once a second: an allocation pass on the estimate, or (no transport-wide feedback) the loss steps."""
        if self.bandwidth.active:
            rtt_ms = self.median_rtt_ms()
            if rtt_ms is not None:
                self.bandwidth.estimator.rtt = rtt_ms / 1000  # how often overuse may cut, how fast it adds
            self._allocate_bandwidth(now, stepwise=True)
            return
        video = [s for s in self.subscriptions.values() if s.kind == "video" and s.active]
        sent = sum(s.packets_sent for s in video)
        nacked = sum(s.nacked_packets for s in video)
        sent_delta, nacked_delta = sent - self._sent_mark, nacked - self._nacked_mark
        self._sent_mark, self._nacked_mark = sent, nacked
        if sent_delta <= 0:
            return
        nack_loss = min(nacked_delta / sent_delta, 1.0)
        if not self._rr_fresh and nack_loss == 0:
            return  # no report since the last look: nothing new to judge
        loss = max(self._rr_loss if self._rr_fresh else 0.0, nack_loss)
        self._rr_fresh = False
        if self.downlink.on_sample(loss, now):
            self.allocate(now)

    def send_padding(self, now: float) -> None:
        """While a probe runs (called every few tens of ms): its padding, on a watched video's RTX stream."""
        if self.bandwidth.probe.active and self.transport.state == "connected":
            self.bandwidth.send_padding(self.subscriptions.values(), self.transport.send_rtp, now)

    def measure(self, now: float) -> None:
        self.last_rtt_ms = self.median_rtt_ms()  # once a second: NACK pacing reads it every 50 ms
        octets = sum(s.octets_sent for s in self.subscriptions.values())
        if self._measured_at and now > self._measured_at:
            self.bitrate_bps = int(max(octets - self._octets_mark, 0) * 8 / (now - self._measured_at))
        self._octets_mark, self._measured_at = octets, now

    def downlink_loss(self) -> float:
        """Loss on the way to this subscriber alone: the feedback's count of what we sent (a publisher's uplink
        loss also shows in receiver reports, as gaps in the numbers we forward)."""
        return self.bandwidth.estimator.loss if self.bandwidth.active else self.downlink.last_loss

    def median_rtt_ms(self) -> float | None:
        rtts = sorted(s.rtt for s in self.subscriptions.values() if s.active and s.rtt is not None)
        return round(rtts[len(rtts) // 2] * 1000, 1) if rtts else None

    def summary(self) -> dict[str, object]:
        """The downlink as the host's stats panel shows it."""
        clock = {"audio": 48000, "video": 90000}
        jitter_ms = max((s.jitter * 1000 / clock[s.kind] for s in self.subscriptions.values() if s.active),
                        default=0.0)
        return {"bitrate_bps": self.bitrate_bps, "loss": round(self.downlink_loss(), 3),
                "rtt_ms": self.median_rtt_ms(), "jitter_ms": round(jitter_ms, 1)}

    # --- feedback from the subscriber ----------------------------------------------------------

    def on_rtcp(self, data: bytes) -> None:
        if not self.rtcp_limit.allow(time.monotonic()):
            return  # a NACK storm: parsing alone would cost the room a fifth of a core
        try:
            packets = parse_rtcp(data)
        except ParseError:
            self.rtp_errors += 1
            return
        now_ntp = 0
        for packet in packets:
            if isinstance(packet, ReceiverReport | SenderReport):
                now_ntp = now_ntp or ntp_now()
                worst = -1.0
                for block in packet.reports:
                    sub = self._by_ssrc.get(block.ssrc)
                    if sub is not None:
                        sub.on_report_block(block, now_ntp)
                        if sub.kind == "video":
                            worst = max(worst, sub.fraction_lost)
                if worst >= 0:
                    self._rr_loss = max(worst, self._rr_loss) if self._rr_fresh else worst
                    self._rr_fresh = True
            elif isinstance(packet, Nack):
                sub = self._by_ssrc.get(packet.media_ssrc)
                if sub is not None:
                    sub.retransmit(packet.lost, time.monotonic())
            elif isinstance(packet, Pli):
                self._keyframe_wanted(self._by_ssrc.get(packet.media_ssrc))
            elif isinstance(packet, Fir):
                for ssrc, _seq in packet.entries:
                    self._keyframe_wanted(self._by_ssrc.get(ssrc))
            elif isinstance(packet, TransportCC) and self.bandwidth.active:
                now = time.monotonic()
                if self.bandwidth.on_feedback(packet, now):
                    self._allocate_bandwidth(now, stepwise=False)  # over the estimate: down at once

    @staticmethod
    def _keyframe_wanted(sub: Subscription | None) -> None:
        if sub is not None:
            sub.keyframe_requests += 1
            sub.publication.request_keyframe(max(sub.current_layer, sub.target_layer))

    def send_reports(self, now: float) -> None:
        if self.transport.state != "connected":
            return
        now_ntp = ntp_now()
        reports: list[RtcpPacket] = [sr for sub in self.subscriptions.values() if sub.active
                                     and (sr := sub.sender_report(now_ntp, now)) is not None]
        for i in range(0, len(reports), SR_PER_COMPOUND):
            self.transport.send_rtcp(build_compound(reports[i : i + SR_PER_COMPOUND]))

    def stats(self) -> dict[str, object]:
        return {"downlink": self.downlink.stats(), "bandwidth": self.bandwidth.stats(),
                "subscriptions": [s.stats() for s in self.subscriptions.values()],
                "negotiation": {"version": self._session_version, "pending": self.negotiating,
                                "failures": self.negotiation_failures, "answer_timeouts": self.answer_timeouts}}

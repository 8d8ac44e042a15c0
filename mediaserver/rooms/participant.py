"""Participant: its publisher and subscriber transports, its publications, subscriptions and negotiations."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from mediaserver.rtp import extensions
from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import RtpHeader, parse_rtp
from mediaserver.rtp.ntp import ntp_now
from mediaserver.rtp.rtcp import (
    Fir,
    Nack,
    Pli,
    ReceiverReport,
    Remb,
    SenderReport,
    build_compound,
    parse_rtcp,
)
from mediaserver.sdp.negotiation import (
    InactiveSlot,
    NegotiatedMedia,
    OutboundTrack,
    ServerIdentity,
    answer_publisher_offer,
    build_subscriber_offer,
    parse_subscriber_answer,
)
from mediaserver.transport.peer import PeerTransport

from .publication import Publication
from .subscription import Subscription

if TYPE_CHECKING:
    from .room import Room

log = structlog.get_logger(__name__)

# Payload types of our subscriber offers (fixed: we write the offer).
SUBSCRIBER_PT = {"audio": 111, "video": 96}
# Throttle keyframe requests to the publisher, as LiveKit and Janus do.
PLI_INTERVAL_S = 0.5
# Uplink estimate we grant publishers until per-room policy exists (REMB, bits/s).
DEFAULT_REMB_BPS = 2_500_000


class NegotiationBusy(Exception):
    """A subscriber offer is outstanding: its answer must arrive before the next offer."""


@dataclass
class Slot:
    """One m-line of the subscriber connection; reused by a later track of the same kind when freed."""

    mid: str
    kind: str
    subscription: Subscription | None = None


class Participant:
    def __init__(self, room: Room, participant_id: str, name: str) -> None:
        self.room = room
        self.id = participant_id
        self.name = name
        self.cname = secrets.token_hex(8)
        self.rtcp_ssrc = secrets.randbits(32) or 1
        self.publisher = PeerTransport(room.mux, room.ssl_context, f"{participant_id}/pub")
        self.subscriber = PeerTransport(room.mux, room.ssl_context, f"{participant_id}/sub")
        self.publisher.on_rtp = self._on_publisher_rtp
        self.publisher.on_rtcp = self._on_publisher_rtcp
        self.subscriber.on_rtcp = self._on_subscriber_rtcp
        self.subscriber.on_connected = self._on_subscriber_connected
        self.publisher.on_closed = self._on_transport_closed
        self.subscriber.on_closed = self._on_transport_closed
        self.publications: dict[str, Publication] = {}  # by mid
        self._route: dict[int, Publication] = {}  # inbound SSRC -> publication
        self._ignored_ssrcs: set[int] = set()  # RTX and unknown streams
        self._mid_ext_id = 0
        self._rid_ext_id = 0
        self._rrid_ext_id = 0
        self.subscriptions: dict[str, Subscription] = {}  # by publication id
        self._sub_by_ssrc: dict[int, Subscription] = {}
        self.slots: list[Slot] = []
        self._offered_mids: list[str] = []
        self._offered_subs: list[Subscription] = []
        self.negotiating = False
        self._dirty = False
        self._renegotiation_announced = False
        self._session_id = secrets.randbits(62)
        self._session_version = 0
        self.rtp_errors = 0
        self.closed = False

    def identity(self, transport: PeerTransport) -> ServerIdentity:
        return ServerIdentity(
            ice_ufrag=transport.local_ufrag,
            ice_pwd=transport.local_pwd,
            fingerprint=self.room.fingerprint,
            host=self.room.public_ip,
            port=self.room.public_port,
        )

    # --- publisher negotiation --------------------------------------------------------------

    def answer_publisher(self, offer_sdp: str) -> tuple[str, list[Publication]]:
        """Answer the browser's publisher offer; returns the answer and the publications it created."""
        answer, peer, media = answer_publisher_offer(offer_sdp, self.identity(self.publisher))
        self.publisher.set_remote_fingerprint(peer.fingerprint[1])
        created = [self._publish(m) for m in media if m.mid not in self.publications]
        return answer, created

    def _publish(self, media: NegotiatedMedia) -> Publication:
        pub = Publication(
            participant_id=self.id,
            mid=media.mid,
            kind=media.kind,
            payload_type=media.payload_type,
            rtx_payload_type=media.rtx_payload_type,
            clock_rate=media.clock_rate,
            rids=list(media.rids),
        )
        pub.request_keyframe = self._keyframe_requester(pub)
        self.publications[media.mid] = pub
        ids = media.ext_ids
        self._mid_ext_id = ids.get(extensions.URI_MID, self._mid_ext_id)
        self._rid_ext_id = ids.get(extensions.URI_RID, self._rid_ext_id)
        self._rrid_ext_id = ids.get(extensions.URI_REPAIRED_RID, self._rrid_ext_id)
        for ssrc in media.ssrcs:
            pub.add_layer(ssrc, None)
            self._route[ssrc] = pub
            if pub.forward_ssrc is None:
                pub.forward_ssrc = ssrc
        self._ignored_ssrcs.update(media.rtx_ssrcs.values())
        return pub

    def _keyframe_requester(self, pub: Publication) -> Callable[[], None]:
        def request() -> None:
            now = time.monotonic()
            if now - pub.last_pli < PLI_INTERVAL_S:
                return
            ssrc = pub.forward_ssrc
            if ssrc is None:
                return  # no packet seen yet: the first keyframe will come on its own
            pub.last_pli = now
            self.publisher.send_rtcp(Pli(sender_ssrc=self.rtcp_ssrc, media_ssrc=ssrc).serialize())

        return request

    # --- publisher packets (the hot path) ------------------------------------------------------

    def _on_publisher_rtp(self, data: bytes) -> None:
        try:
            hdr = parse_rtp(data)
        except ParseError:
            self.rtp_errors += 1
            return
        pub = self._route.get(hdr.ssrc)
        if pub is None:
            pub = self._learn_ssrc(data, hdr)
            if pub is None:
                return
        if hdr.payload_type != pub.payload_type:
            return  # RTX padding probes and retransmissions: we do not NACK upstream yet
        now = time.monotonic()
        pub.layers[hdr.ssrc].update(hdr.sequence, hdr.timestamp, now, len(data))
        pub.packets_in += 1
        if hdr.ssrc != pub.forward_ssrc:
            return
        payload = data[hdr.payload_start :]
        for sub in pub.subscriptions:
            sub.forward(data, hdr, payload, now)

    def _learn_ssrc(self, data: bytes, hdr: RtpHeader) -> Publication | None:
        """Bind an unknown SSRC to its publication by the mid/rid extensions (Chrome lists no SSRCs)."""
        ssrc = hdr.ssrc
        if ssrc in self._ignored_ssrcs:
            return None
        try:
            mid_raw = extensions.find_extension(data, hdr, self._mid_ext_id) if self._mid_ext_id else None
            rrid = extensions.find_extension(data, hdr, self._rrid_ext_id) if self._rrid_ext_id else None
            rid_raw = extensions.find_extension(data, hdr, self._rid_ext_id) if self._rid_ext_id else None
            mid = extensions.decode_sdes_item(mid_raw) if mid_raw else None
            rid = extensions.decode_sdes_item(rid_raw) if rid_raw else None
        except ParseError:
            self.rtp_errors += 1
            return None
        pub: Publication | None = None
        if mid is not None:
            pub = self.publications.get(mid)
        else:
            candidates = [
                p for p in self.publications.values()
                if hdr.payload_type in (p.payload_type, p.rtx_payload_type)
            ]
            pub = candidates[0] if len(candidates) == 1 else None
        if pub is None:
            return None  # may still be learned from a later packet carrying the mid
        if rrid is not None or hdr.payload_type == pub.rtx_payload_type:
            self._ignored_ssrcs.add(ssrc)
            return None
        pub.add_layer(ssrc, rid)
        self._route[ssrc] = pub
        if pub.forward_ssrc is None:
            pub.forward_ssrc = ssrc
        log.info("ssrc_learned", participant=self.id, mid=pub.mid, ssrc=ssrc, rid=rid)
        return pub

    def _on_publisher_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_rtcp(data)
        except ParseError:
            self.rtp_errors += 1
            return
        for packet in packets:
            if isinstance(packet, SenderReport):
                pub = self._route.get(packet.ssrc)
                if pub is not None and packet.ssrc in pub.layers:
                    pub.layers[packet.ssrc].on_sender_report(packet.ntp_timestamp)

    # --- subscriber side ------------------------------------------------------------------------

    def subscribe(self, pub: Publication) -> Subscription:
        slot = next((s for s in self.slots if s.subscription is None and s.kind == pub.kind), None)
        if slot is None:
            slot = Slot(mid=str(len(self.slots)), kind=pub.kind)
            self.slots.append(slot)
        sub = Subscription(pub, slot.mid, SUBSCRIBER_PT[pub.kind], self.subscriber.send_rtp, pub.request_keyframe)
        slot.subscription = sub
        self.subscriptions[pub.id] = sub
        self._sub_by_ssrc[sub.ssrc] = sub
        pub.subscriptions.append(sub)
        self._mark_dirty()
        return sub

    def unsubscribe(self, pub: Publication) -> None:
        sub = self.subscriptions.pop(pub.id, None)
        if sub is None:
            return
        sub.deactivate()
        if sub in pub.subscriptions:
            pub.subscriptions.remove(sub)
        self._sub_by_ssrc.pop(sub.ssrc, None)
        for slot in self.slots:
            if slot.subscription is sub:
                slot.subscription = None
        self._mark_dirty()

    def _mark_dirty(self) -> None:
        self._dirty = True
        if not self.negotiating and not self._renegotiation_announced and not self.closed:
            self._renegotiation_announced = True
            self.room.renegotiation_needed(self)

    def create_subscriber_offer(self) -> str:
        if self.negotiating:
            raise NegotiationBusy("an offer is waiting for its answer")
        entries: list[OutboundTrack | InactiveSlot] = []
        for slot in self.slots:
            sub = slot.subscription
            if sub is None:
                entries.append(InactiveSlot(mid=slot.mid, kind=slot.kind))
            else:
                entries.append(OutboundTrack(
                    mid=slot.mid, kind=slot.kind, ssrc=sub.ssrc, rtx_ssrc=None,
                    stream_id=sub.publication.participant_id, track_id=sub.publication.id, cname=self.cname,
                ))
        self._session_version += 1
        offer = build_subscriber_offer(entries, self.identity(self.subscriber), self._session_version,
                                       self._session_id)
        self._offered_mids = [slot.mid for slot in self.slots]
        self._offered_subs = [s.subscription for s in self.slots if s.subscription is not None]
        self.negotiating = True
        self._dirty = False
        self._renegotiation_announced = False
        return offer

    def apply_subscriber_answer(self, answer_sdp: str) -> None:
        if not self.negotiating:
            raise ValueError("no subscriber offer is outstanding")
        peer = parse_subscriber_answer(answer_sdp, self._offered_mids)
        if peer is not None:  # None: the offer had no m-lines, so there is no transport yet
            self.subscriber.set_remote_fingerprint(peer.fingerprint[1])
        self.negotiating = False
        for sub in self._offered_subs:
            if sub.publication.id in self.subscriptions:
                sub.negotiated = True
                if self.subscriber.state == "connected":
                    sub.activate()
        self._offered_subs = []
        if self._dirty:
            self._renegotiation_announced = False
            self._mark_dirty()

    def _on_subscriber_connected(self, _: PeerTransport) -> None:
        for sub in self.subscriptions.values():
            if sub.negotiated:
                sub.activate()

    def _on_subscriber_rtcp(self, data: bytes) -> None:
        try:
            packets = parse_rtcp(data)
        except ParseError:
            self.rtp_errors += 1
            return
        now_ntp = 0
        for packet in packets:
            if isinstance(packet, (ReceiverReport, SenderReport)):
                now_ntp = now_ntp or ntp_now()
                for block in packet.reports:
                    sub = self._sub_by_ssrc.get(block.ssrc)
                    if sub is not None:
                        sub.on_report_block(block, now_ntp)
            elif isinstance(packet, Nack):
                sub = self._sub_by_ssrc.get(packet.media_ssrc)
                if sub is not None:
                    sub.retransmit(packet.lost)
            elif isinstance(packet, Pli):
                sub = self._sub_by_ssrc.get(packet.media_ssrc)
                if sub is not None:
                    sub.keyframe_requests += 1
                    sub.request_keyframe()
            elif isinstance(packet, Fir):
                for ssrc, _seq in packet.entries:
                    sub = self._sub_by_ssrc.get(ssrc)
                    if sub is not None:
                        sub.keyframe_requests += 1
                        sub.request_keyframe()

    # --- periodic RTCP ------------------------------------------------------------------------

    def send_reports(self) -> None:
        """Once a second: receiver reports + REMB to our publisher, sender reports to our subscriber."""
        now = time.monotonic()
        now_ntp = ntp_now()
        if self.publisher.state == "connected":
            blocks = [b for pub in self.publications.values() for st in pub.layers.values()
                      if (b := st.report_block()) is not None]
            if blocks:
                packets: list[object] = [ReceiverReport(ssrc=self.rtcp_ssrc, reports=blocks[:31])]
                packets.append(Remb(sender_ssrc=self.rtcp_ssrc, bitrate=self.room.remb_bps,
                                    ssrcs=[b.ssrc for b in blocks[:31]]))
                self.publisher.send_rtcp(build_compound(packets))  # type: ignore[arg-type]
        if self.subscriber.state == "connected":
            reports = [sr for sub in self.subscriptions.values() if sub.active
                       and (sr := sub.sender_report(now_ntp, now)) is not None]
            for i in range(0, len(reports), 16):  # keep each compound well under the MTU
                self.subscriber.send_rtcp(build_compound(reports[i : i + 16]))

    # --- lifecycle ----------------------------------------------------------------------------

    def _on_transport_closed(self, transport: PeerTransport) -> None:
        if not self.closed:
            self.room.transport_lost(self, transport.close_reason)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.publisher.on_closed = None
        self.subscriber.on_closed = None
        self.publisher.close("participant left")
        self.subscriber.close("participant left")

    def stats(self) -> dict[str, object]:
        return {
            "name": self.name,
            "publisher": self.publisher.state,
            "subscriber": self.subscriber.state,
            "publications": [
                {"id": p.id, "kind": p.kind, "mid": p.mid, "packets_in": p.packets_in,
                 "layers": {str(ssrc): {"rid": p.rid_by_ssrc.get(ssrc), "received": st.received}
                            for ssrc, st in p.layers.items()}}
                for p in self.publications.values()
            ],
            "subscriptions": [s.stats() for s in self.subscriptions.values()],
            "rtp_errors": self.rtp_errors,
        }

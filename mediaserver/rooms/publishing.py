"""The publisher side of a participant: its publications, SSRC routing, the inbound packet path and uplink RTCP."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from mediaserver.control_protocol import REASON_OVER_LIMIT
from mediaserver.rtp import extensions
from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import RtpHeader, parse_rtp
from mediaserver.rtp.rtcp import Pli, ReceiverReport, Remb, RtcpPacket, SenderReport, build_compound, parse_rtcp
from mediaserver.rtp.twcc_recorder import ArrivalRecorder
from mediaserver.sdp.negotiation import NegotiatedMedia
from mediaserver.transport.peer import PeerTransport
from mediaserver.transport.token_bucket import RTCP_BURST, RTCP_PER_S, TokenBucket

from .publication import Layer, Publication
from .upstream_repair import UplinkRepair

log = structlog.get_logger(__name__)

# How long a layer must be unneeded before the publisher is told to pause it (avoids flapping).
DYNACAST_PAUSE_AFTER_S = 3.0
# A layer silent for longer than this has lost its decoders' reference frames by the time it resumes.
STREAM_GAP_S = 1.0
# All of one publisher's tracks together: a 1080p simulcast camera, a screen share and audio send a few hundred.
MAX_RTP_PER_S = 3000
CUT_OFF_AFTER_WINDOWS = 3  # seconds on end over the rate before the publisher is cut off

Route = tuple[Publication, Layer]


class PublisherSide:
    def __init__(self, participant_id: str, transport: PeerTransport, rtcp_ssrc: int,
                 upstream_nack: bool = True, max_rtp_per_s: int = MAX_RTP_PER_S) -> None:
        self.participant_id = participant_id
        self.transport = transport
        self.rtcp_ssrc = rtcp_ssrc
        self.publications: dict[str, Publication] = {}  # by mid
        self._route: dict[int, Route] = {}  # inbound SSRC -> (publication, layer)
        self._ignored_ssrcs: set[int] = set()  # RTX and streams we cannot place
        # NACKs upstream and RTX un-wrapping (UPSTREAM_NACK; off: RTX is ignored as before).
        self.repair = UplinkRepair(upstream_nack, transport.send_rtcp, rtcp_ssrc)
        self._carry: dict[str, list[tuple[int, str | None]]] = {}  # by mid: SSRCs a recoded track keeps
        self._mid_ext_id = 0
        self._rid_ext_id = 0
        self._rrid_ext_id = 0
        self._audio_level_ext_id = 0
        self._twcc_ext_id = 0
        # Transport-wide congestion control: every numbered packet's arrival, reported every ~100 ms (send_feedback);
        # the publisher's own send-side estimator (libwebrtc's GoogCC in a browser) runs on this feedback.
        self.twcc = ArrivalRecorder()
        self._twcc_media_ssrc = 0  # the last numbered packet's SSRC: the feedback's media source, as in libwebrtc
        self.twcc_feedback_sent = 0
        self.rtp_errors = 0
        self.rtcp_limit = TokenBucket(RTCP_PER_S, RTCP_BURST, time.monotonic())
        # Packets per one-second window, all tracks together: each is copied to every subscriber.
        self.max_rtp_per_s = max_rtp_per_s
        self._rtp_window_end = 0.0
        self._rtp_in_window = 0
        self._windows_over = 0
        self.rtp_over_rate = 0
        # Kinds the host turned off: they stay off for publications created later (a new m-line, a screen share).
        self.disabled_kinds: set[str] = set()
        # Dynacast: the rids each publication was last told to send, and since when a layer is unneeded.
        self._announced: dict[str, frozenset[str]] = {}
        self._unneeded_since: dict[tuple[str, str], float] = {}
        transport.on_rtp = self.on_rtp
        transport.on_rtcp = self.on_rtcp

    def publish(self, media: NegotiatedMedia) -> Publication:
        # A browser sends its camera first; a further video m-line is a screen share (as in LiveKit's sources).
        has_camera = any(p.source == "camera" for p in self.publications.values())
        source = "screen" if media.kind == "video" and has_camera else ""
        pub = Publication(self.participant_id, media.mid, media.kind, media.payload_type,
                          media.rtx_payload_type, media.clock_rate, list(media.rids), source, media.codec)
        pub.offered_codecs = media.offered_codecs or (pub.codec_name,)
        pub.send_pli = self._send_pli
        pub.muted = media.kind in self.disabled_kinds
        self.publications[media.mid] = pub
        ids = media.ext_ids
        self._mid_ext_id = ids.get(extensions.URI_MID, self._mid_ext_id)
        self._rid_ext_id = ids.get(extensions.URI_RID, self._rid_ext_id)
        self._rrid_ext_id = ids.get(extensions.URI_REPAIRED_RID, self._rrid_ext_id)
        # One transport, one numbering: every m-line of the bundle carries the same id.
        self._twcc_ext_id = ids.get(extensions.URI_TRANSPORT_CC, self._twcc_ext_id)
        if media.kind == "audio":
            self._audio_level_ext_id = ids.get(extensions.URI_AUDIO_LEVEL, self._audio_level_ext_id)
        self.repair.pair(media.rtx_ssrcs)
        if not pub.simulcast:
            for ssrc in media.ssrcs[:1]:
                self._bind(pub, ssrc, None)
        for ssrc, rid in self._carry.pop(media.mid, []):
            self._bind(pub, ssrc, rid)
        self._ignored_ssrcs.update(media.rtx_ssrcs.values())
        return pub

    def unpublish(self, mid: str, same_ssrcs: bool = False) -> Publication | None:
        """The browser stopped sending on this m-line (inactive or rejected in a new offer), or, with
        `same_ssrcs`, goes on sending it in another codec on the same SSRCs."""
        pub = self.publications.pop(mid, None)
        if pub is None:
            return None
        routes = [(s, layer.rid) for s, (p, layer) in self._route.items() if p is pub]
        for ssrc, _ in routes:
            del self._route[ssrc]
            if not same_ssrcs:
                self._ignored_ssrcs.add(ssrc)  # late packets of a stopped track must not be re-learned
                self.transport.forget_ssrc(ssrc)
        for ssrc in self.repair.forget(pub):
            if not same_ssrcs:  # else its RTX is learned again by the next publication, as its media SSRCs
                self._ignored_ssrcs.add(ssrc)
                self.transport.forget_ssrc(ssrc)
        if same_ssrcs:
            # Chrome sends the mid and rid extensions only until the SSRCs are known; it keeps them across a
            # codec change, so the next publication of this m-line takes them over as they were bound.
            self._carry[mid] = routes
        self._announced.pop(pub.id, None)
        return pub

    def _send_pli(self, ssrc: int) -> None:
        self.transport.send_rtcp(Pli(sender_ssrc=self.rtcp_ssrc, media_ssrc=ssrc).serialize())

    def request_keyframes(self) -> None:
        """The publisher's path came back: every layer someone watches needs a keyframe to decode again."""
        for pub in self.publications.values():
            for layer in pub.layers:
                if pub.fanout[layer.index]:
                    pub.request_keyframe(layer.index)

    def forget_dynacast(self) -> None:
        """The last layers_needed may have gone to a socket that is gone: announce them again next tick."""
        # An empty set never equals a wanted set (the lowest layer is always wanted), so each is re-sent.
        self._announced = {pub.id: frozenset() for pub in self.publications.values() if pub.simulcast}

    def _bind(self, pub: Publication, ssrc: int, rid: str | None) -> Route | None:
        layer = pub.layer_for(ssrc, rid)
        if layer is None:
            return None
        route = (pub, layer)
        # The layer's previous SSRC (the browser restarted its encoder, or a flood of made-up SSRCs): gone.
        for old in [s for s, (p, bound) in self._route.items() if p is pub and bound is layer and s != ssrc]:
            del self._route[old]
            self.transport.forget_ssrc(old)
        self._route[ssrc] = route
        self.repair.on_bound(ssrc, route)
        log.info("ssrc_bound", participant=self.participant_id, mid=pub.mid, ssrc=ssrc, rid=rid)
        if pub.fanout[layer.index]:
            pub.request_keyframe(layer.index)  # subscribers were waiting for this layer
        return route

    # --- inbound packets (the hot path) ------------------------------------------------------

    def on_rtp(self, data: bytes) -> None:
        try:
            hdr = parse_rtp(data)
        except ParseError:
            self.rtp_errors += 1
            return
        now = time.monotonic()
        if self._twcc_ext_id and hdr.ext_start:
            # Before anything that skips a packet: the sender numbers RTX, padding probes and packets of SSRCs we
            # have not placed yet in the same transport-wide sequence, and counts each one we do not report as lost.
            try:
                twseq = extensions.find_extension(data, hdr, self._twcc_ext_id)
            except ParseError:
                twseq = None  # a broken extension block; what reads it below counts the error
            if twseq is not None and len(twseq) == 2:
                self.twcc.record((twseq[0] << 8) | twseq[1], self.transport.arrival_time(now))
                self._twcc_media_ssrc = hdr.ssrc
        route = self._route.get(hdr.ssrc)
        recovered = False
        if route is None:
            if hdr.ssrc in self.repair.routes:  # --- upstream repair: RTX becomes the original, or stops here
                repaired = self.repair.unwrap(data, hdr)
                if repaired is None:
                    return
                data, hdr, route = repaired
                recovered = True  # --- end upstream repair
            else:
                route = self._learn(data, hdr)
                if route is None:
                    return
        pub, layer = route
        if hdr.payload_type != pub.payload_type:
            return  # padding probes, and RTX when upstream repair is off
        if now >= self._rtp_window_end and self._next_rtp_window(now):
            return  # cut off: the participant is leaving the room
        self._rtp_in_window += 1
        if self._rtp_in_window > self.max_rtp_per_s:
            self.rtp_over_rate += 1
            return
        nack = layer.nack  # None: no upstream repair (audio, or UPSTREAM_NACK=0)
        in_repair = recovered  # a gap is open or just filled: the packet goes out in order (upstream_repair.py)
        if not recovered:  # our receiver reports carry the publisher's loss before repair
            layer.stats.update(hdr.sequence, hdr.timestamp, now, len(data))  # type: ignore[union-attr]
            if nack is not None:  # --- upstream repair: duplicates go no further, a new gap is NACKed at once
                if not nack.on_packet(hdr.sequence, now):
                    return
                if nack.fresh:
                    self.repair.send_nacks(pub, layer, now)
                in_repair = nack.highest != hdr.sequence or bool(nack.missing or layer.hold)  # --- end
        if now - layer.last_packet_at > STREAM_GAP_S and pub.fanout[layer.index]:
            # The layer comes back after a gap (the publisher's network dropped, or dynacast resumed it): its
            # watchers cannot decode what follows without a keyframe, so ask now rather than after their PLIs.
            pub.request_keyframe(layer.index)
        layer.last_packet_at = now
        pub.packets_in += 1
        desc = None
        codec = pub.codec
        if codec is None:
            if self._audio_level_ext_id and hdr.ext_start:
                self._note_audio_level(data, hdr, pub)
        else:
            if hdr.payload_end <= hdr.payload_start:
                if in_repair:
                    self.repair.fan_out(pub, layer, data, hdr, b"", None, now)
                    return
                for sub in pub.fanout[layer.index]:
                    sub.skip(hdr, layer.index)  # padding-only probe: keep the subscriber's numbering gapless
                return
            try:
                desc = codec.describe(data, hdr.payload_start, hdr.payload_end)
            except ParseError:
                self.rtp_errors += 1
                return
            if hdr.marker:
                layer.count_frame()  # the marker ends a frame, in every video payload format
            if desc.keyframe:
                size = codec.frame_size(data, desc, hdr.payload_start)
                if size is not None:
                    layer.width, layer.height = size
        subs = pub.fanout[layer.index]
        if not subs or pub.muted:
            return
        if desc is not None:
            layer.history.put(hdr.sequence, data)  # NACKs are answered from here (video only)
        payload = data[hdr.payload_start :]
        if in_repair:
            self.repair.fan_out(pub, layer, data, hdr, payload, desc, now)
            return
        index = layer.index
        for sub in subs:
            sub.forward(data, hdr, payload, desc, index, now)

    def _next_rtp_window(self, now: float) -> bool:
        """Start a new one-second window; True when the publisher is cut off instead."""
        over = self._rtp_in_window > self.max_rtp_per_s
        self._windows_over = self._windows_over + 1 if over else 0
        self._rtp_window_end = now + 1.0
        self._rtp_in_window = 0
        if self._windows_over >= CUT_OFF_AFTER_WINDOWS:
            # Seconds on end of more than any camera and screen share send: not a browser.
            self.transport.close(f"{REASON_OVER_LIMIT}: over {self.max_rtp_per_s} RTP packets a second")
            return True
        return False

    def _note_audio_level(self, data: bytes, hdr: RtpHeader, pub: Publication) -> None:
        try:
            level = extensions.find_extension(data, hdr, self._audio_level_ext_id)
        except ParseError:
            self.rtp_errors += 1
            return
        if level:
            pub.audio_level.add(level[0] & 0x7F)

    def loudness(self) -> float:
        """Loudness of this participant's audio over the last interval (0 = silent); resets the interval."""
        # Every accumulator is rolled each interval; a host-muted track is heard by nobody, so it never speaks.
        levels = [(p.audio_level.roll(), p.muted) for p in self.publications.values() if not p.is_video]
        return max((level for level, muted in levels if not muted), default=0.0)

    def set_enabled(self, kind: str, enabled: bool) -> int:
        """Host control: stop or resume forwarding this participant's tracks of one kind; returns how many."""
        pubs = [p for p in self.publications.values() if p.kind == kind]
        if enabled:
            self.disabled_kinds.discard(kind)
        else:
            self.disabled_kinds.add(kind)
        for pub in pubs:
            pub.set_muted(not enabled)
        return len(pubs)

    def _learn(self, data: bytes, hdr: RtpHeader) -> Route | None:
        """Bind an unknown SSRC by its mid/rid extensions (Chrome's simulcast offers list no SSRCs)."""
        ssrc = hdr.ssrc
        if ssrc in self._ignored_ssrcs:
            return None
        try:
            mid_raw = extensions.find_extension(data, hdr, self._mid_ext_id) if self._mid_ext_id else None
            rrid_raw = extensions.find_extension(data, hdr, self._rrid_ext_id) if self._rrid_ext_id else None
            rid_raw = extensions.find_extension(data, hdr, self._rid_ext_id) if self._rid_ext_id else None
            mid = extensions.decode_sdes_item(mid_raw) if mid_raw else None
            rid = extensions.decode_sdes_item(rid_raw) if rid_raw else None
            rrid = extensions.decode_sdes_item(rrid_raw) if rrid_raw else None
        except ParseError:
            self.rtp_errors += 1
            return None
        if mid is not None:
            pub = self.publications.get(mid)
        else:
            candidates = [p for p in self.publications.values()
                          if hdr.payload_type in (p.payload_type, p.rtx_payload_type)]
            pub = candidates[0] if len(candidates) == 1 else None
        if pub is None:
            if mid is not None:
                self.transport.forget_ssrc(ssrc)  # a mid we do not have: its slot goes back to the budget
            return None  # without a mid, a later packet may still carry one
        if rrid is not None or hdr.payload_type == pub.rtx_payload_type:
            if not self.repair.learn(ssrc, pub, rrid):
                self._ignored_ssrcs.add(ssrc)
            return None
        return self._bind(pub, ssrc, rid)

    def on_rtcp(self, data: bytes) -> None:
        if not self.rtcp_limit.allow(time.monotonic()):
            return
        try:
            packets = parse_rtcp(data)
        except ParseError:
            self.rtp_errors += 1
            return
        for packet in packets:
            if isinstance(packet, SenderReport):
                route = self._route.get(packet.ssrc)
                if route is not None and route[1].stats is not None:
                    route[1].stats.on_sender_report(packet.ntp_timestamp)

    # --- periodic work -------------------------------------------------------------------------

    def send_feedback(self, now: float) -> None:
        """Every ~100 ms: transport-cc feedback on the packets numbered since the last call."""
        packets = self.twcc.feedback(self.rtcp_ssrc, self._twcc_media_ssrc, now)
        if not packets or self.transport.state != "connected":
            return
        for packet in packets:
            # A bare feedback packet, as libwebrtc sends it (and our PLIs go): browsers offer rtcp-rsize.
            self.transport.send_rtcp(packet)
        self.twcc_feedback_sent += len(packets)

    def send_reports(self, remb_bps: int) -> None:
        """Receiver reports and REMB, once a second.

        The publisher's estimate now comes from its own send-side estimator, fed by our transport-cc feedback
        (send_feedback); REMB stays as the room's ceiling on it (libwebrtc caps its estimate by the REMB it
        receives). A publisher that negotiated no transport-cc has only this REMB and the receiver reports' loss
        to go by.
        """
        if self.transport.state != "connected":
            return
        blocks = []
        for pub in self.publications.values():
            for layer in pub.layers:
                if layer.stats is not None and (block := layer.stats.report_block()) is not None:
                    blocks.append(block)
        if not blocks:
            return
        packets: list[RtcpPacket] = [
            ReceiverReport(ssrc=self.rtcp_ssrc, reports=blocks[:31]),
            Remb(sender_ssrc=self.rtcp_ssrc, bitrate=remb_bps, ssrcs=[b.ssrc for b in blocks[:31]]),
        ]
        self.transport.send_rtcp(build_compound(packets))

    def repair_tick(self, now: float) -> None:
        """Every 50 ms (the room's tick): NACK retries upstream; a second's wait would be too late for them."""
        self.repair.tick(self.publications.values(), now)

    def measure(self, now: float) -> None:
        for pub in self.publications.values():
            for layer in pub.layers:
                layer.measure(now)

    def dynacast(self, now: float, notify: Callable[[Publication, list[str]], None]) -> None:
        """Tell the publisher which simulcast layers someone needs; the lowest always stays on for newcomers."""
        for pub in self.publications.values():
            if not pub.simulcast:
                continue
            needed = {0} | pub.needed_layers(now)
            wanted: set[str] = set()
            for layer in pub.layers:
                key = (pub.id, layer.rid or "")
                if layer.index in needed:
                    self._unneeded_since.pop(key, None)
                    wanted.add(layer.rid or "")
                    continue
                since = self._unneeded_since.setdefault(key, now)
                if now - since < DYNACAST_PAUSE_AFTER_S:
                    wanted.add(layer.rid or "")  # not unneeded for long enough yet
            rids = frozenset(wanted)
            if self._announced.get(pub.id, frozenset(pub.rids)) != rids:
                self._announced[pub.id] = rids
                for layer in pub.layers:
                    layer.paused = (layer.rid or "") not in rids
                notify(pub, [rid for rid in pub.rids if rid in rids])

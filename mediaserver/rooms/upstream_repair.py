"""Uplink repair for one publisher: RTX streams bound to the layers they repair, RTX un-wrapped, NACKs sent upstream.

A publisher's uplink loss would otherwise reach every viewer: each of them NACKs us and our history misses
the very packets that never arrived. So each received video layer keeps a NackGenerator (upstream_nack.py):
the first NACK for a gap goes out from the packet path the moment the gap shows, the retries from the packets
that follow and from the room's 50-ms tick (`tick`). An RTX packet (RFC 4588) is turned back into the original
only while the generator lists its number as missing; duplicates and Chrome's probes on the RTX stream
(padding without an original number, or old packets it resends to probe bandwidth) are dropped and counted.
While a gap is open, what follows it waits (hold_back.py: two round trips at most, 40-100 ms) and goes out in
sequence order once the repair is in, so viewers see neither the gap nor a late packet.

What the publisher is told stays its own loss: a recovered packet is not counted in the layer's ReceiveStats
(RFC 3550 lets a receiver count it; we do not), so our receiver reports carry the loss before repair, which is
what the publisher's rate control and its loss adaptation must see, and late arrivals do not inflate jitter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.header import RtpHeader, parse_rtp
from mediaserver.rtp.rtcpfb import Nack
from mediaserver.rtp.rtx import OSN_SIZE, original_sequence, unwrap_rtx

from .codec import FrameDescriptor
from .forwarder import Forwarder
from .hold_back import HoldBack, hold_time
from .publication import Layer, Publication
from .upstream_nack import NackGenerator
from .video_subscription import ALL_TEMPORAL

Route = tuple[Publication, Layer]


def _unknown_rtt() -> float | None:
    return None


def late_takers(subs: list[Forwarder]) -> list[Forwarder]:
    """The forwarders a late packet (repaired after what followed it had gone) may go to.

    A subscription that drops temporal layers closes each drop's gap by moving its sequence offset for the
    packets after it (video_subscription.py), so a packet from before such a drop would be given a number
    already used, and one that it drops would move numbers already sent. Those get no late packets: for them
    it is as if repair were off.
    """
    return [sub for sub in subs if getattr(sub, "max_tid", ALL_TEMPORAL) >= ALL_TEMPORAL]


class UplinkRepair:
    """The repair state of one publisher connection; `enabled` False leaves the old path (RTX ignored)."""

    def __init__(self, enabled: bool, send_rtcp: Callable[[bytes], None], rtcp_ssrc: int) -> None:
        self.enabled = enabled
        self._send_rtcp = send_rtcp
        self._rtcp_ssrc = rtcp_ssrc
        self.routes: dict[int, Route] = {}  # RTX SSRC -> the layer it repairs
        self._paired: dict[int, int] = {}  # media SSRC -> its RTX SSRC, from the offer's a=ssrc-group:FID
        # Round trip to this browser in seconds, None while unknown (set by the participant: see participant.py);
        # read on each tick into `_rtt`, which paces NACKs and bounds the hold between ticks.
        self.rtt: Callable[[], float | None] = _unknown_rtt
        self._rtt: float | None = None

    # --- binding ---------------------------------------------------------------------------

    def pair(self, rtx_ssrcs: dict[int, int]) -> None:
        """The offer's FID groups (Firefox; Chrome without simulcast): each media SSRC with its RTX SSRC."""
        if self.enabled:
            self._paired.update(rtx_ssrcs)

    def on_bound(self, ssrc: int, route: Route) -> None:
        """A media SSRC was bound to its layer: the layer numbers afresh, and its FID-paired RTX repairs it."""
        pub, layer = route
        repaired = self.enabled and pub.is_video
        layer.nack = NackGenerator() if repaired else None
        layer.hold = HoldBack() if repaired else None
        rtx = self._paired.get(ssrc)
        if rtx is not None and layer.nack is not None:
            self.routes[rtx] = route

    def learn(self, ssrc: int, pub: Publication, rrid: str | None) -> bool:
        """An RTX stream placed by its mid and repaired-rtp-stream-id extensions (Chrome's rid simulcast); True
        when bound (its first packet only places it: Chrome's first on an RTX stream are padding probes)."""
        if not self.enabled or not pub.is_video:
            return False
        if rrid is not None:
            if rrid not in pub.rids:
                return False
            layer = pub.layers[pub.rids.index(rrid)]
        elif pub.simulcast:
            return False  # which layer it repairs is unknown
        else:
            layer = pub.layers[0]
        self.routes[ssrc] = (pub, layer)
        return True

    def forget(self, pub: Publication) -> list[int]:
        """The publication is gone: its RTX SSRCs, to be freed or learned again by the next one."""
        gone = [ssrc for ssrc, (p, _) in self.routes.items() if p is pub]
        for ssrc in gone:
            del self.routes[ssrc]
        return gone

    # --- the packet path -----------------------------------------------------------------------

    def unwrap(self, data: bytes, hdr: RtpHeader) -> tuple[bytes, RtpHeader, Route] | None:
        """The original packet an RTX packet repairs, or None when it is not wanted (the caller drops it)."""
        route = self.routes[hdr.ssrc]
        pub, layer = route
        nack = layer.nack
        if nack is None or layer.ssrc is None or hdr.payload_type != pub.rtx_payload_type:
            return None
        if hdr.payload_end - hdr.payload_start < OSN_SIZE:
            nack.rtx_padding += 1
            return None
        if not nack.recover(original_sequence(data, hdr)):
            return None  # a duplicate (the original came late, or an earlier RTX), or a probe of an old packet
        packet = unwrap_rtx(data, hdr, layer.ssrc, pub.payload_type)
        try:
            return packet, parse_rtp(packet), route
        except ParseError:  # cannot happen for a packet parse_rtp accepted; kept so the path never raises
            return None

    def send_nacks(self, pub: Publication, layer: Layer, now: float) -> None:
        """NACK what is due for this layer (a new gap at once; retries as packets come and on the tick)."""
        nack = layer.nack
        if nack is None or layer.ssrc is None:
            return
        if not pub.fanout[layer.index] or pub.muted:
            nack.clear()  # nobody would get the repaired packets: spare the publisher's uplink
            return
        lost = nack.due(now, self._rtt)
        if lost:
            self._send_rtcp(Nack(sender_ssrc=self._rtcp_ssrc, media_ssrc=layer.ssrc, lost=lost).serialize())

    def fan_out(self, pub: Publication, layer: Layer, data: bytes, hdr: RtpHeader, payload: bytes,
                desc: FrameDescriptor | None, now: float) -> None:
        """A packet of a layer with a gap open, or one that fills a gap: it goes out in sequence order, after the
        repair of any number before it or once it has waited its time (`desc` None: a padding-only packet)."""
        nack, hold = layer.nack, layer.hold
        if nack is None or hold is None:
            return
        hold.add(hdr.sequence, now, (data, hdr, payload, desc))
        if nack.missing:
            self.send_nacks(pub, layer, now)
        self._release(pub, layer, now)

    def _release(self, pub: Publication, layer: Layer, now: float) -> None:
        nack, hold = layer.nack, layer.hold
        if nack is None or hold is None:
            return
        ready = hold.ready(now, hold_time(self._rtt), nack.oldest_missing())
        if not ready or pub.muted:
            return
        subs = pub.fanout[layer.index]
        index = layer.index
        for (data, hdr, payload, desc), late in ready:
            if desc is None:
                if not late:  # a late one would move numbers already sent
                    for sub in subs:
                        sub.skip(hdr, index)
                continue
            for sub in late_takers(subs) if late else subs:
                sub.forward(data, hdr, payload, desc, index, now)

    def tick(self, publications: Iterable[Publication], now: float) -> None:
        """Every 50 ms: the retries and give-ups of every layer with numbers missing, and what has waited enough."""
        self._rtt = self.rtt()
        for pub in publications:
            for layer in pub.layers:
                nack = layer.nack
                if nack is not None and nack.missing:
                    self.send_nacks(pub, layer, now)
                if layer.hold:
                    self._release(pub, layer, now)

"""The downlink loop closed over a simulated link: numbered packets, transport-cc feedback, estimate, allocation
passes and probes. A subscriber pinning a 720p video behind a 600 kbit/s bottleneck settles on what fits and
climbs back to the top layer when the cap goes; the packets it gets carry consecutive transport-wide numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from mediaserver.rooms.downlink_bandwidth import DownlinkBandwidth, VideoWish
from mediaserver.rooms.publication import Publication
from mediaserver.rooms.subscriptions import new_subscription
from mediaserver.rooms.video_subscription import VideoSubscription
from mediaserver.rtp import extensions
from mediaserver.rtp.header import parse_rtp
from mediaserver.rtp.rtcpfb import TransportCC
from mediaserver.rtp.twcc import REFERENCE_TICK_US, encode_feedback

from .bwe_link import Link

# Chrome's three simulcast layers of a 1280x720 camera, as measured on arrival.
LAYER_BPS = (150_000, 500_000, 1_700_000)
PAYLOAD = 1000
STEP_S = 0.002
FEEDBACK_S = 0.1
TOP = 0


def pinned_subscription() -> VideoSubscription:
    pub = Publication("host", "0", "video", 96, 97, 90000, ["q", "h", "f"])
    for layer, bps in zip(pub.layers, LAYER_BPS, strict=True):
        layer.bitrate_bps = bps
    sub = new_subscription(pub, "1", 96, lambda _: None)
    assert isinstance(sub, VideoSubscription)
    return sub


@dataclass
class Downlink:
    """One subscriber's media (at the rate of the level it is given) and probe padding through a link."""

    link: Link
    bw: DownlinkBandwidth = field(default_factory=lambda: DownlinkBandwidth("guest", 3))
    sub: VideoSubscription = field(default_factory=pinned_subscription)
    now: float = 0.0
    index: int = -1
    levels: list[tuple[float, int, int]] = field(default_factory=list)  # (t, ladder index, media bit/s)
    media_sent: int = 0
    media_lost: int = 0
    _credit: float = 0.0
    _in_flight: deque[tuple[int, float | None, bool]] = field(default_factory=deque)
    _feedback: deque[tuple[float, bytes]] = field(default_factory=deque)
    _count: int = 0
    numbers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bw.headers.numbering = True
        self.bw.rtx = True
        self.sub.pack = self.bw.headers.pack
        self._plan(stepwise=False)

    def media_bps(self) -> int:
        return self._demand_costs()[self.index]

    def _demand_costs(self) -> list[int]:
        return list(DownlinkBandwidth._demand(self._wish()).costs)

    def _wish(self) -> VideoWish:
        return VideoWish(self.sub, 2, 1280 * 720, False)

    def _plan(self, stepwise: bool) -> None:
        decision = self.bw.plan([self._wish()], 0, self.now, stepwise)[0]
        if decision.index != self.index:
            self.index = decision.index
            self.levels.append((self.now, decision.index, self.media_bps()))

    def _transmit(self, packet: bytes, media: bool) -> None:
        hdr = parse_rtp(packet)
        value = extensions.find_extension(packet, hdr, 3)
        assert value is not None
        seq = extensions.decode_transport_cc(value)
        self.numbers.append(seq)
        arrival = self.link.carry(self.now, len(packet) + 38)
        self._in_flight.append((seq, arrival, media))
        if media:
            self.media_sent += 1
            self.media_lost += arrival is None

    def run(self, until: float) -> None:
        next_feedback = self.now + FEEDBACK_S
        next_pass = self.now + 1.0
        next_padding = self.now + 0.05
        while self.now < until:
            self.now += STEP_S
            self._credit += self.media_bps() * STEP_S / 8
            while self._credit >= PAYLOAD:
                self._credit -= PAYLOAD
                self._transmit(self.sub.pack(0x80, 96, 0, 0, self.sub.ssrc, PAYLOAD, self.now) + bytes(PAYLOAD), True)
            while self._feedback and self._feedback[0][0] <= self.now:
                if self.bw.on_feedback(TransportCC(1, 2, self._feedback.popleft()[1]), self.now):
                    self._plan(stepwise=False)
            if self.now >= next_padding:
                next_padding += 0.05
                for packet in self.bw.padding(self.sub, 97, self.now):
                    self._transmit(packet, False)
            if self.now >= next_feedback:
                next_feedback += FEEDBACK_S
                self._report()
            if self.now >= next_pass:
                next_pass += 1.0
                self._plan(stepwise=True)

    def _report(self) -> None:
        arrived = [i for i, (_, at, _) in enumerate(self._in_flight) if at is not None and at <= self.now]
        if not arrived:
            return
        entries = []
        for _ in range(arrived[-1] + 1):
            seq, at, _ = self._in_flight.popleft()
            entries.append((seq, None if at is None else int(at * 1_000_000) // 250 * 250))
        reference = entries[0][1] if entries[0][1] is not None else next(a for _, a in entries if a is not None)
        ref_ticks = reference // REFERENCE_TICK_US
        fci = encode_feedback(entries[0][0], ref_ticks, self._count & 0xFF, entries)
        self._count += 1
        self._feedback.append((self.now + self.link.delay_s, fci))

    def index_at(self, t: float) -> int:
        return [index for at, index, _ in self.levels if at <= t][-1]

    def highest_rate_between(self, start: float, end: float) -> int:
        rates = [bps for at, _, bps in self.levels if start <= at <= end]
        return max([self._rate_at(start), *rates])

    def _rate_at(self, t: float) -> int:
        return [bps for at, _, bps in self.levels if at <= t][-1]


def test_a_capped_downlink_settles_on_what_fits_and_climbs_back_when_the_cap_goes() -> None:
    link = Link(capacity_bps=600_000)
    down = Downlink(link)
    assert down.index == TOP  # the initial estimate lets a good link start at the top
    down.run(10.0)
    lost_before, sent_before = down.media_lost, down.media_sent
    down.run(40.0)
    # Settled: what is sent fits the cap with room for headers, and hardly anything is lost.
    assert down.highest_rate_between(10.0, 40.0) <= 600_000 * 0.9
    lost = (down.media_lost - lost_before) / (down.media_sent - sent_before)
    assert lost < 0.02, f"{lost:.1%} of media lost while settled"
    assert down.index_at(40.0) <= 3, "it should still use most of the link (640x360 at some frame rate)"
    link.capacity_bps = 5_000_000
    down.run(55.0)
    assert down.index_at(55.0) == TOP, f"not back at the top 15 s after the cap went: {down.levels}"
    assert down.bw.probe.succeeded >= 1


def test_every_packet_carries_the_next_transport_wide_number() -> None:
    down = Downlink(Link(capacity_bps=5_000_000))
    down.run(3.0)
    assert len(down.numbers) > 100
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(down.numbers, down.numbers[1:], strict=False))


def test_probe_padding_goes_on_the_rtx_stream_as_padding_only() -> None:
    down = Downlink(Link(capacity_bps=600_000))
    down.run(12.0)
    assert down.bw.probe.probes >= 1
    bw, sub = down.bw, down.sub
    bw.probe.start(down.now, 2_000_000, 500_000)
    packets = bw.padding(sub, 97, down.now + 0.3)
    assert packets
    for packet in packets:
        hdr = parse_rtp(packet)
        assert (hdr.ssrc, hdr.payload_type) == (sub.rtx_ssrc, 97)
        assert packet[0] & 0x20 and hdr.payload_end == hdr.payload_start  # nothing but padding


def test_after_congestion_no_pass_goes_up_on_the_estimate_alone_but_a_calm_link_does() -> None:
    down = Downlink(Link(capacity_bps=600_000))
    down.run(20.0)
    held = down.index
    assert held > TOP
    down.bw.estimator.estimate_bps = 5_000_000  # an estimate drifted above the cap, as GCC's does when app-limited
    decision = down.bw.plan([down._wish()], 0, down.now, stepwise=False)[0]  # a tile-size change, say
    assert decision.index == held, "went up on an unproven estimate right after congestion"

    calm = Downlink(Link(capacity_bps=5_000_000))
    calm.bw._levels[calm.sub.publication.id] = 4  # held low by an earlier pass
    assert calm.bw.plan([calm._wish()], 0, 1.0, stepwise=False)[0].index == TOP  # no congestion seen: at once

"""A participant's connection quality, once a second: what its uplink and downlink measured, scored and smoothed.

Uplink: what we receive from it (our receive statistics of its streams over the last report interval: loss,
RFC 3550 jitter). Downlink: what its browser reports on what we send it (receiver reports' jitter and RTT) and
the loss on the way to it (`DownlinkLoss`, below). The RTT, measured on the subscriber connection only (we send
no sender reports to publishers), counts for both directions: it is the same path.

Delay inputs: the jitter is the audio streams' when there are any. The E-model's jitter buffer is an audio one,
and RFC 3550 jitter on video counts the packets of one frame, which share a timestamp and leave the pacer over
tens of ms, as jitter (a keyframe's burst reads 50-130 ms from Chrome). The RTT is the lowest of the last
RTT_WINDOW_S: one receiver report's RTT also holds the browser's and our own scheduling (on a loaded machine,
330-540 ms for two or three reports while nothing was wrong with the network), so a delay counts once it lasts.

The participant's score is
the worse direction's; a direction with nothing measured does not count. Lost: a connected transport of its
silent for LOST_AFTER_S (media, RTCP and ICE checks all stopped: Chrome checks about every 2.5 s), or consent
lost.

Attribution: a subscriber's receiver reports count the packets the publisher's uplink lost too, because the
forwarded sequence numbers keep those gaps. So the downlink loss is `RetransmittedLoss`: the packets the
subscriber NACKed that we had sent, and resent to it. A number the publisher never delivered has no entry in
the subscription's history, is not resent (it counts as a `nack_miss`) and is not blamed on the subscriber.
Only video is NACKed (our offers negotiate NACK on video alone); a subscriber that gets audio alone falls back
to its receiver reports, minus what the publisher's uplink lost on the same stream (`report_excess_loss`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from mediaserver.transport.peer import PeerTransport

from .publishing import PublisherSide
from .quality import LOST, LinkSample, QualitySmoother, Score, score, worst
from .subscribing import SubscriberSide
from .subscription import Subscription

LOST_AFTER_S = 8.0  # > 3 of Chrome's ICE checks: a lossy link misses one or two, not three in a row
RTT_WINDOW_S = 5.0

# The downlink-loss input, swappable: a stateful callable per participant, read once a second. Transport-wide
# feedback will give a cleaner one (the loss of exactly what we sent on the subscriber connection).
DownlinkLoss = Callable[[SubscriberSide], float | None]


def excess_loss(observed: float, upstream: float) -> float:
    """The loss after the publisher's, when `observed` is both together: 1 - (1 - observed) / (1 - upstream)."""
    if upstream >= 1.0:
        return 0.0
    return min(max(1 - (1 - observed) / (1 - upstream), 0.0), 1.0)


def voice_jitter_ms(jitters: list[tuple[str, float]]) -> float:
    """The worst audio jitter of (kind, jitter ms) pairs; the worst video jitter when there is no audio."""
    audio = [jitter for kind, jitter in jitters if kind == "audio"]
    return max(audio or [jitter for _, jitter in jitters], default=0.0)


class RttFloor:
    """The lowest RTT reported in the last `window_s` seconds (None while none was)."""

    def __init__(self, window_s: float = RTT_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()

    def update(self, now: float, rtt_ms: float | None) -> float | None:
        if rtt_ms is not None:
            self._samples.append((now, rtt_ms))
        while self._samples and now - self._samples[0][0] >= self.window_s:
            self._samples.popleft()
        return min((rtt for _, rtt in self._samples), default=None)


def _upstream_layer_stats(sub: Subscription) -> tuple[float, float]:
    """(loss fraction, jitter in ms) of the publisher's layer this subscription forwards now."""
    pub = sub.publication
    if not 0 <= sub.current_layer < len(pub.layers):
        return 0.0, 0.0
    stats = pub.layers[sub.current_layer].stats
    if stats is None:
        return 0.0, 0.0
    return stats.last_fraction_lost, stats.jitter * 1000 / pub.clock_rate


def _reported(subscribing: SubscriberSide) -> list[Subscription]:
    """The subscriptions its browser reports on (an RR has given them an RTT)."""
    return [s for s in subscribing.subscriptions.values() if s.active and s.rtt is not None]


def report_excess_loss(subscribing: SubscriberSide) -> float | None:
    """The worst receiver-report loss of its streams, less what their publishers' uplinks lost."""
    losses = [excess_loss(s.fraction_lost, _upstream_layer_stats(s)[0]) for s in _reported(subscribing)]
    return max(losses, default=None)


class RetransmittedLoss:
    """The default `DownlinkLoss`: video packets resent to the subscriber per video packet sent, last interval.

    A resend answers a NACK of a packet we did send (at most once per round trip for one number, so a lost
    resend that is NACKed again counts again: at 15 % loss each way it reads about 17 %). Without video sent in
    the interval: `report_excess_loss`.
    """

    def __init__(self) -> None:
        self._marks: dict[int, tuple[int, int]] = {}  # subscription SSRC -> (packets sent, resent)

    def __call__(self, subscribing: SubscriberSide) -> float | None:
        marks: dict[int, tuple[int, int]] = {}
        sent = resent = 0
        for sub in subscribing.subscriptions.values():
            if sub.kind != "video":
                continue
            counts = (sub.packets_sent, sub.retransmits)
            before = self._marks.get(sub.ssrc, (0, 0))
            marks[sub.ssrc] = counts
            if sub.active:
                sent += counts[0] - before[0]
                resent += counts[1] - before[1]
        self._marks = marks  # a removed subscription's marks go with it
        if sent > 0:
            return min(max(resent, 0) / sent, 1.0)
        return report_excess_loss(subscribing)


class FeedbackLoss:
    """The default `DownlinkLoss`: the transport-wide feedback's count of what we sent that never arrived (the
    bandwidth estimator's last second), which no publisher's loss can reach; `RetransmittedLoss` for a browser
    that gives no such feedback, or before its first."""

    def __init__(self) -> None:
        self._fallback = RetransmittedLoss()

    def __call__(self, subscribing: SubscriberSide) -> float | None:
        fallback = self._fallback(subscribing)  # keeps its marks current either way
        bandwidth = subscribing.bandwidth
        if bandwidth.active and bandwidth.estimator.feedbacks > 0:
            return bandwidth.estimator.loss
        return fallback


def uplink_sample(publishing: PublisherSide, rtt_ms: float | None) -> LinkSample | None:
    """The worst loss of its streams that carried packets in the last second, and their voice jitter."""
    if publishing.transport.state != "connected":
        return None
    loss, jitters = 0.0, []
    for pub in publishing.publications.values():
        for layer in pub.layers:
            stats = layer.stats
            if stats is None or layer.bitrate_bps <= 0:
                continue  # nothing arrived on it in the last second (camera off, paused layer)
            loss = max(loss, stats.last_fraction_lost)
            jitters.append((pub.kind, stats.jitter * 1000 / pub.clock_rate))
    return LinkSample(loss, voice_jitter_ms(jitters), rtt_ms) if jitters else None


def downlink_sample(subscribing: SubscriberSide, loss: float | None, rtt_ms: float | None) -> LinkSample | None:
    """`loss` from the DownlinkLoss input; the voice jitter its browser reports, less the publisher's own."""
    reported = _reported(subscribing)
    if subscribing.transport.state != "connected" or not reported or loss is None:
        return None
    # RR jitter is in the stream's clock; what the publisher's uplink added is already in what we forward.
    jitters = [(s.kind, max(s.jitter * 1000 / s.publication.clock_rate - _upstream_layer_stats(s)[1], 0.0))
               for s in reported]
    return LinkSample(loss, voice_jitter_ms(jitters), rtt_ms)


def silent(transport: PeerTransport) -> bool:
    """Consent lost, or connected and nothing (media, RTCP, ICE checks) heard from its browser for LOST_AFTER_S."""
    if transport.state == "disconnected":
        return True
    # last_seen is in the mux's clock (advanced once a second or faster): compare in that clock.
    return transport.state == "connected" and transport.mux.now - transport.last_seen > LOST_AFTER_S


class ParticipantQuality:
    """One per participant: `update` once a second after its RTCP work; `shown` is what its tile shows."""

    def __init__(self, publishing: PublisherSide, subscribing: SubscriberSide,
                 downlink_loss: DownlinkLoss | None = None, smoother: QualitySmoother | None = None) -> None:
        self.publishing = publishing
        self.subscribing = subscribing
        self.downlink_loss: DownlinkLoss = downlink_loss or FeedbackLoss()
        self.smoother = smoother or QualitySmoother()
        self._rtt = RttFloor()
        self.last: Score | None = None  # this second's score, before smoothing (the metrics' sample)
        self.uplink: LinkSample | None = None
        self.downlink: LinkSample | None = None

    @property
    def shown(self) -> Score | None:
        return self.smoother.shown

    def update(self, now: float) -> bool:
        """Measure both directions and score them; True when the shown level changed."""
        # Read every second even when lost, so the loss input's marks stay one interval behind.
        down_loss = self.downlink_loss(self.subscribing)
        rtt_ms = self._rtt.update(now, self.subscribing.median_rtt_ms())
        self.downlink = downlink_sample(self.subscribing, down_loss, rtt_ms)
        self.uplink = uplink_sample(self.publishing, rtt_ms)
        if silent(self.publishing.transport) or silent(self.subscribing.transport):
            self.last = LOST
        else:
            self.last = worst(score(s) if s is not None else None for s in (self.uplink, self.downlink))
        return self.smoother.update(now, self.last)

    def summary(self) -> dict[str, object]:
        """The shown level and MOS (None until something was measured), for the host's statistics."""
        shown = self.shown
        return {"quality": None if shown is None else shown.level,
                "mos": None if shown is None else round(shown.mos, 2)}

"""A subscriber's downlink bandwidth: the transport-wide numbering, the estimate from its browser's feedback, the
allocation passes that spend it on the videos it watches, and the probes that look for more.

Used by the subscriber side once the browser's answer kept the transport-cc extension; a browser without it
stays on the loss-driven DownlinkController.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import structlog

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.rtcpfb import TransportCC
from mediaserver.sdp.negotiation import SUBSCRIBER_RTX_PAYLOAD_TYPES

from . import allocator, layer_selector
from .allocator import Demand
from .bandwidth_estimator import BandwidthEstimator
from .layer_selector import Quality
from .outbound import OutboundHeaders
from .probe import PADDING_BYTES, ProbeController
from .subscription import Subscription

log = structlog.get_logger(__name__)

# Where the estimate starts before any feedback: what Chrome's publishers are told to start at, so a good
# link gets its top layer at once and a thin one is found within a few feedback rounds.
INITIAL_BPS = 2_500_000
MIN_BPS = 100_000
# A probe asks for a little more than the next step needs, so its success leaves room for that step; but
# never more than half again the estimate: on a capped link a probe fills the bottleneck's queue, and a big
# step (640x360 to 1280x720 at two thirds of the frames doubles the rate) is found in two or three probes.
PROBE_HEADROOM = 1.1
PROBE_MAX_FACTOR = 1.5
# This long after the last sign of congestion the estimate alone may take videos up (a tile pinned on a clean
# link gets its layer at once); before, only what a probe proved.
CALM_S = 10.0
# A probe succeeded when the receiver acknowledged this share of what it asked for.
PROBE_CARRIED = 0.95
# Feedback saying this much loss during a probe: the probe hit a cap, stop it.
PROBE_ABORT_LOSS = 0.05
# No probing on a link losing this much: the estimate is already being cut.
PROBE_MAX_LOSS = 0.02
_PADDING = bytes(PADDING_BYTES - 1) + bytes((PADDING_BYTES,))


@dataclass
class VideoWish:
    """One video subscription and what its tile wants, as the subscriber side knows it."""

    sub: Subscription
    wanted_layer: int
    area: int
    speaker: bool


@dataclass
class Decision:
    sub: Subscription
    quality: Quality  # before the clamp to the layers the publisher is sending
    index: int


class DownlinkBandwidth:
    def __init__(self, participant_id: str, transport_cc_id: int) -> None:
        self.participant_id = participant_id
        self.estimator = BandwidthEstimator(INITIAL_BPS, MIN_BPS)
        self.headers = OutboundHeaders(transport_cc_id, self.estimator)
        self.probe = ProbeController()
        self.rtx = False  # the browser took RTX: probe padding has somewhere to go
        self._levels: dict[str, int] = {}  # by publication id: the ladder index last applied
        self._probe_need = 0
        self._probing = False  # a probe was started and has not been judged yet
        self._probe_peak = 0  # the most the receiver acknowledged during the probe, with no sign of a queue
        # What a probe saw the link carry: within CALM_S of congestion a step up must fit it as well as the
        # estimate. An estimate alone drifts above a cap while little is sent (GCC grows it up to 1.5x what is
        # acknowledged), and a step taken on it is taken back seconds later: that is flapping, and every spatial
        # switch costs a keyframe burst on the thin link itself.
        self.proven_bps = 0
        self.congested_at = -1e9  # the delay detector's overuse, or loss above PROBE_MAX_LOSS, last seen
        self.feedback_errors = 0
        self.allocated_bps = 0

    @property
    def active(self) -> bool:
        return self.headers.numbering

    # --- feedback ----------------------------------------------------------------------------------

    def on_feedback(self, packet: TransportCC, now: float) -> bool:
        """One transport-cc packet; True when the estimate fell below what is allocated (run a pass now)."""
        try:
            feedback = packet.decode()
        except ParseError:
            self.feedback_errors += 1
            return False
        estimator = self.estimator
        estimator.on_feedback(feedback.arrivals, now)
        # Padding lost counts here (loss_all): it is how a probe finds the cap, and a cap just found is congestion.
        if estimator.overusing or estimator.loss_all > PROBE_MAX_LOSS:
            self.congested_at = now
        if self.probe.active:
            if estimator.overusing or estimator.loss_all > PROBE_ABORT_LOSS:
                self.probe.abort(now)
            elif estimator.loss_all <= PROBE_MAX_LOSS:
                self._probe_peak = max(self._probe_peak, estimator.acked_bps)
        return estimator.estimate_bps * allocator.BUDGET_SHARE < self.allocated_bps

    # --- allocation ---------------------------------------------------------------------------------

    def apply(self, subscriptions: Iterable[Subscription], wish_of: Callable[[Subscription], VideoWish],
              now: float, stepwise: bool) -> list[Subscription]:
        """A pass over a subscriber's videos, applied: each aims at its level (clamped to the layers its
        publisher sends); returns them, for the caller's keyframe retries."""
        subs = list(subscriptions)
        wishes = [wish_of(s) for s in subs if s.kind == "video" and not s.paused]
        # Audio is not numbered (sdp/subscriber.py): the estimate is already of what the link leaves for video.
        audio_bps = 0
        applied = []
        for decision in self.plan(wishes, audio_bps, now, stepwise):
            sub, quality = decision.sub, decision.quality
            sub.wanted_layer = quality.layer  # dynacast keeps it running even while the publisher pauses it
            highest = sub.publication.highest_live(now)
            sub.select(min(quality.layer, highest) if highest >= 0 else quality.layer, quality.max_tid)
            applied.append(sub)
        return applied

    def plan(self, wishes: Sequence[VideoWish], audio_bps: int, now: float, stepwise: bool) -> list[Decision]:
        """Each video's level for the current estimate; `stepwise` passes climb one level and may probe."""
        demands = [self._demand(w) for w in wishes]
        budget = int(self.estimator.estimate_bps * allocator.BUDGET_SHARE) - audio_bps
        chosen = allocator.allocate(budget, demands, self._levels)
        if stepwise:
            self._judge_probe(now)
            chosen = {d.key: allocator.step_towards(self._levels.get(d.key, -1), chosen[d.key]) for d in demands}
        if now - self.congested_at < CALM_S:
            chosen = self._proven_only(demands, chosen, audio_bps)
        decisions = []
        for wish, demand in zip(wishes, demands, strict=True):
            index = self._levels[demand.key] = chosen[demand.key]
            decisions.append(Decision(wish.sub, demand.levels[index], index))
        self.allocated_bps = audio_bps + allocator.total_cost(demands, chosen)
        if stepwise:
            self._consider_probe(demands, audio_bps, now)
        return decisions

    def _proven_only(self, demands: Sequence[Demand], chosen: dict[str, int], audio_bps: int) -> dict[str, int]:
        """After congestion, no video goes up unless a probe has shown the link to carry the result."""
        current = {d.key: self._levels.get(d.key, -1) for d in demands}
        if not any(0 <= chosen[k] < current[k] for k in chosen):
            return chosen
        if allocator.total_cost(demands, chosen) <= self.proven_bps * allocator.BUDGET_SHARE - audio_bps:
            return chosen
        return {k: max(v, current[k]) if current[k] >= 0 else v for k, v in chosen.items()}

    def forget(self, publication_id: str) -> None:
        self._levels.pop(publication_id, None)

    @staticmethod
    def _demand(wish: VideoWish) -> Demand:
        pub = wish.sub.publication
        levels = layer_selector.ladder(max(wish.wanted_layer, 0), temporal=True)
        count = len(pub.layers)
        costs = [allocator.level_cost(allocator.layer_bps(pub.layers[min(q.layer, count - 1)].bitrate_bps,
                                                          q.layer, count), q.max_tid) for q in levels]
        return Demand(pub.id, wish.area, wish.speaker, levels, costs)

    def _judge_probe(self, now: float) -> None:
        if self._probing and not self.probe.active:
            self._probing = False
            # Success: the link carried what the probe asked for, or the next step's need (then the next probe
            # asks for more: a big step is found in two or three).
            asked = min(self._probe_need, int(self.probe.target_bps / PROBE_HEADROOM))
            succeeded = self._probe_peak >= asked * PROBE_CARRIED
            if succeeded:
                # Carried within PROBE_CARRIED of what it asked: that much is proven (the step it was for fits).
                self.proven_bps = max(self._probe_peak, asked)
            self.probe.finish(now, succeeded)
            log.info("probe_done", participant=self.participant_id, need_bps=self._probe_need, asked_bps=asked,
                     carried_bps=self._probe_peak, estimate_bps=self.estimator.estimate_bps, succeeded=succeeded)

    def _consider_probe(self, demands: Sequence[Demand], audio_bps: int, now: float) -> None:
        """Probe for the next step up of the first video held below its tile's wish by the budget."""
        estimator = self.estimator
        if (not self.rtx or not self.probe.can_start(now) or estimator.overusing
                or estimator.loss_all > PROBE_MAX_LOSS):
            return
        for demand in allocator.priority_order(demands):
            index = self._levels.get(demand.key, 0)
            if index <= 0:
                continue
            step = demand.costs[index - 1] - demand.costs[index]
            need = int((self.allocated_bps + step) / allocator.BUDGET_SHARE)
            self._probe_need = need
            self._probing = True
            self._probe_peak = 0
            target = min(int(need * PROBE_HEADROOM), int(estimator.estimate_bps * PROBE_MAX_FACTOR))
            self.probe.start(now, target, max(estimator.acked_bps, self.allocated_bps))
            log.info("probe_start", participant=self.participant_id, need_bps=need,
                     estimate_bps=estimator.estimate_bps, for_track=demand.key)
            return

    # --- probe padding --------------------------------------------------------------------------------

    def send_padding(self, subscriptions: Iterable[Subscription], send: Callable[[bytes], object],
                     now: float) -> None:
        carrier = next((s for s in subscriptions if s.kind == "video" and s.active), None)
        if carrier is None:
            self.probe.abort(now)  # nothing on the link to carry it
            return
        for packet in self.padding(carrier, SUBSCRIBER_RTX_PAYLOAD_TYPES[carrier.publication.codec_name], now):
            send(packet)

    def padding(self, carrier: Subscription, rtx_payload_type: int, now: float) -> list[bytes]:
        """The probe's padding due now, on `carrier`'s RTX stream (padding only: the browser drops it)."""
        count = self.probe.padding_due(now)
        packets = []
        for _ in range(count):
            seq = carrier.rtx_seq = (carrier.rtx_seq + 1) & 0xFFFF
            header = carrier.pack(0xA0, rtx_payload_type, seq, carrier.last_ts, carrier.rtx_ssrc, PADDING_BYTES, now)
            self.estimator.mark_padding()
            packets.append(header + _PADDING)
        return packets

    def stats(self) -> dict[str, object]:
        return {**self.estimator.stats(), "allocated_bps": self.allocated_bps, "proven_bps": self.proven_bps,
                "probe": self.probe.stats(),
                "feedback_errors": self.feedback_errors}

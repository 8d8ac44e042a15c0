"""Connection quality score (sans-IO): a simplified ITU-T G.107 E-model, its levels, and a smoother against flapping.

R = R0 - Id(d) - Ie_eff(loss), MOS from R (G.107 Annex B), a level from the MOS:

* d, the one-way mouth-to-ear delay in ms: RTT/2 + JITTER_BUFFER_FACTOR x jitter (what a jitter buffer adds
  to absorb it, as LiveKit's scorer counts it) + END_SYSTEM_DELAY_MS (capture, 20-ms Opus frames, the encoder's
  look-ahead, the minimum playout buffer and the audio devices at both ends: what WebRTC adds besides the network).
* Id, Cole & Rosenbluth's fit of G.107's delay impairment: 0.024 d + 0.11 (d - 177.3) once d passes 177.3 ms.
* Ie_eff = Ie + (95 - Ie) P / (P + Bpl) with P the loss in percent (G.107's random-loss form), Ie = 0 (Opus at
  WebRTC rates counts as transparent) and Bpl = 15: between G.113's figures for codecs with and without packet
  loss concealment, which puts the bands near LiveKit's (its video score leaves excellent at 2 % loss and
  turns poor at 6 %; ours at 2.1 % and 4.8 %).

Bands: excellent MOS >= 4.0 (R ~ 79.4), good >= 3.5 (R ~ 68), poor below; lost is decided by the caller
(nothing heard from the participant for seconds). Figures, at 20 ms RTT and no jitter: no loss 4.36, 2 % 4.02
(excellent up to ~2.1 %), 5 % 3.47 (poor from ~4.8 %), 10 % 2.74. RTT alone: 400 ms 3.83 (good), 600 ms 3.19 (poor).
300 ms RTT with 2 % loss sits on the good/poor boundary: 3.63 (good) on a steady path, 3.50 (just good) with 10 ms
of jitter, 3.37 (poor) with 20 ms.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

R0 = 93.2  # G.107's default R with no impairment (Ro - Is)
END_SYSTEM_DELAY_MS = 80.0
JITTER_BUFFER_FACTOR = 2.0
DELAY_KNEE_MS = 177.3
IE = 0.0
BPL = 15.0
EXCELLENT_MOS = 4.0
GOOD_MOS = 3.5
# Worst first: the order a participant's directions and a smoother's window are compared in.
LEVELS = ("lost", "poor", "good", "excellent")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}
# A rise is shown once the worse level has not been seen for this long (a drop at once): tiles do not flap.
RISE_AFTER_S = 4.0


@dataclass(frozen=True, slots=True)
class LinkSample:
    """What one direction measured over the last interval: loss fraction (0-1), jitter, round-trip time."""

    loss: float
    jitter_ms: float
    rtt_ms: float | None  # None: not measured (no receiver report yet); counts as no network delay


@dataclass(frozen=True, slots=True)
class Score:
    mos: float
    level: str

    def worse_than(self, other: Score) -> bool:
        return (_RANK[self.level], self.mos) < (_RANK[other.level], other.mos)


LOST = Score(1.0, "lost")


def one_way_delay_ms(rtt_ms: float | None, jitter_ms: float) -> float:
    return (rtt_ms or 0.0) / 2 + JITTER_BUFFER_FACTOR * max(jitter_ms, 0.0) + END_SYSTEM_DELAY_MS


def delay_impairment(delay_ms: float) -> float:
    return 0.024 * delay_ms + 0.11 * max(delay_ms - DELAY_KNEE_MS, 0.0)


def loss_impairment(loss: float) -> float:
    percent = min(max(loss, 0.0), 1.0) * 100
    return IE + (95 - IE) * percent / (percent + BPL)


def r_factor(sample: LinkSample) -> float:
    delay = one_way_delay_ms(sample.rtt_ms, sample.jitter_ms)
    return R0 - delay_impairment(delay) - loss_impairment(sample.loss)


def mos_from_r(r: float) -> float:
    """G.107 Annex B; clamped to 1.0-4.5 (the cubic dips just under 1 for R below ~6.5)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return min(max(1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6, 1.0), 4.5)


def level_for_mos(mos: float) -> str:
    if mos >= EXCELLENT_MOS:
        return "excellent"
    return "good" if mos >= GOOD_MOS else "poor"


def score(sample: LinkSample) -> Score:
    mos = mos_from_r(r_factor(sample))
    return Score(mos, level_for_mos(mos))


def worst(scores: Iterable[Score | None]) -> Score | None:
    """The worst of the measured ones (None for a direction with nothing measured: it does not count)."""
    result: Score | None = None
    for item in scores:
        if item is not None and (result is None or item.worse_than(result)):
            result = item
    return result


class QualitySmoother:
    """What a participant's tile shows: the worst score of the last `rise_after_s` seconds.

    So a drop shows at the next sample, and a rise only once every sample for `rise_after_s` has been better:
    a link that is bad one second in three stays shown as bad instead of flapping. An interval with nothing
    measured changes nothing (no news is not good news): the shown score stays until a sample replaces it.
    """

    def __init__(self, rise_after_s: float = RISE_AFTER_S) -> None:
        self.rise_after_s = rise_after_s
        self._window: deque[tuple[float, Score]] = deque()
        self.shown: Score | None = None

    @property
    def level(self) -> str | None:
        return None if self.shown is None else self.shown.level

    def update(self, now: float, sample: Score | None) -> bool:
        """Feed this interval's score (None: nothing measured); True when the shown level changed."""
        if sample is None:
            return False
        self._window.append((now, sample))
        while now - self._window[0][0] >= self.rise_after_s:
            self._window.popleft()
        before = self.level
        self.shown = worst(s for _, s in self._window)
        return self.level != before

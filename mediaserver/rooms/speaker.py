"""Active speaker detection from the RFC 6464 audio-level header extension, without decoding audio."""

from __future__ import annotations

# A level is -dBov (0 loudest, 127 silence). Speech sits around 20-50; background noise above 60.
ACTIVE_LEVEL = 50
# Speech has gaps between syllables: a window counts as speech when this share of its packets is active. Taking
# the mean of every packet instead let a second of speech with pauses (or a short beep) fall under any threshold.
MIN_ACTIVE_SHARE = 0.4
# How often the room asks (in seconds): short enough to highlight a new speaker within a second of their first
# words, long enough that a window holds a dozen 20-ms packets.
SPEAKER_INTERVAL_S = 0.25
# Switch not more often than this, so two people talking at once do not make the highlight flicker.
MIN_HOLD_S = 1.0


class AudioLevel:
    """Accumulates one audio publication's levels between ticks (cheap enough to run per packet)."""

    __slots__ = ("_active", "_count", "_loud_sum", "loudness")

    def __init__(self) -> None:
        self._loud_sum = 0
        self._count = 0
        self._active = 0
        # Mean of (127 - level) over the last window, quiet packets counted as 0; 0 when the window was not speech.
        self.loudness = 0.0

    def add(self, level: int) -> None:
        self._count += 1
        if level <= ACTIVE_LEVEL:
            self._active += 1
            self._loud_sum += 127 - level

    def roll(self) -> float:
        speech = self._count > 0 and self._active >= MIN_ACTIVE_SHARE * self._count
        self.loudness = self._loud_sum / self._count if speech else 0.0
        self._loud_sum = self._count = self._active = 0
        return self.loudness


class SpeakerDetector:
    def __init__(self) -> None:
        self.current: str | None = None
        self._since = -1e9

    def update(self, loudness: dict[str, float], now: float) -> str | None:
        """Feed each participant's loudness for the last interval; returns the new speaker on a change."""
        candidates = {pid: value for pid, value in loudness.items() if value > 0}
        if not candidates:
            return None  # silence keeps the last speaker highlighted, as meeting apps do
        loudest = max(candidates, key=candidates.__getitem__)
        if loudest == self.current or now - self._since < MIN_HOLD_S:
            return None
        self.current = loudest
        self._since = now
        return loudest

"""Active speaker detection from the RFC 6464 audio-level header extension, without decoding audio."""

from __future__ import annotations

# A level is -dBov (0 loudest, 127 silence). Speech sits around 20-50; background noise above 70.
SPEAKING_LEVEL = 60
# Switch only to someone clearly louder, and not more often than this, so the highlight does not flicker.
MIN_HOLD_S = 1.0


class AudioLevel:
    """Accumulates one audio publication's levels between ticks (cheap enough to run per packet)."""

    __slots__ = ("_count", "_loud_sum", "loudness")

    def __init__(self) -> None:
        self._loud_sum = 0
        self._count = 0
        self.loudness = 0.0  # mean of (127 - level) over the last interval; 0 is silence

    def add(self, level: int) -> None:
        self._loud_sum += 127 - level
        self._count += 1

    def roll(self) -> float:
        self.loudness = self._loud_sum / self._count if self._count else 0.0
        self._loud_sum = self._count = 0
        return self.loudness


class SpeakerDetector:
    def __init__(self) -> None:
        self.current: str | None = None
        self._since = -1e9

    def update(self, loudness: dict[str, float], now: float) -> str | None:
        """Feed each participant's loudness for the last interval; returns the new speaker on a change."""
        candidates = {pid: value for pid, value in loudness.items() if value >= 127 - SPEAKING_LEVEL}
        if not candidates:
            return None  # silence keeps the last speaker highlighted, as meeting apps do
        loudest = max(candidates, key=candidates.__getitem__)
        if loudest == self.current or now - self._since < MIN_HOLD_S:
            return None
        self.current = loudest
        self._since = now
        return loudest

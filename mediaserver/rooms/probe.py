"""Bandwidth probing for one subscriber: padding on top of its media, ramped up to a target rate for a moment.

A send-side estimate never grows much past what is actually sent (the estimator caps it near 1.5 x the
acknowledged rate), so a subscriber held on a low layer could never be seen to have room for a higher one.
Before a step up the allocator asks for a probe at the rate that step needs; the padding goes on an RTX
stream (the browser counts it in its feedback and throws it away, and its loss never shows as video loss).
The ramp keeps a probe that hits a cap from filling the bottleneck's queue at once; failed probes back off.
Sans-IO: time in, a number of padding packets out.
"""

from __future__ import annotations

PROBE_S = 0.8
# RTP padding carries at most 255 bytes; with header, SRTP tag and IP/UDP that is ~313 bytes on the wire.
PADDING_BYTES = 255
PADDING_WIRE_BYTES = PADDING_BYTES + 20 + 10 + 28
FIRST_INTERVAL_S = 1.0
MAX_INTERVAL_S = 5.0
# Never more padding than this per probe tick (50 ms): ~1.2 Mbit/s of padding at most.
MAX_PACKETS_PER_TICK = 24


class ProbeController:
    """One probe at a time: `start` it, call `padding_due` often while `active`, then `finish` with the verdict."""

    def __init__(self) -> None:
        self.active = False
        self.target_bps = 0
        self._started_at = 0.0
        self._extra_bps = 0
        self._sent_bytes = 0
        self._interval = FIRST_INTERVAL_S
        self.next_at = 0.0
        self.probes = 0
        self.succeeded = 0
        self.aborted = 0

    def can_start(self, now: float) -> bool:
        return not self.active and now >= self.next_at

    def start(self, now: float, target_bps: int, media_bps: int) -> None:
        """Probe for `target_bps` in all: padding fills what the media (`media_bps`) leaves below it."""
        self.active = True
        self.target_bps = target_bps
        self._extra_bps = max(target_bps - media_bps, 0)
        self._started_at = now
        self._sent_bytes = 0
        self.probes += 1

    def padding_due(self, now: float) -> int:
        """How many padding packets to send now; the probe ends by itself after PROBE_S."""
        if not self.active:
            return 0
        elapsed = now - self._started_at
        if elapsed >= PROBE_S:
            self.active = False
            return 0
        # Linear ramp: by `elapsed` the padding sent should be the integral of extra * t / PROBE_S.
        owed = self._extra_bps * elapsed * elapsed / (2 * PROBE_S) / 8 * 2  # twice the ramp's mean: reach it
        due = int((owed - self._sent_bytes) // PADDING_WIRE_BYTES)
        due = min(max(due, 0), MAX_PACKETS_PER_TICK)
        self._sent_bytes += due * PADDING_WIRE_BYTES
        return due

    def abort(self, now: float) -> None:
        """The estimator saw the queue grow or packets go: stop now, and wait longer before the next."""
        if self.active:
            self.active = False
            self.aborted += 1
            self.finish(now, False)

    def finish(self, now: float, succeeded: bool) -> None:
        if succeeded:
            self.succeeded += 1
            self._interval = FIRST_INTERVAL_S
        else:
            self._interval = min(self._interval * 2, MAX_INTERVAL_S)
        self.next_at = now + self._interval

    def stats(self) -> dict[str, object]:
        return {"probes": self.probes, "succeeded": self.succeeded, "aborted": self.aborted,
                "active": self.active, "target_bps": self.target_bps}

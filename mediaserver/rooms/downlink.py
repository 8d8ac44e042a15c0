"""Per-subscriber downlink control: loss from receiver reports and NACKs moves a step-down counter with hysteresis."""

from __future__ import annotations

import structlog

log = structlog.get_logger(__name__)

LOSS_DOWN = 0.10  # loss above this in two reports in a row: one step down
LOSS_CLEAN = 0.02  # loss at or below this counts as a clean report
HOLD_AFTER_DOWN_S = 8.0  # no step up this soon after a step down (mediasoup holds spatial upgrades 10 s)
CLEAN_FOR_UP_S = 3.0  # this long clean before each step up
# The deepest ladder (3 spatial layers x 2 temporal depths + the base frame rate) has 7 levels: 6 steps down
# reach its floor, and every step beyond would only add 3 s to the recovery.
MAX_STEPS = 6


class DownlinkController:
    """Decides, once per report interval, whether a subscriber's video should step down or up."""

    def __init__(self, participant_id: str) -> None:
        self.participant_id = participant_id
        self.steps_down = 0
        self.lossy_in_a_row = 0
        self.clean_since: float | None = None
        self.last_down_at = -1e9
        self.decisions_down = 0
        self.decisions_up = 0
        self.last_loss = 0.0

    def on_sample(self, loss: float, now: float) -> int:
        """Feed one loss sample (0..1); returns -1 for a step down, +1 for a step up, 0 for no change."""
        self.last_loss = loss
        if loss > LOSS_DOWN:
            self.clean_since = None
            self.lossy_in_a_row += 1
            if self.lossy_in_a_row >= 2 and self.steps_down < MAX_STEPS:
                self.lossy_in_a_row = 0  # the next step needs two fresh reports that see this one's effect
                self.steps_down += 1
                self.last_down_at = now
                self.decisions_down += 1
                log.info("quality_step_down", participant=self.participant_id, loss=round(loss, 3),
                         steps_down=self.steps_down, reason="loss above 10% in two reports in a row")
                return -1
            return 0
        self.lossy_in_a_row = 0
        if loss > LOSS_CLEAN:
            self.clean_since = None
            return 0
        if self.clean_since is None:
            self.clean_since = now
        if (self.steps_down > 0 and now - self.last_down_at >= HOLD_AFTER_DOWN_S
                and now - self.clean_since >= CLEAN_FOR_UP_S):
            self.steps_down -= 1
            self.clean_since = now
            self.decisions_up += 1
            log.info("quality_step_up", participant=self.participant_id, loss=round(loss, 3),
                     steps_down=self.steps_down, reason="loss at most 2% for 3 s")
            return 1
        return 0

    def stats(self) -> dict[str, object]:
        return {"steps_down": self.steps_down, "last_loss": round(self.last_loss, 3),
                "decisions_down": self.decisions_down, "decisions_up": self.decisions_up}
